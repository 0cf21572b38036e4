//! Table tests: one row per branch of `decide`, each naming the rule it pins down.

use super::*;
use crate::domain::ids::AccessKeyId;
use time::macros::{date, datetime};

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);
const KEY: &str = "AKIAEXAMPLEKEY000001";

fn days_ago(days: i64) -> OffsetDateTime {
    NOW - Duration::days(days)
}

fn id(text: &str) -> AccessKeyId {
    AccessKeyId::parse(text).unwrap()
}

/// `decide` on a snapshot of these keys and tags.
fn decide_on(
    keys: &[AccessKey],
    tags: &BTreeMap<String, String>,
    now: OffsetDateTime,
    policy: &Policy,
    budget: u32,
) -> UserPlan {
    let snapshot = UserSnapshot {
        keys: keys.to_vec(),
        tags: tags.clone(),
    };
    decide(&snapshot, now, policy, budget)
}

fn key(status: KeyStatus, age_days: i64, last_used_days_ago: Option<i64>) -> AccessKey {
    AccessKey {
        access_key_id: id(KEY),
        status,
        created: days_ago(age_days),
        last_used: last_used_days_ago.map(days_ago),
    }
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn marker_days_ago(days: i64) -> (String, String) {
    (marker_tag_key(&id(KEY)), marker_tag_value(days_ago(days)))
}

fn policy(mode: Mode) -> Policy {
    Policy {
        mode,
        ..Policy::default()
    }
}

struct Row {
    rule: &'static str,
    key: AccessKey,
    tags: BTreeMap<String, String>,
    policy: Policy,
    expect: Verdict,
}

fn with_marker(days: i64) -> BTreeMap<String, String> {
    BTreeMap::from([marker_days_ago(days)])
}

#[test]
fn each_branch_of_the_key_lifecycle_gives_its_verdict() {
    let delete = policy(Mode::Delete);
    let idle_60 = Policy {
        max_key_idle_days: Some(60),
        ..policy(Mode::Delete)
    };
    let rows = vec![
        Row {
            rule: "an active key under the age limit is kept",
            key: key(KeyStatus::Active, 10, Some(1)),
            tags: tags(&[]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "a key exactly at the age limit is not over it",
            key: key(KeyStatus::Active, 90, Some(1)),
            tags: tags(&[]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "an active key over the age limit is deactivated",
            key: key(KeyStatus::Active, 120, Some(1)),
            tags: tags(&[]),
            policy: delete.clone(),
            expect: Verdict::Deactivate,
        },
        Row {
            rule: "an active over-age key with an old marker is deactivated, not deleted",
            key: key(KeyStatus::Active, 120, None),
            tags: with_marker(30),
            policy: delete.clone(),
            expect: Verdict::Deactivate,
        },
        Row {
            rule: "an inactive over-age key without a marker is marked",
            key: key(KeyStatus::Inactive, 120, None),
            tags: tags(&[]),
            policy: delete.clone(),
            expect: Verdict::Mark,
        },
        Row {
            rule: "an inactive over-age key inside the grace period is pending",
            key: key(KeyStatus::Inactive, 120, None),
            tags: with_marker(5),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Pending),
        },
        Row {
            rule: "a marker exactly at the grace period is still pending",
            key: key(KeyStatus::Inactive, 120, None),
            tags: with_marker(14),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Pending),
        },
        Row {
            rule: "an inactive key past the grace period is deleted",
            key: key(KeyStatus::Inactive, 120, Some(40)),
            tags: with_marker(20),
            policy: delete.clone(),
            expect: Verdict::Delete,
        },
        Row {
            rule: "a key used after its marker restarts the grace clock",
            key: key(KeyStatus::Inactive, 120, Some(3)),
            tags: with_marker(20),
            policy: delete.clone(),
            expect: Verdict::Mark,
        },
        Row {
            rule: "a marker older than its key restarts the grace clock",
            key: key(KeyStatus::Inactive, 100, None),
            tags: with_marker(200),
            policy: delete.clone(),
            expect: Verdict::Mark,
        },
        Row {
            rule: "an unreadable marker restarts the grace clock",
            key: key(KeyStatus::Inactive, 120, None),
            tags: tags(&[(&marker_tag_key(&id(KEY)), "last tuesday")]),
            policy: delete.clone(),
            expect: Verdict::Mark,
        },
        Row {
            rule: "a marker in the future is pending",
            key: key(KeyStatus::Inactive, 120, None),
            tags: with_marker(-3),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Pending),
        },
        Row {
            rule: "an inactive key within limits is kept, marker or not",
            key: key(KeyStatus::Inactive, 30, None),
            tags: with_marker(20),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "an idle young key is left alone when the idle rule is off",
            key: key(KeyStatus::Active, 80, Some(79)),
            tags: tags(&[]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "an idle young key is deactivated when the idle rule is on",
            key: key(KeyStatus::Active, 80, Some(79)),
            tags: tags(&[]),
            policy: idle_60.clone(),
            expect: Verdict::Deactivate,
        },
        Row {
            rule: "a never-used key is idle from its creation date",
            key: key(KeyStatus::Active, 61, None),
            tags: tags(&[]),
            policy: idle_60.clone(),
            expect: Verdict::Deactivate,
        },
        Row {
            rule: "a recently used young key is kept under the idle rule",
            key: key(KeyStatus::Active, 80, Some(2)),
            tags: tags(&[]),
            policy: idle_60.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "report mode previews a deactivation",
            key: key(KeyStatus::Active, 120, None),
            tags: tags(&[]),
            policy: policy(Mode::Report),
            expect: Verdict::Hold(Hold::WouldDeactivate),
        },
        Row {
            rule: "report mode previews a deletion",
            key: key(KeyStatus::Inactive, 120, None),
            tags: with_marker(20),
            policy: policy(Mode::Report),
            expect: Verdict::Hold(Hold::WouldDelete),
        },
        Row {
            rule: "report mode does not mark",
            key: key(KeyStatus::Inactive, 120, None),
            tags: tags(&[]),
            policy: policy(Mode::Report),
            expect: Verdict::Hold(Hold::Pending),
        },
        Row {
            rule: "deactivate mode deactivates",
            key: key(KeyStatus::Active, 120, None),
            tags: tags(&[]),
            policy: policy(Mode::Deactivate),
            expect: Verdict::Deactivate,
        },
        Row {
            rule: "deactivate mode marks",
            key: key(KeyStatus::Inactive, 120, None),
            tags: tags(&[]),
            policy: policy(Mode::Deactivate),
            expect: Verdict::Mark,
        },
        Row {
            rule: "deactivate mode never deletes, even past the grace period",
            key: key(KeyStatus::Inactive, 220, None),
            tags: with_marker(200),
            policy: policy(Mode::Deactivate),
            expect: Verdict::Hold(Hold::Pending),
        },
        Row {
            rule: "an exempt user's over-age key is exempt",
            key: key(KeyStatus::Active, 400, None),
            tags: tags(&[("access-key-remediator:exempt", "true")]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Exempt),
        },
        Row {
            rule: "an exemption is case-insensitive",
            key: key(KeyStatus::Active, 400, None),
            tags: tags(&[("access-key-remediator:exempt", "TRUE")]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Exempt),
        },
        Row {
            rule: "an exemption dated today still holds",
            key: key(KeyStatus::Active, 400, None),
            tags: tags(&[("access-key-remediator:exempt", "2026-11-22")]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Exempt),
        },
        Row {
            rule: "an exemption dated yesterday has lapsed",
            key: key(KeyStatus::Active, 400, None),
            tags: tags(&[("access-key-remediator:exempt", "2026-11-21")]),
            policy: delete.clone(),
            expect: Verdict::Deactivate,
        },
        Row {
            rule: "an unrecognised exemption value still exempts",
            key: key(KeyStatus::Active, 400, None),
            tags: tags(&[("access-key-remediator:exempt", "until the migration")]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Exempt),
        },
        Row {
            rule: "an exempt user's key past its grace period is not deleted",
            key: key(KeyStatus::Inactive, 400, None),
            tags: tags(&[
                ("access-key-remediator:exempt", "true"),
                (&marker_tag_key(&id(KEY)), &marker_tag_value(days_ago(60))),
            ]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Exempt),
        },
        Row {
            rule: "the exemption tag key is configurable",
            key: key(KeyStatus::Active, 400, None),
            tags: tags(&[("security:exempt", "true")]),
            policy: Policy {
                exempt_tag_key: "security:exempt".into(),
                ..delete.clone()
            },
            expect: Verdict::Hold(Hold::Exempt),
        },
        Row {
            rule: "the age limit is configurable",
            key: key(KeyStatus::Active, 50, Some(1)),
            tags: tags(&[]),
            policy: Policy {
                max_key_age_days: 45,
                ..delete.clone()
            },
            expect: Verdict::Deactivate,
        },
        Row {
            rule: "the grace period is configurable",
            key: key(KeyStatus::Inactive, 120, None),
            tags: with_marker(20),
            policy: Policy {
                delete_after_inactive_days: 30,
                ..delete.clone()
            },
            expect: Verdict::Hold(Hold::Pending),
        },
    ];

    for row in rows {
        let plan = decide_on(
            std::slice::from_ref(&row.key),
            &row.tags,
            NOW,
            &row.policy,
            u32::MAX,
        );
        assert_eq!(plan.keys.len(), 1, "{}", row.rule);
        let decision = &plan.keys[0];
        assert_eq!(
            decision.verdict, row.expect,
            "{}: reason was {:?}",
            row.rule, decision.reason
        );
        assert!(!decision.reason.is_empty(), "{}: no reason", row.rule);
    }
}

#[test]
fn the_reason_says_why_a_key_was_deactivated() {
    let plan = decide_on(
        &[key(KeyStatus::Active, 120, None)],
        &tags(&[]),
        NOW,
        &Policy::default(),
        10,
    );
    assert_eq!(
        plan.keys[0].reason,
        "active, 120 days old, over the 90-day age limit"
    );
    assert_eq!(plan.keys[0].age_days, 120);
}

#[test]
fn keys_past_the_action_budget_are_deferred_oldest_first() {
    let keys = vec![
        AccessKey {
            access_key_id: id("AKIAYOUNGER000000001"),
            ..key(KeyStatus::Active, 100, None)
        },
        AccessKey {
            access_key_id: id("AKIAOLDER00000000002"),
            ..key(KeyStatus::Active, 200, None)
        },
    ];
    let plan = decide_on(&keys, &tags(&[]), NOW, &Policy::default(), 1);
    let verdicts: Vec<_> = plan
        .keys
        .iter()
        .map(|d| (d.key.access_key_id.as_str(), d.verdict))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("AKIAOLDER00000000002", Verdict::Deactivate),
            ("AKIAYOUNGER000000001", Verdict::Hold(Hold::Deferred)),
        ]
    );
    assert_eq!(plan.actions_used, 1);
    assert!(plan.keys[1].reason.contains("MAX_ACTIONS_PER_INVOCATION"));
}

