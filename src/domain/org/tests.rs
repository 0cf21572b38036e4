//! Tables of the scope, the tag inheritance, the ceiling and the plan.

use super::*;

const ACCOUNT: &str = "111122223333";
const OU: &str = "ou-ab12-cdef3456";
const PARENT_OU: &str = "ou-ab12-parent99";
const ROOT: &str = "r-ab12";

fn account(text: &str) -> AccountId {
    AccountId::parse(text).unwrap()
}

fn unit(text: &str) -> UnitId {
    UnitId::parse(text).unwrap()
}

/// The parents of the account in these tables: its OU, that OU's parent OU, the root.
fn parents() -> Vec<UnitId> {
    vec![unit(OU), unit(PARENT_OU), unit(ROOT)]
}

fn tags(pairs: &[(&str, &str)]) -> ModeTags {
    pairs
        .iter()
        .map(|&(on, value)| (on.to_owned(), value.to_owned()))
        .collect()
}

fn found(id: &str, state: AccountState) -> FoundAccount {
    FoundAccount {
        account: account(id),
        state,
        parents: parents(),
    }
}

#[test]
fn unit_ids_are_roots_or_ous_within_their_lengths() {
    let ou = |root: usize, unit: usize| format!("ou-{}-{}", "a".repeat(root), "0".repeat(unit));
    let valid = [
        "r-ab12".to_owned(),
        format!("r-{}", "z9".repeat(16)),
        ou(4, 8),
        ou(32, 32),
        "ou-0a1b-2c3d4e5f".to_owned(),
    ];
    for text in &valid {
        assert_eq!(UnitId::parse(text).unwrap().as_str(), text, "{text}");
    }
    let invalid = [
        "r-abc".to_owned(),                  // root part of 3
        format!("r-{}", "a".repeat(33)),     // root part of 33
        "r-AB12".to_owned(),                 // upper case
        "r-ab_2".to_owned(),                 // not a letter or digit
        ou(3, 8),                            // root part too short
        ou(33, 8),                           // root part too long
        ou(4, 7),                            // unit part too short
        ou(4, 33),                           // unit part too long
        "ou-ab12".to_owned(),                // no unit part
        "ou-ab12-cdef3456-extra".to_owned(), // a third part
        "ou-ab12-CDEF3456".to_owned(),       // upper case
        "ou--cdef3456".to_owned(),           // empty root part
        "ou-ab12-".to_owned(),               // empty unit part
        " r-ab12".to_owned(),                // whitespace is not trimmed
        "r-ab12 ".to_owned(),
        "111122223333".to_owned(), // an account id is no unit
        "x-ab12".to_owned(),
        String::new(),
    ];
    for text in &invalid {
        assert_eq!(
            UnitId::parse(text),
            Err(InvalidId {
                value: text.clone(),
                expected: "an Organizations root (r-…) or OU (ou-…) id",
            }),
            "{text:?}"
        );
    }
}

#[test]
fn only_roots_say_they_are_roots() {
    assert!(unit(ROOT).is_root());
    assert!(!unit(OU).is_root());
    assert_eq!(unit(OU).to_string(), OU);
}

#[test]
fn account_states_parse_exactly_and_keep_unknown_ones() {
    let cases = [
        ("ACTIVE", AccountState::Active),
        ("SUSPENDED", AccountState::Suspended),
        ("PENDING_CLOSURE", AccountState::PendingClosure),
        ("CLOSED", AccountState::Other("CLOSED".into())),
        ("active", AccountState::Other("active".into())),
        ("", AccountState::Other(String::new())),
    ];
    for (text, state) in cases {
        assert_eq!(AccountState::parse(text), state, "{text:?}");
    }
}

#[test]
fn account_states_serialise_as_organizations_writes_them() {
    let json = |state| serde_json::to_value(state).unwrap();
    assert_eq!(json(AccountState::PendingClosure), "PENDING_CLOSURE");
    assert_eq!(json(AccountState::Other("CLOSED".into())), "CLOSED");
}

