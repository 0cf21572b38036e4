//! Property tests of warnings before action, on the same generated users as `policy`: a
//! warning goes only to an Active key within the limits and near one, is never read as a grace
//! clock nor starts one, never changes a key write or the action budget, and, its record
//! written back as the function writes it, is given at most once per key however many sweeps
//! follow.
//!
//! The warning record's format is spelt out here (`warned:<AccessKeyId>=<RFC 3339>`, an entry
//! of the state tag), not taken from src/domain/marker.rs. The case count comes from
//! `Config::default()` (PROPTEST_CASES, 256 when unset).

use std::collections::BTreeMap;

use access_key_remediator::domain::ids::AccessKeyId;
use access_key_remediator::domain::marker::format_instant;
use access_key_remediator::domain::policy::{Hold, Mode, Policy, UserPlan, Verdict, decide};
use access_key_remediator::domain::user::{AccessKey, KeyStatus, UserSnapshot};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use time::{Duration, OffsetDateTime};

use crate::policy::{Case, any_case, within_limits};

const STATE_TAG: &str = "access-key-remediator:state";
const WARNING_PREFIX: &str = "warned:";
const TAGS_PER_USER: usize = 50;
const DAY: i64 = 86_400;

/// Whether an Active key within the limits is within `warn_before_days` of one.
fn near_a_limit(key: &AccessKey, now: OffsetDateTime, policy: &Policy) -> bool {
    let window = i64::from(policy.warn_before_days);
    let near =
        |since: OffsetDateTime, limit: u32| now - since > Duration::days(i64::from(limit) - window);
    policy.warn_before_days > 0
        && key.status == KeyStatus::Active
        && (near(key.created, policy.max_key_age_days)
            || policy
                .max_key_idle_days
                .is_some_and(|idle| near(key.last_used.unwrap_or(key.created), idle)))
}

/// The case's tags with warning records added to the state tag, where that takes no tag
/// slot the user did not have: `(key index, seconds before now)`, or junk for a negative index.
fn with_warnings(case: &Case, records: &[(i64, i64)]) -> BTreeMap<String, String> {
    let mut tags = case.snapshot.tags.clone();
    if !tags.contains_key(STATE_TAG) && tags.len() + 1 >= TAGS_PER_USER {
        return tags;
    }
    let keys = &case.snapshot.keys;
    let entries: Vec<String> = records
        .iter()
        .map(|&(index, secs)| match usize::try_from(index) {
            Ok(index) if !keys.is_empty() => {
                let id = &keys[index % keys.len()].access_key_id;
                let at = case.now - Duration::seconds(secs);
                format!("{WARNING_PREFIX}{id}={}", format_instant(at))
            }
            _ => format!("{WARNING_PREFIX}AKIAORPHANWARNING001=not-an-instant"),
        })
        .collect();
    if entries.is_empty() {
        return tags;
    }
    let state = tags.entry(STATE_TAG.to_owned()).or_default();
    *state = format!("{state} {}", entries.join(" ")).trim().to_owned();
    tags
}

fn warning_records() -> impl Strategy<Value = Vec<(i64, i64)>> {
    vec((-1i64..4, -30 * DAY..800 * DAY), 0..=3)
}

fn verdicts(plan: &UserPlan) -> Vec<(&str, Verdict)> {
    plan.keys
        .iter()
        .map(|d| (d.key.access_key_id.as_str(), d.verdict))
        .collect()
}

