//! Property tests of the organisation sweep's plan and tag inheritance, on random trees of
//! units, accounts (drawn from a small pool, so that the walk finds some twice), states,
//! mode tags (valid, near-miss and junk values) and scopes: every account found is planned or
//! skipped exactly once, only ACTIVE accounts outside the exclusions are planned, a tag that
//! is not exactly a mode always means `report`, tags beyond the nearest one never matter, and
//! a ceiling never raises a mode.
//!
//! The case count comes from `Config::default()` (PROPTEST_CASES, 256 when unset).

use std::collections::{BTreeMap, BTreeSet};

use access_key_remediator::domain::ids::AccountId;
use access_key_remediator::domain::org::{
    AccountState, FoundAccount, ModeSource, ModeTags, Scope, SkipReason, SweepPlan, UnitId,
    mode_for, parse_mode, plan_sweep, within_ceiling,
};
use access_key_remediator::domain::policy::Mode;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::subsequence;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

const ROOT: &str = "r-ab12";
const ACCOUNT_POOL: usize = 12;
const MODES: [&str; 3] = ["report", "deactivate", "delete"];

fn account_id(index: usize) -> String {
    format!("{:012}", 111_111_111_111 + index)
}

fn unit_id(index: usize) -> String {
    format!("ou-ab12-{index:08}")
}

fn any_mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Report),
        Just(Mode::Deactivate),
        Just(Mode::Delete)
    ]
}

/// A value that is not exactly a mode: a mode's name in another case, with whitespace, cut
/// short or run on, or anything at all.
fn not_a_mode() -> impl Strategy<Value = String> {
    let near =
        (prop::sample::select(MODES.to_vec()), 0..5usize).prop_map(|(mode, how)| match how {
            0 => mode.to_uppercase(),
            1 => format!(" {mode}"),
            2 => format!("{mode}\n"),
            3 => mode[..mode.len() - 1].to_owned(),
            _ => format!("{mode}d"),
        });
    prop_oneof![near, ".{0,12}"].prop_filter("not a mode", |v| !MODES.contains(&v.as_str()))
}

fn tag_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(MODES.to_vec()).prop_map(str::to_owned),
        1 => not_a_mode(),
    ]
}

fn any_state() -> impl Strategy<Value = AccountState> {
    prop_oneof![
        4 => Just(AccountState::Active),
        1 => Just(AccountState::Suspended),
        1 => Just(AccountState::PendingClosure),
        1 => "[A-Z_]{1,16}".prop_map(|s| AccountState::parse(&s)),
    ]
}

/// A random organisation as the walk found it, its tags and the sweep's scope.
#[derive(Debug, Clone)]
struct Org {
    found: Vec<FoundAccount>,
    tags: ModeTags,
    scope: Scope,
    default: Mode,
}

impl Org {
    fn plan(&self) -> SweepPlan {
        plan_sweep(&self.found, &self.tags, &self.scope, self.default)
    }

    /// Each distinct account found, in the order first found, with its first sighting.
    fn distinct(&self) -> Vec<&FoundAccount> {
        let mut seen = BTreeSet::new();
        self.found
            .iter()
            .filter(|f| seen.insert(&f.account))
            .collect()
    }
}

/// Units 0..n, each under an earlier one or the root; the chain of each, nearest first.
fn chains(parents: &[usize]) -> Vec<Vec<UnitId>> {
    let mut chains: Vec<Vec<UnitId>> = Vec::new();
    for (index, &parent) in parents.iter().enumerate() {
        // `parent` is in 0..=index: 0 is the root, k is unit k - 1.
        let above = match parent.checked_sub(1) {
            Some(unit) => chains[unit].clone(),
            None => vec![UnitId::parse(ROOT).unwrap()],
        };
        let mut chain = vec![UnitId::parse(&unit_id(index)).unwrap()];
        chain.extend(above);
        chains.push(chain);
    }
    chains
}