#[test]
fn excluded_units_are_not_walked_and_others_are() {
    let scope = Scope {
        units: vec![unit(PARENT_OU)],
        excluded_units: vec![unit(OU)],
        excluded_accounts: vec![],
    };
    assert!(!scope.walks(&unit(OU)));
    assert!(scope.walks(&unit(PARENT_OU)));
    assert!(scope.walks(&unit(ROOT)));
    assert!(Scope::default().walks(&unit(OU)));
}

#[test]
fn the_nearest_tag_wins() {
    let asked = |pairs: &[(&str, &str)]| {
        mode_for(
            &account(ACCOUNT),
            &parents(),
            &tags(pairs),
            Mode::Deactivate,
        )
    };
    let tag = |on: &str| ModeSource::Tag { on: on.to_owned() };
    let all = [
        (ACCOUNT, "report"),
        (OU, "delete"),
        (PARENT_OU, "deactivate"),
        (ROOT, "delete"),
    ];
    assert_eq!(
        asked(&all),
        (Mode::Report, tag(ACCOUNT)),
        "the account's own"
    );
    assert_eq!(asked(&all[1..]), (Mode::Delete, tag(OU)), "its OU's");
    assert_eq!(
        asked(&all[2..]),
        (Mode::Deactivate, tag(PARENT_OU)),
        "the parent OU's"
    );
    assert_eq!(asked(&all[3..]), (Mode::Delete, tag(ROOT)), "the root's");
    assert_eq!(asked(&[]), (Mode::Deactivate, ModeSource::Default));
}

#[test]
fn tags_on_other_accounts_and_units_do_not_apply() {
    let other = tags(&[("444455556666", "delete"), ("ou-zz99-elsewhere", "delete")]);
    assert_eq!(
        mode_for(&account(ACCOUNT), &parents(), &other, Mode::Report),
        (Mode::Report, ModeSource::Default)
    );
}

#[test]
fn an_invalid_tag_nearer_than_a_valid_one_gives_report() {
    for value in [
        "Delete",
        "DELETE",
        " delete",
        "delete ",
        "",
        "off",
        "deactivated",
    ] {
        let tags = tags(&[(OU, value), (ROOT, "delete")]);
        assert_eq!(
            mode_for(&account(ACCOUNT), &parents(), &tags, Mode::Delete),
            (
                Mode::Report,
                ModeSource::InvalidTag {
                    on: OU.to_owned(),
                    value: value.to_owned(),
                }
            ),
            "{value:?}"
        );
    }
}

#[test]
fn a_valid_tag_nearer_than_an_invalid_one_wins() {
    let tags = tags(&[(ACCOUNT, "delete"), (OU, "bogus")]);
    assert_eq!(
        mode_for(&account(ACCOUNT), &parents(), &tags, Mode::Report),
        (
            Mode::Delete,
            ModeSource::Tag {
                on: ACCOUNT.to_owned()
            }
        )
    );
}

#[test]
fn modes_parse_by_exact_name_only() {
    assert_eq!(parse_mode("report"), Some(Mode::Report));
    assert_eq!(parse_mode("deactivate"), Some(Mode::Deactivate));
    assert_eq!(parse_mode("delete"), Some(Mode::Delete));
    for value in ["Report", "DELETE", " delete", "delete\n", "", "del"] {
        assert_eq!(parse_mode(value), None, "{value:?}");
    }
}

#[test]
fn the_ceiling_lowers_what_asks_for_more_and_nothing_else() {
    use Mode::{Deactivate, Delete, Report};
    let cases = [
        (Report, Report, (Report, None)),
        (Report, Deactivate, (Report, None)),
        (Report, Delete, (Report, None)),
        (Deactivate, Report, (Report, Some(Deactivate))),
        (Deactivate, Deactivate, (Deactivate, None)),
        (Deactivate, Delete, (Deactivate, None)),
        (Delete, Report, (Report, Some(Delete))),
        (Delete, Deactivate, (Deactivate, Some(Delete))),
        (Delete, Delete, (Delete, None)),
    ];
    for (asked, ceiling, expected) in cases {
        assert_eq!(
            within_ceiling(asked, ceiling),
            expected,
            "{asked:?} under {ceiling:?}"
        );
    }
}

