//! Discovery, the state machine's first step: the walk of AWS Organizations from the roots
//! (or SWEEP_UNITS) down, breadth first, leaving out SWEEP_EXCLUDE's units unwalked and its
//! accounts skipped, skipping accounts that are not ACTIVE, and giving each account the mode of
//! its nearest tag; the Map's concurrency within the reserved concurrency; and the error that
//! says which account must run it when Organizations refuses.

use access_key_remediator::domain::ids::AccountId;
use access_key_remediator::domain::org::{AccountState, UnitId};
use access_key_remediator::domain::policy::Mode;
use serde_json::{Value, json};

use super::{
    DEV, DEV_A, HOME, Org, PROD, PROD_A, PROD_B, ROOT, TEAM, TEAM_A, calls, org_settings, tree,
};

const SUSPENDED: &str = "240000000001";
const CLOSING: &str = "240000000002";

fn unit(id: &str) -> UnitId {
    UnitId::parse(id).expect("a valid unit id")
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).expect("a valid account id")
}

/// The discovery answer's items, as (account, mode).
fn items(answer: &Value) -> Vec<(String, String)> {
    let accounts = answer["accounts"].as_array().expect("accounts is a list");
    let item = |item: &Value| {
        let field = |name: &str| item[name].as_str().expect("a string").to_owned();
        (field("account"), field("mode"))
    };
    accounts.iter().map(item).collect()
}

fn each_in(mode: &str, accounts: &[&str]) -> Vec<(String, String)> {
    let accounts = accounts.iter();
    accounts
        .map(|a| ((*a).to_owned(), mode.to_owned()))
        .collect()
}

#[tokio::test]
async fn the_whole_organisation_is_walked_from_its_root_breadth_first() {
    let org = Org::new(org_settings(Mode::Deactivate, |_| {}), tree());

    let answer = org.discover().await;

    // Root, then PROD and DEV, then TEAM (two levels down): each unit's accounts in turn.
    let found = [HOME, PROD_A, PROD_B, DEV_A, TEAM_A];
    let accounts: Vec<Value> = found
        .iter()
        .map(|id| json!({ "account": id, "mode": "deactivate" }))
        .collect();
    assert_eq!(
        answer,
        json!({
            "accounts": accounts,
            "planned": 5,
            "maxConcurrency": 10,
            "toleratedFailurePercentage": 10,
            "discovery": {
                "source": "organizations",
                "discovered": 5,
                "planned": 5,
                "skipped": [],
                "excludedUnits": [],
                "modes": { "deactivate": 5 },
                "invalidTags": [],
                "calls": 18,
                "warnings": [],
            },
        })
    );
    // One listing of each kind per unit, a tag read per unit and per account.
    let expected = calls(&[
        ("ListRoots", 1),
        ("ListOrganizationalUnitsForParent", 4),
        ("ListAccountsForParent", 4),
        ("ListTagsForResource", 4 + 5),
    ]);
    assert_eq!(org.org_calls(), expected);
    assert_eq!(org.calls.snapshot(), expected, "no call but Organizations'");
}

#[tokio::test]
async fn sweep_units_walks_only_below_them_and_their_ancestors_tags_still_apply() {
    let tree = tree().with_tag(PROD, "report");
    let settings = org_settings(Mode::Delete, |org| org.scope.units = vec![unit(TEAM)]);
    let org = Org::new(settings, tree);

    let answer = org.discover().await;

    assert_eq!(items(&answer), each_in("report", &[TEAM_A]));
    assert_eq!(answer["discovery"]["discovered"], 1);
    // TEAM's parents up to the root, for their tags; nothing above TEAM is listed.
    let expected = calls(&[
        ("ListParents", 2),
        ("ListOrganizationalUnitsForParent", 1),
        ("ListAccountsForParent", 1),
        ("ListTagsForResource", 2 + 1 + 1),
    ]);
    assert_eq!(org.org_calls(), expected);

    let settings = org_settings(Mode::Delete, |org| org.scope.units = vec![unit(PROD)]);
    let org = Org::new(settings, super::tree());
    let answer = org.discover().await;
    assert_eq!(items(&answer), each_in("delete", &[PROD_A, PROD_B, TEAM_A]));
}

