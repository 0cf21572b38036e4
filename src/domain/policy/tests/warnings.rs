//! Warnings before action: an Active key within WARN_BEFORE_DAYS of a limit is warned once,
//! the warning recorded in the state tag; a warning is never a grace clock nor a key write.

use super::*;
use crate::domain::marker::WARNING_PREFIX;

const OTHER: &str = "AKIAEXAMPLEOTHER0002";

/// The state tag with one warning record: `key` warned `days` ago.
fn warned(key: &str, days: i64) -> (String, String) {
    let value = format!("{WARNING_PREFIX}{key}={}", format_instant(days_ago(days)));
    (STATE_TAG_KEY.to_owned(), value)
}

fn with_warning(days: i64) -> BTreeMap<String, String> {
    BTreeMap::from([warned(KEY, days)])
}

fn warned_kept(plan: &UserPlan) -> Vec<&str> {
    let clocks = plan
        .clocks
        .as_ref()
        .expect("a plan that may write the state tag");
    clocks.warned_keep.keys().map(AccessKeyId::as_str).collect()
}

fn other(status: KeyStatus, age_days: i64) -> AccessKey {
    AccessKey {
        access_key_id: id(OTHER),
        ..key(status, age_days, Some(1))
    }
}

#[test]
fn each_branch_of_the_warning_gives_its_verdict() {
    let delete = policy(Mode::Delete);
    let idle_60 = Policy {
        max_key_idle_days: Some(60),
        ..policy(Mode::Delete)
    };
    let exempt = tags(&[("access-key-remediator:exempt", "true")]);
    let rows = vec![
        Row {
            rule: "an active key just inside the 7-day window is warned",
            key: key(KeyStatus::Active, 84, Some(1)),
            tags: tags(&[]),
            policy: delete.clone(),
            expect: Verdict::Warn,
        },
        Row {
            rule: "a key exactly 7 days before the limit is not yet in the window",
            key: key(KeyStatus::Active, 83, Some(1)),
            tags: tags(&[]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "a key exactly at the limit is within it, and warned",
            key: key(KeyStatus::Active, 90, Some(1)),
            tags: tags(&[]),
            policy: delete.clone(),
            expect: Verdict::Warn,
        },
        Row {
            rule: "a key already warned is kept: a warning is sent once per key",
            key: key(KeyStatus::Active, 88, Some(1)),
            tags: with_warning(3),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "a warning record that does not parse is no record: warned again",
            key: key(KeyStatus::Active, 88, Some(1)),
            tags: tags(&[(STATE_TAG_KEY, "warned:AKIAEXAMPLEKEY000001=soon")]),
            policy: delete.clone(),
            expect: Verdict::Warn,
        },
        Row {
            rule: "report mode previews the warning",
            key: key(KeyStatus::Active, 85, Some(1)),
            tags: tags(&[]),
            policy: policy(Mode::Report),
            expect: Verdict::Hold(Hold::WouldWarn),
        },
        Row {
            rule: "deactivate mode warns as delete mode does",
            key: key(KeyStatus::Active, 85, Some(1)),
            tags: tags(&[]),
            policy: policy(Mode::Deactivate),
            expect: Verdict::Warn,
        },
        Row {
            rule: "WARN_BEFORE_DAYS=0 turns warnings off",
            key: key(KeyStatus::Active, 89, Some(1)),
            tags: tags(&[]),
            policy: Policy {
                warn_before_days: 0,
                ..delete.clone()
            },
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "an inactive key within the limits is not warned about",
            key: key(KeyStatus::Inactive, 85, Some(1)),
            tags: tags(&[]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "a key near the idle limit is warned when that rule is on",
            key: key(KeyStatus::Active, 20, Some(55)),
            tags: tags(&[]),
            policy: idle_60.clone(),
            expect: Verdict::Warn,
        },
        Row {
            rule: "a never-used key is idle from its creation",
            key: key(KeyStatus::Active, 58, None),
            tags: tags(&[]),
            policy: idle_60.clone(),
            expect: Verdict::Warn,
        },
        Row {
            rule: "the same key is not warned with the idle rule off",
            key: key(KeyStatus::Active, 20, Some(55)),
            tags: tags(&[]),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "a key used recently is far from the idle limit",
            key: key(KeyStatus::Active, 20, Some(50)),
            tags: tags(&[]),
            policy: idle_60.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "an exempt user gets no warning",
            key: key(KeyStatus::Active, 85, Some(1)),
            tags: exempt,
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Exempt),
        },
        Row {
            rule: "with no tag slot to record it, no warning is sent (it would go out daily)",
            key: key(KeyStatus::Active, 85, Some(1)),
            tags: owner_tags(50),
            policy: delete.clone(),
            expect: Verdict::Hold(Hold::Kept),
        },
        Row {
            rule: "a warned key that goes over the limit is deactivated as any other",
            key: key(KeyStatus::Active, 91, Some(1)),
            tags: with_warning(7),
            policy: delete.clone(),
            expect: Verdict::Deactivate,
        },
        Row {
            rule: "a warning record is no grace clock: an inactive key with one is marked",
            key: key(KeyStatus::Inactive, 120, None),
            tags: with_warning(60),
            policy: delete.clone(),
            expect: Verdict::Mark,
        },
    ];
    for row in rows {
        let plan = decide_on(&[row.key], &row.tags, NOW, &row.policy, 10);
        assert_eq!(plan.keys[0].verdict, row.expect, "{}", row.rule);
    }
}

#[test]
fn the_reason_says_which_limit_is_near_when_and_whether_it_was_warned() {
    let plan = decide_on(
        &[key(KeyStatus::Active, 85, Some(1))],
        &tags(&[]),
        NOW,
        &Policy::default(),
        10,
    );
    let reaches = format_instant(days_ago(85) + Duration::days(90));
    assert_eq!(
        plan.keys[0].reason,
        format!("active, within limits: reaches the 90-day age limit on {reaches}, in 5 days")
    );

    let plan = decide_on(
        &[key(KeyStatus::Active, 88, Some(1))],
        &with_warning(3),
        NOW,
        &Policy::default(),
        10,
    );
    let at = format_instant(days_ago(3));
    assert!(
        plan.keys[0].reason.ends_with(&format!("; warned at {at}")),
        "{}",
        plan.keys[0].reason
    );

    let idle = Policy {
        max_key_idle_days: Some(60),
        ..Policy::default()
    };
    // Over the idle limit in 2 days, the age limit in 3: the nearer one is named.
    let plan = decide_on(
        &[key(KeyStatus::Active, 87, Some(58))],
        &tags(&[]),
        NOW,
        &idle,
        10,
    );
    assert!(
        plan.keys[0].reason.contains("the 60-day idle limit")
            && plan.keys[0].reason.contains("in 2 days"),
        "{}",
        plan.keys[0].reason
    );
}

#[test]
fn warnings_never_spend_the_action_budget() {
    let keys = [
        key(KeyStatus::Active, 86, Some(1)),
        other(KeyStatus::Active, 120),
    ];
    let plan = decide_on(&keys, &tags(&[]), NOW, &Policy::default(), 0);
    let verdicts: Vec<_> = plan.keys.iter().map(|d| d.verdict).collect();
    assert_eq!(verdicts, [Verdict::Hold(Hold::Deferred), Verdict::Warn]);
    assert_eq!(plan.actions_used, 0);

    let report = decide_on(&keys, &tags(&[]), NOW, &policy(Mode::Report), 1);
    let verdicts: Vec<_> = report.keys.iter().map(|d| d.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Hold(Hold::WouldDeactivate),
            Verdict::Hold(Hold::WouldWarn)
        ]
    );
    assert_eq!(report.actions_used, 1);
}

