//! Table tests: one row per branch of `decide`, each naming the rule it pins down; those of
//! `decide_unused_key` are in `unused_key`, those of warnings before action in `warnings`.

use super::*;
use crate::domain::exemption::Exemption;
use crate::domain::ids::AccessKeyId;
use crate::domain::marker::{LEGACY_MARKER_PREFIX, STATE_TAG_KEY, parse_instant};
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
        last_used_service: None,
        last_used_region: None,
    }
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The state tag with one clock: `key` deactivated `days` ago.
fn clock_of(key: &str, days: i64) -> (String, String) {
    (
        STATE_TAG_KEY.to_owned(),
        format!("{key}={}", format_instant(days_ago(days))),
    )
}

fn marker_days_ago(days: i64) -> (String, String) {
    clock_of(KEY, days)
}

/// A legacy per-key marker tag of `key`.
fn legacy_marker(key: &str, value: &str) -> (String, String) {
    (format!("{LEGACY_MARKER_PREFIX}{key}"), value.to_owned())
}

fn kept_clocks(plan: &UserPlan) -> Vec<&str> {
    let clocks = plan.clocks.as_ref().expect("a plan that may write clocks");
    clocks.keep.keys().map(AccessKeyId::as_str).collect()
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
            // Not warned about either: warnings are `warnings`' rows.
            policy: Policy {
                warn_before_days: 0,
                ..delete.clone()
            },
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
            tags: BTreeMap::from([(STATE_TAG_KEY.to_owned(), format!("{KEY}=last-tuesday"))]),
            policy: delete.clone(),
            expect: Verdict::Mark,
        },
        Row {
            rule: "a marker days in the future cannot be trusted: the clock restarts now",
            key: key(KeyStatus::Inactive, 120, None),
            tags: with_marker(-3),
            policy: delete.clone(),
            expect: Verdict::Mark,
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
                (&marker_days_ago(60).0, &marker_days_ago(60).1),
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
fn clocks_of_vanished_keys_are_dropped() {
    let plan = decide_on(
        &[key(KeyStatus::Active, 10, None)],
        &BTreeMap::from([clock_of("AKIAGONE000000000000", 3)]),
        NOW,
        &Policy::default(),
        10,
    );
    assert!(kept_clocks(&plan).is_empty());
}

#[test]
fn the_clock_of_a_reactivated_key_within_limits_is_dropped() {
    let plan = decide_on(
        &[key(KeyStatus::Active, 10, None)],
        &with_marker(3),
        NOW,
        &Policy::default(),
        10,
    );
    assert!(kept_clocks(&plan).is_empty());
}

#[test]
fn clocks_still_guarding_an_inactive_key_are_kept() {
    let plan = decide_on(
        &[key(KeyStatus::Inactive, 120, None)],
        &with_marker(3),
        NOW,
        &Policy::default(),
        10,
    );
    assert_eq!(kept_clocks(&plan), [KEY]);
}

#[test]
fn report_mode_and_exempt_users_write_no_clock() {
    let stale = BTreeMap::from([clock_of("AKIAGONE000000000000", 300)]);
    let report = decide_on(&[], &stale, NOW, &policy(Mode::Report), 10);
    assert_eq!(report.clocks, None);

    let mut exempt = stale.clone();
    exempt.insert("access-key-remediator:exempt".into(), "true".into());
    let plan = decide_on(&[], &exempt, NOW, &Policy::default(), 10);
    assert_eq!(plan.clocks, None);
}

#[test]
fn other_tags_are_never_treated_as_clocks() {
    let plan = decide_on(
        &[key(KeyStatus::Inactive, 120, None)],
        &tags(&[("team", "payments"), ("access-key-remediator:note", "x")]),
        NOW,
        &Policy::default(),
        10,
    );
    assert_eq!(plan.keys[0].verdict, Verdict::Mark);
    let clocks = plan.clocks.unwrap();
    assert_eq!(clocks.found, GraceClocks::default());
}

#[test]
fn a_legacy_marker_is_read_as_the_keys_clock() {
    let plan = decide_on(
        &[key(KeyStatus::Inactive, 120, None)],
        &BTreeMap::from([legacy_marker(KEY, &format_instant(days_ago(30)))]),
        NOW,
        &Policy::default(),
        10,
    );
    assert_eq!(plan.keys[0].verdict, Verdict::Delete);
    let clocks = plan.clocks.unwrap();
    assert_eq!(
        clocks.found.legacy_tags,
        [format!("{LEGACY_MARKER_PREFIX}{KEY}")]
    );
}

#[test]
fn a_clock_in_the_future_restarts_with_a_warning() {
    for (minutes_ahead, restarts) in [(4, false), (6, true), (60 * 24 * 365 * 70, true)] {
        let ahead = format_instant(NOW + Duration::minutes(minutes_ahead));
        let plan = decide_on(
            &[key(KeyStatus::Inactive, 120, None)],
            &BTreeMap::from([(STATE_TAG_KEY.to_owned(), format!("{KEY}={ahead}"))]),
            NOW,
            &Policy::default(),
            10,
        );
        let decision = &plan.keys[0];
        if restarts {
            assert_eq!(decision.verdict, Verdict::Mark, "{minutes_ahead}");
            assert!(
                decision.reason.contains("is in the future"),
                "{}",
                decision.reason
            );
            assert_eq!(plan.warnings.len(), 1);
        } else {
            assert_eq!(
                decision.verdict,
                Verdict::Hold(Hold::Pending),
                "{minutes_ahead}"
            );
            assert!(plan.warnings.is_empty());
        }
    }
}

/// Tags enough to fill a user's 50 with the owner's own.
fn owner_tags(count: usize) -> BTreeMap<String, String> {
    (0..count)
        .map(|n| (format!("team-tag-{n}"), "x".to_owned()))
        .collect()
}

#[test]
fn with_every_tag_slot_used_the_key_is_deactivated_but_never_given_a_clock() {
    let full = owner_tags(50);
    let plan = decide_on(
        &[key(KeyStatus::Active, 120, None)],
        &full,
        NOW,
        &Policy::default(),
        10,
    );
    assert_eq!(plan.keys[0].verdict, Verdict::Deactivate);
    assert!(
        plan.keys[0]
            .reason
            .contains("no tag slot for the grace clock (50 of 50 tags used)")
    );
    assert!(!plan.clocks.as_ref().unwrap().tag_slot);

    let inactive = decide_on(
        &[key(KeyStatus::Inactive, 120, None)],
        &full,
        NOW,
        &Policy::default(),
        10,
    );
    assert_eq!(inactive.keys[0].verdict, Verdict::Hold(Hold::Pending));
    assert!(
        inactive.keys[0]
            .reason
            .contains("will not be deleted until one is free")
    );

    let room = decide_on(
        &[key(KeyStatus::Inactive, 120, None)],
        &owner_tags(49),
        NOW,
        &Policy::default(),
        10,
    );
    assert_eq!(room.keys[0].verdict, Verdict::Mark);
}

#[test]
fn a_full_user_with_legacy_markers_makes_room_by_removing_them_first() {
    let mut tags = owner_tags(49);
    tags.extend([legacy_marker(KEY, &format_instant(days_ago(3)))]);
    let plan = decide_on(
        &[key(KeyStatus::Inactive, 120, None)],
        &tags,
        NOW,
        &Policy::default(),
        10,
    );
    let clocks = plan.clocks.unwrap();
    assert!(clocks.tag_slot && clocks.untag_legacy_first);
    assert_eq!(plan.keys[0].verdict, Verdict::Hold(Hold::Pending));
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
    // IAM holds tag keys unique regardless of case: another spelling is the same tag.
    let shouted = tags(&[("Access-Key-Remediator:EXEMPT", "true")]);
    assert!(Exemption::read(&shouted, "access-key-remediator:exempt", today).is_exempt());
    assert_eq!(
        Exemption::read(&tags(&[]), "x", today),
        Exemption::NotExempt
    );
}

#[test]
fn markers_round_trip_to_the_second_in_utc() {
    let at = datetime!(2026-11-02 08:15:30.987 UTC);
    let value = format_instant(at);
    assert_eq!(value, "2026-11-02T08:15:30Z");
    assert_eq!(
        parse_instant(&value),
        Some(datetime!(2026-11-02 08:15:30 UTC))
    );
}

mod unused_key;
mod warnings;