fn org() -> impl Strategy<Value = Org> {
    let tree = vec(any::<prop::sample::Index>(), 0..8).prop_map(|picks| {
        let parents: Vec<usize> = picks
            .iter()
            .enumerate()
            .map(|(i, pick)| pick.index(i + 1))
            .collect();
        chains(&parents)
    });
    let found = vec(
        (0..ACCOUNT_POOL, any_state(), any::<prop::sample::Index>()),
        0..20,
    );
    let carriers: Vec<String> = (0..ACCOUNT_POOL)
        .map(account_id)
        .chain((0..8).map(unit_id))
        .chain([ROOT.to_owned()])
        .collect();
    let tags = btree_map(prop::sample::select(carriers), tag_value(), 0..10);
    let excluded = (
        subsequence((0..ACCOUNT_POOL).collect::<Vec<_>>(), 0..4),
        subsequence((0..8).collect::<Vec<_>>(), 0..3),
    );
    (tree, found, tags, excluded, any_mode()).prop_map(
        |(chains, found, tags, (accounts, units), default)| {
            let root = vec![UnitId::parse(ROOT).unwrap()];
            let found = found
                .into_iter()
                .map(|(account, state, unit)| FoundAccount {
                    account: AccountId::parse(&account_id(account)).unwrap(),
                    state,
                    // Index 0 is the root itself; otherwise one of the units.
                    parents: match unit.index(chains.len() + 1).checked_sub(1) {
                        Some(unit) => chains[unit].clone(),
                        None => root.clone(),
                    },
                })
                .collect();
            let scope = Scope {
                units: vec![],
                excluded_units: units
                    .iter()
                    .map(|&u| UnitId::parse(&unit_id(u)).unwrap())
                    .collect(),
                excluded_accounts: accounts
                    .iter()
                    .map(|&a| AccountId::parse(&account_id(a)).unwrap())
                    .collect(),
            };
            Org {
                found,
                tags,
                scope,
                default,
            }
        },
    )
}

/// The ids of what carries tags for this account, nearest first.
fn carriers(found: &FoundAccount) -> Vec<String> {
    std::iter::once(found.account.to_string())
        .chain(found.parents.iter().map(UnitId::to_string))
        .collect()
}

proptest! {
    #![proptest_config(Config::default())]

    #[test]
    fn only_active_accounts_outside_the_exclusions_are_planned_and_each_once(org in org()) {
        let plan = org.plan();
        let first: BTreeMap<_, _> = org.distinct().into_iter().map(|f| (&f.account, f)).collect();
        let mut planned = BTreeSet::new();
        for account in &plan.accounts {
            prop_assert!(planned.insert(&account.account), "{} planned twice", account.account);
            let found = first.get(&account.account).expect("planned accounts were found");
            prop_assert_eq!(&found.state, &AccountState::Active);
            prop_assert!(!org.scope.excluded_accounts.contains(&account.account));
            let expected = mode_for(&found.account, &found.parents, &org.tags, org.default);
            prop_assert_eq!((account.mode, &account.mode_source), (expected.0, &expected.1));
        }
    }

    #[test]
    fn every_distinct_account_found_is_planned_or_skipped_once_in_the_order_found(org in org()) {
        let plan = org.plan();
        let order: Vec<&AccountId> = org.distinct().into_iter().map(|f| &f.account).collect();
        let planned: BTreeSet<_> = plan.accounts.iter().map(|p| &p.account).collect();
        let skipped: BTreeMap<_, _> = plan.skipped.iter().map(|s| (&s.account, &s.reason)).collect();
        prop_assert_eq!(planned.len() + skipped.len(), order.len());
        prop_assert_eq!(plan.accounts.len() + plan.skipped.len(), order.len());
        let planned_order: Vec<_> = plan.accounts.iter().map(|p| &p.account).collect();
        let skipped_order: Vec<_> = plan.skipped.iter().map(|s| &s.account).collect();
        let in_order = |which: &BTreeSet<&AccountId>| {
            order.iter().copied().filter(|a| which.contains(a)).collect::<Vec<_>>()
        };
        prop_assert_eq!(planned_order, in_order(&planned));
        prop_assert_eq!(skipped_order, in_order(&skipped.keys().copied().collect()));
        for found in org.distinct() {
            let excluded = org.scope.excluded_accounts.contains(&found.account);
            match skipped.get(&found.account) {
                Some(SkipReason::Excluded) => prop_assert!(excluded),
                Some(SkipReason::NotActive { state }) => {
                    prop_assert!(!excluded);
                    prop_assert_eq!(state, &found.state);
                    prop_assert_ne!(state, &AccountState::Active);
                }
                None => prop_assert!(planned.contains(&found.account)),
            }
        }
    }

    #[test]
    fn a_ceiling_never_raises_a_mode(asked in any_mode(), ceiling in any_mode()) {
        let (mode, lowered_from) = within_ceiling(asked, ceiling);
        prop_assert!(mode <= asked && mode <= ceiling);
        prop_assert!(mode == asked || mode == ceiling);
        prop_assert_eq!(lowered_from, (mode != asked).then_some(asked));
    }

    #[test]
    fn a_tag_that_is_not_exactly_a_mode_means_report(
        org in org(), value in not_a_mode(), level in any::<prop::sample::Index>()
    ) {
        prop_assert_eq!(parse_mode(&value), None);
        for found in &org.found {
            // Put the bad value at one level and clear every nearer one: it is the nearest tag.
            let carriers = carriers(found);
            let level = level.index(carriers.len());
            let mut tags = org.tags.clone();
            for nearer in &carriers[..level] {
                tags.remove(nearer);
            }
            tags.insert(carriers[level].clone(), value.clone());
            let (mode, source) = mode_for(&found.account, &found.parents, &tags, org.default);
            prop_assert_eq!(mode, Mode::Report);
            prop_assert_eq!(
                source,
                ModeSource::InvalidTag { on: carriers[level].clone(), value: value.clone() }
            );
        }
    }

    #[test]
    fn tags_beyond_the_nearest_never_change_the_mode(
        org in org(), changes in vec((any::<prop::sample::Index>(), prop::option::of(tag_value())), 1..6)
    ) {
        for found in &org.found {
            let carriers = carriers(found);
            let Some(nearest) = carriers.iter().position(|c| org.tags.contains_key(c)) else {
                continue;
            };
            let farther = &carriers[nearest + 1..];
            if farther.is_empty() {
                continue;
            }
            let mut tags = org.tags.clone();
            for (pick, value) in &changes {
                let on = farther[pick.index(farther.len())].clone();
                match value {
                    Some(value) => tags.insert(on, value.clone()),
                    None => tags.remove(&on),
                };
            }
            prop_assert_eq!(
                mode_for(&found.account, &found.parents, &tags, org.default),
                mode_for(&found.account, &found.parents, &org.tags, org.default)
            );
        }
    }
}