/// What the function leaves on the user once a plan is carried out and every write succeeds:
/// keys deactivated or deleted, and the state tag rewritten with the clocks and warnings the
/// plan keeps and starts, in the record's own format.
fn carried_out(snapshot: &UserSnapshot, plan: &UserPlan, now: OffsetDateTime) -> UserSnapshot {
    let mut keys = Vec::new();
    for decision in &plan.keys {
        match decision.verdict {
            Verdict::Delete => {}
            Verdict::Deactivate => keys.push(AccessKey {
                status: KeyStatus::Inactive,
                ..decision.key.clone()
            }),
            _ => keys.push(decision.key.clone()),
        }
    }
    let mut tags = snapshot.tags.clone();
    let Some(clocks) = &plan.clocks else {
        return UserSnapshot { keys, tags };
    };
    let mut started = clocks.keep.clone();
    let mut warned = clocks.warned_keep.clone();
    for decision in &plan.keys {
        let id = decision.key.access_key_id.clone();
        match decision.verdict {
            Verdict::Deactivate | Verdict::Mark if clocks.tag_slot => {
                warned.remove(&id);
                started.insert(id, now);
            }
            Verdict::Deactivate => {
                warned.remove(&id);
            }
            Verdict::Warn => {
                warned.insert(id, now);
            }
            Verdict::Delete => {
                started.remove(&id);
                warned.remove(&id);
            }
            _ => {}
        }
    }
    let entries: Vec<String> = started
        .iter()
        .map(|(id, at)| format!("{id}={}", format_instant(*at)))
        .chain(
            warned
                .iter()
                .map(|(id, at)| format!("{WARNING_PREFIX}{id}={}", format_instant(*at))),
        )
        .collect();
    tags.retain(|key, _| !key.starts_with("access-key-remediator:deactivated:"));
    if entries.is_empty() {
        tags.remove(STATE_TAG);
    } else if clocks.tag_slot {
        tags.insert(STATE_TAG.to_owned(), entries.join(" "));
    }
    UserSnapshot { keys, tags }
}

