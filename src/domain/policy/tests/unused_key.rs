//! `decide_unused_key`: an Access Analyzer finding names one key, which is held to the idle
//! limit alone; the user's other keys are left as they are, whatever their age.

use super::*;

const OTHER: &str = "AKIAEXAMPLEOTHER0002";
const IDLE_DAYS: u32 = 30;

fn named() -> UnusedKey {
    UnusedKey {
        access_key_id: id(KEY),
        idle_days: IDLE_DAYS,
    }
}

/// A key other than the named one.
fn other(status: KeyStatus, age_days: i64, last_used_days_ago: Option<i64>) -> AccessKey {
    AccessKey {
        access_key_id: id(OTHER),
        ..key(status, age_days, last_used_days_ago)
    }
}

fn decide_named(
    keys: &[AccessKey],
    tags: &BTreeMap<String, String>,
    policy: &Policy,
    budget: u32,
) -> UserPlan {
    let snapshot = UserSnapshot {
        keys: keys.to_vec(),
        tags: tags.clone(),
    };
    decide_unused_key(&snapshot, NOW, policy, budget, &named())
}

fn verdict_of<'a>(plan: &'a UserPlan, access_key_id: &str) -> &'a KeyDecision {
    plan.keys
        .iter()
        .find(|d| d.key.access_key_id.as_str() == access_key_id)
        .expect("a decision per key")
}

#[test]
fn the_named_key_is_held_to_the_idle_limit_alone() {
    let rows = [
        (
            "idle past the limit, young: deactivated",
            key(KeyStatus::Active, 40, Some(35)),
            Verdict::Deactivate,
        ),
        (
            "never used since created past the limit: deactivated",
            key(KeyStatus::Active, 31, None),
            Verdict::Deactivate,
        ),
        (
            "idle exactly the limit: kept",
            key(KeyStatus::Active, 40, Some(30)),
            Verdict::Hold(Hold::Kept),
        ),
        (
            "very old but used yesterday: kept, its age is the age rule's business",
            key(KeyStatus::Active, 400, Some(1)),
            Verdict::Hold(Hold::Kept),
        ),
    ];
    for (rule, named_key, expected) in rows {
        let plan = decide_named(&[named_key], &tags(&[]), &Policy::default(), 10);
        let decision = verdict_of(&plan, KEY);
        assert_eq!(decision.verdict, expected, "{rule}: {}", decision.reason);
        if expected == Verdict::Deactivate {
            assert!(
                decision.reason.contains("over the 30-day idle limit"),
                "{rule}: {}",
                decision.reason
            );
        }
    }
}

#[test]
fn the_findings_idle_limit_replaces_the_policys_own() {
    let strict = Policy {
        max_key_age_days: 10,
        max_key_idle_days: Some(5),
        ..Policy::default()
    };
    let lax = Policy {
        max_key_idle_days: Some(300),
        ..Policy::default()
    };
    let recently_used = key(KeyStatus::Active, 40, Some(20));
    let plan = decide_named(
        std::slice::from_ref(&recently_used),
        &tags(&[]),
        &strict,
        10,
    );
    assert_eq!(plan.keys[0].verdict, Verdict::Hold(Hold::Kept));
    let idle = key(KeyStatus::Active, 40, Some(35));
    let plan = decide_named(&[idle], &tags(&[]), &lax, 10);
    assert_eq!(plan.keys[0].verdict, Verdict::Deactivate);
}

#[test]
fn other_keys_are_not_named_and_left_alone_however_old() {
    let keys = [
        key(KeyStatus::Active, 40, Some(35)),
        other(KeyStatus::Active, 400, None),
    ];
    let plan = decide_named(&keys, &tags(&[]), &Policy::default(), 10);
    let decision = verdict_of(&plan, OTHER);
    assert_eq!(decision.verdict, Verdict::Hold(Hold::NotNamed));
    assert_eq!(
        decision.reason,
        "not the key the unused-access finding names"
    );
    assert_eq!(decision.age_days, 400);
    assert_eq!(verdict_of(&plan, KEY).verdict, Verdict::Deactivate);
    assert_eq!(plan.actions_used, 1);
}