/// Guards the properties against vacuity: the generated organisations reach each way an
/// account is planned or skipped, repeats, and tags at each distance, often enough to be seen
/// in a fixed-seed sample.
#[test]
fn the_generated_organisations_reach_every_outcome() {
    let mut runner = TestRunner::deterministic();
    let strategy = org();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..2000 {
        let org = strategy
            .new_tree(&mut runner)
            .expect("no rejection")
            .current();
        let plan = org.plan();
        let mut count =
            |what, happened: bool| *counts.entry(what).or_default() += usize::from(happened);
        count(
            "accounts found twice",
            org.distinct().len() < org.found.len(),
        );
        count("units excluded", !org.scope.excluded_units.is_empty());
        for skipped in &plan.skipped {
            count(
                "skipped as excluded",
                skipped.reason == SkipReason::Excluded,
            );
            count(
                "skipped as not active",
                skipped.reason != SkipReason::Excluded,
            );
        }
        for planned in &plan.accounts {
            let (source, mode) = (&planned.mode_source, planned.mode);
            count("planned by default", *source == ModeSource::Default);
            count(
                "planned by invalid tag",
                matches!(source, ModeSource::InvalidTag { .. }),
            );
            let on = |p: fn(&str) -> bool| matches!(source, ModeSource::Tag { on } if p(on));
            count("planned by an account tag", on(|on| !on.contains('-')));
            count("planned by an OU tag", on(|on| on.starts_with("ou-")));
            count("planned by the root tag", on(|on| on == ROOT));
            count("planned to delete", mode == Mode::Delete);
        }
        for found in &org.found {
            count("accounts two or more units deep", found.parents.len() > 2);
        }
    }
    for (what, count) in &counts {
        assert!(*count >= 40, "{what}: only {count} in 2000 cases");
    }
    assert_eq!(counts.len(), 11, "an outcome never happened: {counts:?}");
}