#[test]
fn the_plan_sweeps_active_accounts_and_says_why_it_skips_the_others() {
    let found = [
        found("111111111111", AccountState::Active),
        found("222222222222", AccountState::Suspended),
        found("333333333333", AccountState::PendingClosure),
        found("444444444444", AccountState::Other("CLOSED".into())),
        found("555555555555", AccountState::Active),
        found("666666666666", AccountState::Suspended),
    ];
    let scope = Scope {
        excluded_accounts: vec![account("555555555555"), account("666666666666")],
        ..Scope::default()
    };
    let tags = tags(&[("111111111111", "delete")]);
    let plan = plan_sweep(&found, &tags, &scope, Mode::Report);
    assert_eq!(
        plan.accounts,
        [PlannedAccount {
            account: account("111111111111"),
            mode: Mode::Delete,
            mode_source: ModeSource::Tag {
                on: "111111111111".into()
            },
        }]
    );
    let skipped: Vec<_> = plan
        .skipped
        .iter()
        .map(|s| (s.account.as_str(), s.reason.clone()))
        .collect();
    let not_active = |state| SkipReason::NotActive { state };
    assert_eq!(
        skipped,
        [
            ("222222222222", not_active(AccountState::Suspended)),
            ("333333333333", not_active(AccountState::PendingClosure)),
            (
                "444444444444",
                not_active(AccountState::Other("CLOSED".into()))
            ),
            ("555555555555", SkipReason::Excluded),
            // Excluded and not active: the exclusion is the reason given.
            ("666666666666", SkipReason::Excluded),
        ]
    );
}

#[test]
fn the_plan_keeps_the_order_found_and_plans_a_repeat_once() {
    let mut again = found("111111111111", AccountState::Active);
    again.parents = vec![unit(ROOT)];
    let found = [
        found("333333333333", AccountState::Active),
        found("111111111111", AccountState::Active),
        found("222222222222", AccountState::Suspended),
        again,
        found("222222222222", AccountState::Active),
        found("333333333333", AccountState::Suspended),
    ];
    let tags = tags(&[(OU, "deactivate"), (ROOT, "delete")]);
    let plan = plan_sweep(&found, &tags, &Scope::default(), Mode::Report);
    let planned: Vec<_> = plan
        .accounts
        .iter()
        .map(|p| (p.account.as_str(), p.mode))
        .collect();
    // The first sighting wins: 111… under its OU (deactivate), 222… stays skipped.
    assert_eq!(
        planned,
        [
            ("333333333333", Mode::Deactivate),
            ("111111111111", Mode::Deactivate)
        ]
    );
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(plan.skipped[0].account.as_str(), "222222222222");
}

#[test]
fn the_plan_serialises_as_the_discovery_answer_names_it() {
    let found = [
        found("111111111111", AccountState::Active),
        found("222222222222", AccountState::Suspended),
        found("333333333333", AccountState::Active),
    ];
    let scope = Scope {
        excluded_accounts: vec![account("333333333333")],
        ..Scope::default()
    };
    let plan = plan_sweep(&found, &tags(&[(OU, "nope")]), &scope, Mode::Delete);
    assert_eq!(
        serde_json::to_value(&plan).unwrap(),
        serde_json::json!({
            "accounts": [{"account": "111111111111", "mode": "report",
                          "modeSource": {"from": "invalidTag", "on": OU, "value": "nope"}}],
            "skipped": [{"account": "222222222222", "reason": "notActive", "state": "SUSPENDED"},
                        {"account": "333333333333", "reason": "excluded"}],
        })
    );
}

#[test]
fn an_empty_walk_plans_nothing() {
    assert_eq!(
        plan_sweep(&[], &ModeTags::new(), &Scope::default(), Mode::Delete),
        SweepPlan::default()
    );
}