#[tokio::test]
async fn an_excluded_unit_is_not_walked_nor_anything_below_it() {
    let settings = org_settings(Mode::Delete, |org| {
        org.scope.excluded_units = vec![unit(PROD)];
    });
    let org = Org::new(settings, tree());

    let answer = org.discover().await;

    assert_eq!(items(&answer), each_in("delete", &[HOME, DEV_A]));
    let discovery = &answer["discovery"];
    assert_eq!(discovery["excludedUnits"], json!([PROD]));
    assert_eq!(
        discovery["discovered"], 2,
        "PROD's accounts were never listed"
    );
    assert_eq!(discovery["skipped"], json!([]));
    // The root and DEV only: neither PROD nor TEAM under it is listed or tag-read.
    let expected = calls(&[
        ("ListRoots", 1),
        ("ListOrganizationalUnitsForParent", 2),
        ("ListAccountsForParent", 2),
        ("ListTagsForResource", 2 + 2),
    ]);
    assert_eq!(org.org_calls(), expected);
}

#[tokio::test]
async fn excluded_suspended_and_closing_accounts_are_skipped_with_their_reasons() {
    let tree = tree()
        .with_account(CLOSING, PROD, AccountState::PendingClosure)
        .with_account(SUSPENDED, DEV, AccountState::Suspended);
    let settings = org_settings(Mode::Delete, |org| {
        org.scope.excluded_accounts = vec![account(PROD_B)];
    });
    let org = Org::new(settings, tree);

    let answer = org.discover().await;

    assert_eq!(
        items(&answer),
        each_in("delete", &[HOME, PROD_A, DEV_A, TEAM_A])
    );
    let discovery = &answer["discovery"];
    assert_eq!(
        discovery["skipped"],
        json!([
            { "account": PROD_B, "reason": "excluded" },
            { "account": CLOSING, "reason": "notActive", "state": "PENDING_CLOSURE" },
            { "account": SUSPENDED, "reason": "notActive", "state": "SUSPENDED" },
        ])
    );
    assert_eq!(discovery["discovered"], 7);
    assert_eq!(discovery["planned"], 4);
    // A skipped account's tags are never read.
    assert_eq!(org.calls_of("ListTagsForResource"), 4 + 4);
}

#[tokio::test]
async fn the_nearest_tag_wins_and_an_invalid_one_means_report() {
    // The stack says delete; the root deactivate, PROD report, PROD_A itself delete, and DEV's
    // tag is no mode (only the exact lower-case names are).
    let tree = tree()
        .with_tag(ROOT, "deactivate")
        .with_tag(PROD, "report")
        .with_tag(PROD_A, "delete")
        .with_tag(DEV, "Delete");
    let org = Org::new(org_settings(Mode::Delete, |_| {}), tree);

    let answer = org.discover().await;

    let expected = [
        (HOME, "deactivate"), // the root's tag beats the stack's mode
        (PROD_A, "delete"),   // its own tag beats PROD's
        (PROD_B, "report"),   // PROD's beats the root's
        (DEV_A, "report"),    // an invalid tag: report, not the root's nor the stack's
        (TEAM_A, "report"),   // PROD's, through TEAM, which has none
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, m)| ((*a).to_owned(), (*m).to_owned()))
        .collect();
    assert_eq!(items(&answer), expected);
    let discovery = &answer["discovery"];
    assert_eq!(
        discovery["modes"],
        json!({ "deactivate": 1, "delete": 1, "report": 3 })
    );
    assert_eq!(
        discovery["invalidTags"],
        json!([{ "on": DEV, "value": "Delete" }])
    );
}

#[tokio::test]
async fn without_org_mode_tags_no_tag_is_read_and_every_account_runs_in_the_stacks_mode() {
    let tree = tree().with_tag(ROOT, "report").with_tag(PROD_A, "report");
    let settings = org_settings(Mode::Delete, |org| org.mode_tags = false);
    let org = Org::new(settings, tree);

    let answer = org.discover().await;

    let found = [HOME, PROD_A, PROD_B, DEV_A, TEAM_A];
    assert_eq!(items(&answer), each_in("delete", &found));
    assert_eq!(answer["discovery"]["modes"], json!({ "delete": 5 }));
    assert_eq!(org.calls_of("ListTagsForResource"), 0);
    assert_eq!(answer["discovery"]["calls"], 1 + 4 + 4);
}

