use std::collections::BTreeMap;

use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-03-10 09:00 UTC);
const KEY: &str = "AKIAOLD0000000000001";

fn account() -> AccountId {
    AccountId::parse("123456789012").unwrap()
}

fn call(minutes_ago: i64, name: &str) -> KeyCall {
    KeyCall {
        at: NOW - Duration::minutes(minutes_ago),
        event_name: name.to_owned(),
        event_source: Some("s3.amazonaws.com".to_owned()),
        source_ip: Some("203.0.113.7".to_owned()),
        user_agent: Some("aws-cli/2.15.0".to_owned()),
    }
}

fn key(action: NoticeAction, recent_calls: RecentCalls) -> KeyFacts {
    KeyFacts {
        access_key_id: AccessKeyId::parse(KEY).unwrap(),
        action,
        reason: "120 days old, over the 90-day age limit".to_owned(),
        created: NOW - Duration::days(120),
        last_used: Some(datetime!(2026-03-08 17:45 UTC)),
        last_used_service: Some("s3".to_owned()),
        last_used_region: Some("eu-west-1".to_owned()),
        recent_calls,
    }
}

fn notice_of(keys: &[KeyFacts], policy: &Policy, owner: Option<&str>) -> Notice {
    let account = account();
    compose(&NoticeFacts {
        account: Some(&account),
        user_name: "alice",
        owner,
        keys,
        no_tag_slot: false,
        policy,
        now: NOW,
    })
}

fn calls() -> RecentCalls {
    RecentCalls::Found(vec![call(5, "ListBuckets"), call(60, "GetObject")])
}

#[test]
fn each_fact_of_a_deactivation_is_in_the_text() {
    let notice = notice_of(
        &[key(NoticeAction::Deactivated, calls())],
        &Policy::default(),
        Some("team-a@example.com"),
    );
    let facts = [
        // which key, and why
        "Key AKIAOLD0000000000001 (deactivated): 120 days old, over the 90-day age limit",
        // what happened, and when the deletion comes (14 days' grace by default)
        "Deactivated on 2026-03-10",
        "deleted on or after 2026-03-24, after 14 days inactive",
        // the last use: date, service, region
        "Last used: 2026-03-08 17:45 UTC, s3 in eu-west-1",
        // recent callers: event names, source IP, user agent
        "2026-03-10 08:55 UTC ListBuckets (s3.amazonaws.com) from 203.0.113.7, user agent aws-cli/2.15.0",
        "GetObject",
        // the undo
        "aws iam update-access-key --user-name alice --access-key-id AKIAOLD0000000000001 --status Active",
        // the exemption: the tag, with an end date
        "--tags Key=access-key-remediator:exempt,Value=2026-04-09",
        "YYYY-MM-DD",
        "Owner: team-a@example.com",
        "account 123456789012",
    ];
    for fact in facts {
        assert!(
            notice.text.contains(fact),
            "missing {fact:?} in:\n{}",
            notice.text
        );
    }
}

#[test]
fn what_happens_and_when_follows_the_action_and_the_mode() {
    let deactivate_only = Policy {
        mode: Mode::Deactivate,
        ..Policy::default()
    };
    let idle = Policy {
        max_key_idle_days: Some(30),
        ..Policy::default()
    };
    let within = KeyFacts {
        created: NOW - Duration::days(85),
        last_used: None,
        ..key(NoticeAction::Warned, calls())
    };
    let cases: [(KeyFacts, &Policy, &[&str], &[&str]); 5] = [
        (
            key(NoticeAction::Deactivated, calls()),
            &deactivate_only,
            &["Deactivated on 2026-03-10", "does not delete it"],
            &["deleted on or after"],
        ),
        (
            key(NoticeAction::Deleted, calls()),
            &Policy::default(),
            &["Deleted on 2026-03-10", "cannot be restored"],
            &["update-access-key", "deleted on or after"],
        ),
        // 85 days old: the 90-day limit on 2026-03-15, deletion 14 days later
        (
            within.clone(),
            &Policy::default(),
            &[
                "Nothing is done yet",
                "deactivated on or after 2026-03-15",
                "2026-03-29",
                "rotate the key",
            ],
            &["update-access-key", "Deactivated on"],
        ),
        // never used: the idle limit counts from creation, 85 days ago, so it is already due
        (within, &idle, &["deactivated on or after 2026-01-14"], &[]),
        (
            key(NoticeAction::Deactivated, RecentCalls::Found(Vec::new())),
            &Policy::default(),
            &["no recent calls found"],
            &["Recent calls (CloudTrail"],
        ),
    ];
    for (key, policy, present, absent) in cases {
        let notice = notice_of(std::slice::from_ref(&key), policy, None);
        for fact in present {
            assert!(
                notice.text.contains(fact),
                "missing {fact:?} in:\n{}",
                notice.text
            );
        }
        for fact in absent {
            assert!(
                !notice.text.contains(fact),
                "unexpected {fact:?} in:\n{}",
                notice.text
            );
        }
    }
}