#[test]
fn marking_does_not_spend_the_action_budget() {
    let plan = decide_on(
        &[key(KeyStatus::Inactive, 120, None)],
        &tags(&[]),
        NOW,
        &Policy::default(),
        0,
    );
    assert_eq!(plan.keys[0].verdict, Verdict::Mark);
    assert_eq!(plan.actions_used, 0);
}

#[test]
fn report_mode_previews_count_against_the_budget_like_real_actions() {
    let plan = decide_on(
        &[key(KeyStatus::Active, 120, None)],
        &tags(&[]),
        NOW,
        &policy(Mode::Report),
        0,
    );
    assert_eq!(plan.keys[0].verdict, Verdict::Hold(Hold::Deferred));
}

#[test]
fn markers_of_vanished_keys_are_stale() {
    let gone = marker_tag_key(&id("AKIAGONE000000000000"));
    let plan = decide_on(
        &[key(KeyStatus::Active, 10, None)],
        &tags(&[(&gone, &marker_tag_value(days_ago(3)))]),
        NOW,
        &Policy::default(),
        10,
    );
    assert_eq!(plan.stale_markers, vec![gone]);
}

#[test]
fn the_marker_of_a_reactivated_key_within_limits_is_stale() {
    let plan = decide_on(
        &[key(KeyStatus::Active, 10, None)],
        &with_marker(3),
        NOW,
        &Policy::default(),
        10,
    );
    assert_eq!(plan.stale_markers, vec![marker_tag_key(&id(KEY))]);
}