#[test]
fn the_record_of_a_key_still_active_is_kept_and_any_other_dropped() {
    let both = BTreeMap::from([(
        STATE_TAG_KEY.to_owned(),
        format!(
            "{WARNING_PREFIX}{KEY}={} {WARNING_PREFIX}{OTHER}={}",
            format_instant(days_ago(2)),
            format_instant(days_ago(2))
        ),
    )]);
    let still_warned = decide_on(
        &[
            key(KeyStatus::Active, 88, Some(1)),
            other(KeyStatus::Active, 88),
        ],
        &both,
        NOW,
        &Policy::default(),
        10,
    );
    assert_eq!(warned_kept(&still_warned), [KEY, OTHER]);

    // The owner rotated the other key (deleted it) and deactivated this one by hand.
    let rotated = decide_on(
        &[key(KeyStatus::Inactive, 88, Some(1))],
        &both,
        NOW,
        &Policy::default(),
        10,
    );
    assert!(warned_kept(&rotated).is_empty());
    assert!(kept_clocks(&rotated).is_empty());
}

#[test]
fn a_deferred_deactivation_keeps_the_warning_record() {
    // Carrying out a deactivation drops the record (apply replaces it with the grace clock);
    // one the cap holds back leaves the key Active and warned.
    let plan = decide_on(
        &[key(KeyStatus::Active, 95, Some(1))],
        &with_warning(6),
        NOW,
        &Policy::default(),
        0,
    );
    assert_eq!(plan.keys[0].verdict, Verdict::Hold(Hold::Deferred));
    assert_eq!(warned_kept(&plan), [KEY]);
}

#[test]
fn report_mode_and_exempt_users_record_no_warning() {
    let report = decide_on(
        &[key(KeyStatus::Active, 85, Some(1))],
        &tags(&[]),
        NOW,
        &policy(Mode::Report),
        10,
    );
    assert_eq!(report.clocks, None);
}

#[test]
fn the_unused_key_path_never_warns_and_keeps_the_records_it_finds() {
    let snapshot = UserSnapshot {
        keys: vec![
            // The named key: 25 days unused, 5 from the analyzer's 30.
            key(KeyStatus::Active, 40, Some(25)),
            other(KeyStatus::Active, 86),
        ],
        tags: BTreeMap::from([warned(OTHER, 1)]),
    };
    let unused = UnusedKey {
        access_key_id: id(KEY),
        idle_days: 30,
    };
    let plan = decide_unused_key(&snapshot, NOW, &Policy::default(), 10, &unused);
    let verdicts: Vec<_> = plan
        .keys
        .iter()
        .map(|d| (d.key.access_key_id.as_str(), d.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            (OTHER, Verdict::Hold(Hold::NotNamed)),
            (KEY, Verdict::Hold(Hold::Kept)),
        ]
    );
    assert_eq!(warned_kept(&plan), [OTHER]);
}