#[tokio::test]
async fn the_maps_concurrency_leaves_room_for_events_in_the_reserved_concurrency() {
    // (MAP_MAX_CONCURRENCY, RESERVED_CONCURRENCY, the Map's concurrency, lowered)
    let cases = [
        (10, None, 10, false),
        (10, Some(12), 10, false),
        (10, Some(5), 3, true),
        (4, Some(2), 1, true),
    ];
    for (asked, reserved, expected, lowered) in cases {
        let case = format!("MAP_MAX_CONCURRENCY={asked} RESERVED_CONCURRENCY={reserved:?}");
        let settings = org_settings(Mode::Delete, |org| {
            org.map_max_concurrency = asked;
            org.reserved_concurrency = reserved;
            org.failure_tolerance_percent = 25;
        });
        let org = Org::new(settings, tree());

        let answer = org.discover().await;

        assert_eq!(answer["maxConcurrency"], expected, "{case}");
        assert_eq!(answer["toleratedFailurePercentage"], 25, "{case}");
        let warnings = answer["discovery"]["warnings"].as_array().unwrap().clone();
        if lowered {
            assert_eq!(warnings.len(), 1, "{case}: {warnings:?}");
            let warning = warnings[0].as_str().unwrap();
            let said = [
                format!("MAP_MAX_CONCURRENCY {asked}"),
                format!("RESERVED_CONCURRENCY {}", reserved.unwrap()),
                format!("runs {expected} accounts at once"),
            ];
            for part in said {
                assert!(warning.contains(&part), "{case}: {warning}");
            }
        } else {
            assert!(warnings.is_empty(), "{case}: {warnings:?}");
        }
    }
}

#[tokio::test]
async fn a_denied_listing_fails_discovery_naming_who_must_run_it() {
    let tree = tree();
    tree.deny("ListAccountsForParent");
    let org = Org::new(org_settings(Mode::Delete, |_| {}), tree);

    let error = org
        .step(json!({ "remediator": "discover-accounts" }))
        .await
        .expect_err("discovery cannot list the accounts");

    assert_eq!(error.error_type, "DiscoveryFailed");
    let message = &error.error_message;
    for part in [
        "management account",
        "delegated administrator",
        "ListAccountsForParent",
        "AccessDeniedException",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    // It stops at the first refusal: no unit below is tried.
    assert_eq!(org.calls_of("ListAccountsForParent"), 1);
    assert_eq!(org.calls_of("ListOrganizationalUnitsForParent"), 0);
}

#[tokio::test]
async fn an_account_that_joins_a_unit_is_found_by_the_next_discovery() {
    const JOINED: &str = "220000000002";
    let org = Org::new(org_settings(Mode::Delete, |_| {}), tree());
    let first = org.discover().await;
    assert_eq!(first["discovery"]["planned"], 5);

    org.tree.add_account(JOINED, TEAM, AccountState::Active);
    org.tree.set_tag(JOINED, Some("report"));
    let second = org.discover().await;

    let found = [HOME, PROD_A, PROD_B, DEV_A, TEAM_A];
    let mut expected = each_in("delete", &found);
    expected.push((JOINED.to_owned(), "report".to_owned()));
    assert_eq!(items(&second), expected);
    assert_eq!(second["discovery"]["planned"], 6);
    // Nothing of the first walk is kept: the second lists every unit again.
    assert_eq!(org.calls_of("ListAccountsForParent"), 4 + 4);
}

#[tokio::test]
async fn without_sweep_organization_discovery_answers_sweep_accounts_in_their_tags_modes() {
    let tree = tree().with_tag(PROD, "report");
    let settings = org_settings(Mode::Delete, |org| {
        org.sweep_organization = false;
        org.sweep_accounts = vec![account(PROD_A), account(DEV_A)];
    });
    let org = Org::new(settings, tree);

    let answer = org.discover().await;

    let expected = vec![
        (PROD_A.to_owned(), "report".to_owned()),
        (DEV_A.to_owned(), "delete".to_owned()),
    ];
    assert_eq!(items(&answer), expected);
    assert_eq!(answer["discovery"]["source"], "list");
    assert_eq!(answer["discovery"]["discovered"], 2);
    // Nothing is listed: each account's parents are read for their tags.
    assert_eq!(org.calls_of("ListAccountsForParent"), 0);
    assert_eq!(org.calls_of("ListRoots"), 0);
    assert_eq!(org.calls_of("ListParents"), 2 + 2);
}

#[tokio::test]
async fn a_unit_named_below_another_named_unit_is_walked_once() {
    let settings = org_settings(Mode::Delete, |org| {
        org.scope.units = vec![unit(PROD), unit(TEAM)];
    });
    let org = Org::new(settings, tree());

    let answer = org.discover().await;

    assert_eq!(items(&answer), each_in("delete", &[PROD_A, PROD_B, TEAM_A]));
    assert_eq!(answer["discovery"]["discovered"], 3, "TEAM_A counted once");
    // PROD and TEAM listed once each; both named units' parents read for their tags.
    let expected = calls(&[
        ("ListParents", 1 + 2),
        ("ListOrganizationalUnitsForParent", 2),
        ("ListAccountsForParent", 2),
        ("ListTagsForResource", 3 + 2 + 3),
    ]);
    assert_eq!(org.org_calls(), expected);
}