proptest! {
    #![proptest_config(Config::default())]

    /// Only an Active key within the limits and near one is warned, never for an exempt user,
    /// never in report mode (which previews it), never without a tag slot to record it.
    #[test]
    fn a_warning_goes_only_to_an_active_key_within_the_limits_and_near_one(case in any_case()) {
        let plan = case.plan();
        for decision in &plan.keys {
            let key = case.key(decision.key.access_key_id.as_str()).expect("an input key");
            let warned = matches!(decision.verdict, Verdict::Warn | Verdict::Hold(Hold::WouldWarn));
            if warned {
                prop_assert!(within_limits(key, case.now, &case.policy), "{}", decision.reason);
                prop_assert!(near_a_limit(key, case.now, &case.policy), "{}", decision.reason);
                prop_assert!(!case.exempt);
            }
            prop_assert_eq!(
                decision.verdict == Verdict::Warn,
                warned && case.policy.mode != Mode::Report
            );
            if decision.verdict == Verdict::Warn {
                prop_assert!(plan.clocks.as_ref().is_some_and(|c| c.tag_slot));
            }
        }
    }

    /// Turning warnings off changes nothing but the warnings: the same key writes, the same
    /// budget spent, the same clocks kept.
    #[test]
    fn a_warning_never_changes_a_key_write_or_the_budget(case in any_case()) {
        let plan = case.plan();
        let off = Policy { warn_before_days: 0, ..case.policy.clone() };
        let silent = decide(&case.snapshot, case.now, &off, case.budget);
        for ((id, with), (_, without)) in verdicts(&plan).into_iter().zip(verdicts(&silent)) {
            let warned = matches!(with, Verdict::Warn | Verdict::Hold(Hold::WouldWarn));
            let expected = if warned { Verdict::Hold(Hold::Kept) } else { with };
            prop_assert_eq!(without, expected, "{}", id);
        }
        prop_assert_eq!(plan.actions_used, silent.actions_used);
        prop_assert_eq!(
            plan.clocks.as_ref().map(|c| &c.keep),
            silent.clocks.as_ref().map(|c| &c.keep)
        );
    }

    /// Warning records, whatever their dates, are never read as grace clocks: every key write
    /// and every clock kept is what it would be without them, and a key warned before is kept
    /// rather than warned again.
    #[test]
    fn a_warning_record_is_never_read_as_a_grace_clock(
        case in any_case(),
        records in warning_records(),
    ) {
        let plain = case.plan();
        let tags = with_warnings(&case, &records);
        let snapshot = UserSnapshot { keys: case.snapshot.keys.clone(), tags };
        let recorded = decide(&snapshot, case.now, &case.policy, case.budget);
        for ((id, with), (_, without)) in verdicts(&recorded).into_iter().zip(verdicts(&plain)) {
            let rewarned = matches!(without, Verdict::Warn | Verdict::Hold(Hold::WouldWarn));
            if !(rewarned && with == Verdict::Hold(Hold::Kept)) {
                prop_assert_eq!(with, without, "{}", id);
            }
        }
        prop_assert_eq!(recorded.actions_used, plain.actions_used);
        prop_assert_eq!(
            recorded.clocks.as_ref().map(|c| &c.keep),
            plain.clocks.as_ref().map(|c| &c.keep)
        );
        if let Some(clocks) = &recorded.clocks {
            for id in clocks.warned_keep.keys() {
                let key = case.key(id.as_str());
                prop_assert!(key.is_some_and(|k| k.status == KeyStatus::Active), "{}", id);
            }
        }
    }

    /// Sweep after sweep on what the previous one left (its writes all succeeded), a key is
    /// warned at most once; one its owner deleted after the warning leaves no record behind.
    #[test]
    fn a_key_is_warned_at_most_once_across_sweeps(
        case in any_case(),
        steps in vec(0i64..3 * DAY, 2..=5),
        rotated_after in 0usize..4,
    ) {
        let mut snapshot = case.snapshot.clone();
        let mut now = case.now;
        let mut warnings: BTreeMap<AccessKeyId, usize> = BTreeMap::new();
        for (sweep, step) in steps.into_iter().enumerate() {
            let plan = decide(&snapshot, now, &case.policy, case.budget);
            for decision in plan.keys.iter().filter(|d| d.verdict == Verdict::Warn) {
                *warnings.entry(decision.key.access_key_id.clone()).or_default() += 1;
            }
            if let Some(clocks) = &plan.clocks {
                for id in clocks.warned_keep.keys() {
                    prop_assert!(snapshot.keys.iter().any(|k| &k.access_key_id == id));
                }
            }
            snapshot = carried_out(&snapshot, &plan, now);
            if sweep == rotated_after {
                // The owner rotates the first key warned so far: it is deleted.
                let first = warnings.keys().next().cloned();
                snapshot.keys.retain(|k| Some(&k.access_key_id) != first.as_ref());
            }
            now += Duration::seconds(step);
        }
        for (id, count) in &warnings {
            prop_assert!(*count <= 1, "{} warned {} times", id, count);
        }
    }
}

/// Guards the tests above against vacuity: in a fixed-seed sample, keys are warned, warnings
/// previewed, and a key warned by one sweep is kept by the next because of its record.
#[test]
fn the_generated_cases_reach_every_warning_branch() {
    let mut runner = TestRunner::deterministic();
    let strategy = any_case();
    let (mut warned, mut previewed, mut kept_as_warned) = (0, 0, 0);
    for _ in 0..2000 {
        let case = strategy
            .new_tree(&mut runner)
            .expect("no rejection")
            .current();
        let plan = case.plan();
        let count = |verdict| plan.keys.iter().filter(|d| d.verdict == verdict).count();
        warned += count(Verdict::Warn);
        previewed += count(Verdict::Hold(Hold::WouldWarn));
        let next = carried_out(&case.snapshot, &plan, case.now);
        let again = decide(
            &next,
            case.now + Duration::hours(24),
            &case.policy,
            case.budget,
        );
        kept_as_warned += again
            .keys
            .iter()
            .filter(|d| d.verdict == Verdict::Hold(Hold::Kept) && d.reason.contains("warned at"))
            .count();
    }
    assert!(warned > 40, "{warned} warnings in 2000 cases");
    assert!(previewed > 10, "{previewed} previews in 2000 cases");
    assert!(kept_as_warned > 30, "{kept_as_warned} keys kept as warned");
}