#[test]
fn a_named_key_the_user_no_longer_has_leaves_every_key_alone() {
    let keys = [other(KeyStatus::Active, 400, None)];
    let plan = decide_named(&keys, &tags(&[]), &Policy::default(), 10);
    assert_eq!(plan.keys[0].verdict, Verdict::Hold(Hold::NotNamed));
    assert_eq!(plan.actions_used, 0);
}

#[test]
fn the_grace_clocks_of_other_inactive_keys_are_kept() {
    let keys = [
        key(KeyStatus::Active, 40, Some(35)),
        other(KeyStatus::Inactive, 400, None),
    ];
    let plan = decide_named(
        &keys,
        &BTreeMap::from([clock_of(OTHER, 3)]),
        &Policy::default(),
        10,
    );
    assert_eq!(
        verdict_of(&plan, OTHER).verdict,
        Verdict::Hold(Hold::NotNamed)
    );
    // The named key's clock is started by whoever deactivates it, so only OTHER's is kept.
    assert_eq!(kept_clocks(&plan), [OTHER]);
}

#[test]
fn the_named_key_goes_through_the_lifecycle_by_mode() {
    let inactive_past_grace = key(KeyStatus::Inactive, 120, Some(100));
    let marked_20_days_ago = BTreeMap::from([marker_days_ago(20)]);
    let rows = [
        (Mode::Delete, inactive_past_grace.clone(), Verdict::Delete),
        (
            Mode::Deactivate,
            inactive_past_grace.clone(),
            Verdict::Hold(Hold::Pending),
        ),
        (
            Mode::Report,
            inactive_past_grace,
            Verdict::Hold(Hold::WouldDelete),
        ),
        (
            Mode::Report,
            key(KeyStatus::Active, 40, Some(35)),
            Verdict::Hold(Hold::WouldDeactivate),
        ),
    ];
    for (mode, named_key, expected) in rows {
        let plan = decide_named(&[named_key], &marked_20_days_ago, &policy(mode), 10);
        assert_eq!(
            plan.keys[0].verdict, expected,
            "{mode:?}: {}",
            plan.keys[0].reason
        );
        assert_eq!(plan.clocks.is_none(), mode == Mode::Report, "{mode:?}");
    }
}

#[test]
fn an_exempt_users_keys_are_all_exempt() {
    let keys = [
        key(KeyStatus::Active, 40, Some(35)),
        other(KeyStatus::Active, 400, None),
    ];
    let plan = decide_named(
        &keys,
        &tags(&[("access-key-remediator:exempt", "true")]),
        &Policy::default(),
        10,
    );
    assert!(
        plan.keys
            .iter()
            .all(|d| d.verdict == Verdict::Hold(Hold::Exempt))
    );
    assert_eq!(plan.clocks, None);
    assert_eq!(plan.actions_used, 0);
}

#[test]
fn the_cap_counts_only_the_named_key() {
    let keys = [
        key(KeyStatus::Active, 40, Some(35)),
        other(KeyStatus::Active, 400, None),
    ];
    let one = decide_named(&keys, &tags(&[]), &Policy::default(), 1);
    assert_eq!(verdict_of(&one, KEY).verdict, Verdict::Deactivate);
    assert_eq!(one.actions_used, 1);

    let spent = decide_named(&keys, &tags(&[]), &Policy::default(), 0);
    let named = verdict_of(&spent, KEY);
    assert_eq!(named.verdict, Verdict::Hold(Hold::Deferred));
    assert!(
        named.reason.contains("MAX_ACTIONS_PER_INVOCATION"),
        "{}",
        named.reason
    );
    assert_eq!(
        verdict_of(&spent, OTHER).verdict,
        Verdict::Hold(Hold::NotNamed)
    );
    assert_eq!(spent.actions_used, 0);
}