#[test]
fn a_failed_lookup_a_key_never_used_and_no_tag_slot_are_said_plainly() {
    let account = account();
    let failed = KeyFacts {
        last_used: None,
        last_used_service: None,
        last_used_region: None,
        ..key(
            NoticeAction::Deactivated,
            RecentCalls::Unavailable("CloudTrail LookupEvents failed: AccessDenied".into()),
        )
    };
    let notice = compose(&NoticeFacts {
        account: Some(&account),
        user_name: "alice",
        owner: None,
        keys: &[failed],
        no_tag_slot: true,
        policy: &Policy::default(),
        now: NOW,
    });
    for fact in [
        "CloudTrail could not be read (CloudTrail LookupEvents failed: AccessDenied)",
        "Last used: never",
        "not deleted until the user has a free tag slot",
    ] {
        assert!(
            notice.text.contains(fact),
            "missing {fact:?} in:\n{}",
            notice.text
        );
    }
    assert!(!notice.text.contains("Owner:"), "{}", notice.text);
}

#[test]
fn only_the_last_few_calls_are_listed() {
    let many = RecentCalls::Found((0..20).map(|i| call(i, &format!("Call{i:02}"))).collect());
    let notice = notice_of(
        &[key(NoticeAction::Deactivated, many)],
        &Policy::default(),
        None,
    );
    assert!(notice.text.contains("Call04"), "{}", notice.text);
    assert!(!notice.text.contains("Call05"), "{}", notice.text);
}

#[test]
fn attributes_name_the_account_user_owner_and_each_action_once() {
    let keys = [
        key(NoticeAction::Deleted, calls()),
        KeyFacts {
            access_key_id: AccessKeyId::parse("AKIAOTHER00000000002").unwrap(),
            ..key(NoticeAction::Deactivated, calls())
        },
        KeyFacts {
            access_key_id: AccessKeyId::parse("AKIATHIRD00000000003").unwrap(),
            ..key(NoticeAction::Deactivated, calls())
        },
    ];
    let notice = notice_of(&keys, &Policy::default(), Some("team-a"));
    assert_eq!(
        notice.attributes,
        NoticeAttributes {
            account: "123456789012".into(),
            user: "alice".into(),
            owner: Some("team-a".into()),
            actions: vec![NoticeAction::Deactivated, NoticeAction::Deleted],
        }
    );
    assert_eq!(
        notice.subject,
        "Access keys of alice in 123456789012: deactivated, deleted"
    );
    for id in [
        "AKIAOLD0000000000001",
        "AKIAOTHER00000000002",
        "AKIATHIRD00000000003",
    ] {
        assert!(
            notice.text.contains(&format!("Key {id}")),
            "{}",
            notice.text
        );
    }
}

#[test]
fn the_subject_stays_within_what_sns_accepts() {
    let long_name = "a".repeat(64) + "@example.com";
    let account = account();
    let notice = compose(&NoticeFacts {
        account: Some(&account),
        user_name: &long_name,
        owner: None,
        keys: &[key(NoticeAction::Warned, calls())],
        no_tag_slot: false,
        policy: &Policy::default(),
        now: NOW,
    });
    assert!(notice.subject.len() < 100, "{}", notice.subject);
    assert!(notice.subject.is_ascii() && !notice.subject.contains('\n'));
    assert!(notice.subject.ends_with("..."), "{}", notice.subject);
}

#[test]
fn the_owner_is_the_tag_else_an_email_user_name_else_nobody() {
    let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let cases = [
        (
            "alice",
            tags(&[("owner", "team-a@example.com")]),
            "owner",
            Some("team-a@example.com"),
        ),
        (
            "alice",
            tags(&[("Owner", " team-a ")]),
            "owner",
            Some("team-a"),
        ),
        ("alice", tags(&[("OWNER", "x")]), "Owner", Some("x")),
        ("alice", tags(&[("team", "a")]), "team", Some("a")),
        (
            "bob@example.com",
            tags(&[]),
            "owner",
            Some("bob@example.com"),
        ),
        (
            "bob@example.com",
            tags(&[("owner", "")]),
            "owner",
            Some("bob@example.com"),
        ),
        (
            "bob@example.com",
            tags(&[("owner", "ops")]),
            "owner",
            Some("ops"),
        ),
        ("alice", tags(&[]), "owner", None),
        ("alice", tags(&[("team", "a")]), "owner", None),
        ("ci@build", tags(&[]), "owner", None),
    ];
    for (user, tags, key, owner) in cases {
        assert_eq!(
            owner_of(user, &tags, key).as_deref(),
            owner,
            "{user} {tags:?} {key}"
        );
    }
}

#[test]
fn email_addresses_are_told_from_other_names() {
    for good in ["a@example.com", "first.last+tag@sub.example.org"] {
        assert!(is_email(good), "{good}");
    }
    for bad in [
        "alice",
        "a@b",
        "@example.com",
        "a@@example.com",
        "a b@example.com",
        "a@example.",
        "a@.com",
    ] {
        assert!(!is_email(bad), "{bad}");
    }
}
