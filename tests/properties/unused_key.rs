//! Property tests of `decide_unused_key`, on the same generated users as `policy`: an Access
//! Analyzer finding names one key, and whatever the user's other keys, tags, clock, policy
//! and budget, no other key is ever acted on, an Active key is never deleted, and the named
//! key is decided exactly as `decide` would decide it under the idle limit alone.
//!
//! The case count comes from `Config::default()` (PROPTEST_CASES, 256 when unset).

use std::collections::BTreeMap;

use access_key_remediator::domain::ids::AccessKeyId;
use access_key_remediator::domain::policy::{
    Hold, Policy, UnusedKey, UserPlan, Verdict, decide, decide_unused_key,
};
use access_key_remediator::domain::user::{KeyStatus, UserSnapshot};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use crate::policy::{Case, any_case, writes};

/// A key id no generated key has: theirs are `AKIA` and 16 letters and digits, no `_`.
const ABSENT_KEY: &str = "AKIA_NOT_IN_SNAPSHOT";

/// A case, the key its finding names (one of the user's, or one the user no longer has), and
/// the finding's idle limit (often the policy's own, so the generated last uses straddle it).
#[derive(Debug, Clone)]
struct Finding {
    case: Case,
    unused: UnusedKey,
}

impl Finding {
    fn plan(&self) -> UserPlan {
        let case = &self.case;
        decide_unused_key(
            &case.snapshot,
            case.now,
            &case.policy,
            case.budget,
            &self.unused,
        )
    }

    fn is_named(&self, access_key_id: &AccessKeyId) -> bool {
        *access_key_id == self.unused.access_key_id
    }
}

fn finding() -> impl Strategy<Value = Finding> {
    (
        any_case(),
        prop_oneof![6 => (0usize..3).prop_map(Some), 1 => Just(None)],
        prop_oneof![3 => Just(None), 1 => (1u32..=400).prop_map(Some)],
    )
        .prop_map(|(case, pick, idle_days)| {
            let keys = &case.snapshot.keys;
            let access_key_id = match pick {
                Some(index) if !keys.is_empty() => keys[index % keys.len()].access_key_id.clone(),
                _ => AccessKeyId::parse(ABSENT_KEY).expect("a valid key id"),
            };
            let policy = &case.policy;
            let idle_days = idle_days
                .unwrap_or_else(|| policy.max_key_idle_days.unwrap_or(policy.max_key_age_days));
            Finding {
                case,
                unused: UnusedKey {
                    access_key_id,
                    idle_days,
                },
            }
        })
}

/// What `decide` makes of the named key alone, held to the finding's idle limit and no age
/// limit: the model `decide_unused_key` must agree with.
fn decided_alone(finding: &Finding) -> Option<(Verdict, String)> {
    let case = &finding.case;
    let key = case
        .snapshot
        .keys
        .iter()
        .find(|key| finding.is_named(&key.access_key_id))?;
    let snapshot = UserSnapshot {
        keys: vec![key.clone()],
        tags: case.snapshot.tags.clone(),
    };
    let idle_only = Policy {
        max_key_age_days: u32::MAX,
        max_key_idle_days: Some(finding.unused.idle_days),
        // The named key is past its limit when acted on: an unused-access finding never warns.
        warn_before_days: 0,
        ..case.policy.clone()
    };
    let plan = decide(&snapshot, case.now, &idle_only, case.budget);
    let decision = plan.keys.into_iter().next()?;
    Some((decision.verdict, decision.reason))
}

proptest! {
    #![proptest_config(Config::default())]

    #[test]
    fn never_acts_on_a_key_other_than_the_named_one(finding in finding()) {
        let plan = finding.plan();
        prop_assert_eq!(plan.keys.len(), finding.case.snapshot.keys.len());
        for decision in &plan.keys {
            if finding.is_named(&decision.key.access_key_id) {
                continue;
            }
            let verdict = decision.verdict;
            prop_assert!(
                matches!(verdict, Verdict::Hold(Hold::NotNamed | Hold::Exempt)),
                "{} is not named, yet {verdict:?}: {}", decision.key.access_key_id, decision.reason
            );
            prop_assert!(!writes(verdict));
        }
        prop_assert!(plan.actions_used <= 1, "{} actions for one named key", plan.actions_used);
    }

    #[test]
    fn never_deletes_an_active_key(finding in finding()) {
        let plan = finding.plan();
        for decision in &plan.keys {
            let key = finding.case.key(decision.key.access_key_id.as_str()).expect("an input key");
            let deletes = matches!(decision.verdict, Verdict::Delete | Verdict::Hold(Hold::WouldDelete));
            prop_assert!(
                !(deletes && key.status == KeyStatus::Active),
                "{:?} on active key {}: {}", decision.verdict, key.access_key_id, decision.reason
            );
        }
    }

    #[test]
    fn the_named_key_is_decided_as_under_the_idle_limit_alone(finding in finding()) {
        let plan = finding.plan();
        let named = plan.keys.iter().find(|d| finding.is_named(&d.key.access_key_id));
        let expected = decided_alone(&finding);
        prop_assert_eq!(
            named.map(|d| (d.verdict, d.reason.clone())),
            expected
        );
    }
}

/// Guards the properties against vacuity: the generated findings name keys that get acted
/// on, and leave alone keys `decide` would have acted on.
#[test]
fn the_generated_findings_reach_each_outcome() {
    let mut runner = TestRunner::deterministic();
    let strategy = finding();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..4000 {
        let finding = strategy
            .new_tree(&mut runner)
            .expect("no rejection")
            .current();
        let plan = finding.plan();
        let by_decide = finding.case.plan();
        let mut count =
            |what, happened: bool| *counts.entry(what).or_default() += usize::from(happened);
        for (unused, decided) in plan.keys.iter().zip(&by_decide.keys) {
            if finding.is_named(&unused.key.access_key_id) {
                count("named keys acted on", writes(unused.verdict));
                count("named keys deleted", unused.verdict == Verdict::Delete);
                count(
                    "named old keys kept",
                    unused.verdict == Verdict::Hold(Hold::Kept) && writes(decided.verdict),
                );
            } else {
                count("other keys decide would act on", writes(decided.verdict));
            }
        }
        count(
            "findings naming a key the user lacks",
            finding.unused.access_key_id.as_str() == ABSENT_KEY,
        );
    }
    for (what, count) in &counts {
        // A deletion needs its clock, the mode, the budget and the idle time to line up.
        let least = if what.contains("deleted") { 10 } else { 40 };
        assert!(*count > least, "only {count} {what} in 4000: {counts:?}");
    }
    assert_eq!(counts.len(), 5, "{counts:?}");
}