#[test]
fn markers_still_guarding_an_inactive_key_are_not_stale() {
    let plan = decide_on(
        &[key(KeyStatus::Inactive, 120, None)],
        &with_marker(3),
        NOW,
        &Policy::default(),
        10,
    );
    assert!(plan.stale_markers.is_empty());
}

#[test]
fn report_mode_and_exempt_users_leave_stale_markers_in_place() {
    let gone = marker_tag_key(&id("AKIAGONE000000000000"));
    let stale = tags(&[(&gone, "2026-01-01T00:00:00Z")]);
    let report = decide_on(&[], &stale, NOW, &policy(Mode::Report), 10);
    assert!(report.stale_markers.is_empty());

    let mut exempt = stale.clone();
    exempt.insert("access-key-remediator:exempt".into(), "true".into());
    let plan = decide_on(&[], &exempt, NOW, &Policy::default(), 10);
    assert!(plan.stale_markers.is_empty());
}

#[test]
fn other_tags_are_never_treated_as_markers() {
    let plan = decide_on(
        &[],
        &tags(&[("team", "payments"), ("access-key-remediator:note", "x")]),
        NOW,
        &Policy::default(),
        10,
    );
    assert!(plan.stale_markers.is_empty());
}

#[test]
fn the_exemption_tag_reads_as_documented() {
    let today = date!(2026 - 11 - 22);
    let read = |value: &str| Exemption::read(&tags(&[("x", value)]), "x", today);
    assert_eq!(read("true"), Exemption::Exempt { until: None });
    assert_eq!(read(" True "), Exemption::Exempt { until: None });
    assert_eq!(
        read("2027-01-31"),
        Exemption::Exempt {
            until: Some(date!(2027 - 01 - 31))
        }
    );
    assert_eq!(
        read("2026-01-31"),
        Exemption::Expired {
            until: date!(2026 - 01 - 31)
        }
    );
    assert_eq!(
        read("false"),
        Exemption::Unrecognised {
            value: "false".into()
        }
    );
    assert!(read("31/01/2027").is_exempt());
    assert_eq!(
        Exemption::read(&tags(&[]), "x", today),
        Exemption::NotExempt
    );
}

#[test]
fn markers_round_trip_to_the_second_in_utc() {
    let at = datetime!(2026-11-02 08:15:30.987 UTC);
    let value = marker_tag_value(at);
    assert_eq!(value, "2026-11-02T08:15:30Z");
    assert_eq!(
        marker_tag_key(&id("AKIAEXAMPLEKEY000001")),
        "access-key-remediator:deactivated:AKIAEXAMPLEKEY000001"
    );
}
