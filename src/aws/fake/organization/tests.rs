//! That the fake organisation answers as the Organizations adapter does: the tree in the order
//! built, ListParents of a stranger, the tags, the denials and the call counts.

use super::*;
use crate::aws::fake::FakeError;

const ROOT: &str = "r-ab12";
const PROD: &str = "ou-ab12-11111111";
const TEAM: &str = "ou-ab12-22222222";
const ALPHA: &str = "111111111111";
const BETA: &str = "222222222222";
const GAMMA: &str = "333333333333";

fn unit(id: &str) -> UnitId {
    UnitId::parse(id).unwrap()
}

fn account(id: &str, state: AccountState) -> OrgAccount {
    OrgAccount {
        account: AccountId::parse(id).unwrap(),
        state,
    }
}

/// The root holds prod and alpha; prod holds team and beta (suspended); team holds gamma.
fn organisation() -> FakeOrganization {
    FakeOrganization::new(ROOT)
        .with_unit(PROD, ROOT)
        .with_unit(TEAM, PROD)
        .with_account(ALPHA, ROOT, AccountState::Active)
        .with_account(BETA, PROD, AccountState::Suspended)
        .with_account(GAMMA, TEAM, AccountState::Active)
        .with_tag(PROD, "deactivate")
}

#[tokio::test]
async fn the_tree_is_listed_level_by_level_in_the_order_built() {
    let org = organisation();

    assert_eq!(org.roots().await.unwrap(), [unit(ROOT)]);
    assert_eq!(org.units_under(&unit(ROOT)).await.unwrap(), [unit(PROD)]);
    assert_eq!(org.units_under(&unit(PROD)).await.unwrap(), [unit(TEAM)]);
    assert_eq!(org.units_under(&unit(TEAM)).await.unwrap(), []);
    assert_eq!(
        org.accounts_under(&unit(PROD)).await.unwrap(),
        [account(BETA, AccountState::Suspended)]
    );
    assert_eq!(org.parent_of(GAMMA).await.unwrap(), Some(unit(TEAM)));
    assert_eq!(org.parent_of(TEAM).await.unwrap(), Some(unit(PROD)));
}

#[tokio::test]
async fn a_child_it_does_not_know_has_no_parent() {
    let org = organisation();

    assert_eq!(org.parent_of("999999999999").await.unwrap(), None);
    org.remove_account(ALPHA);
    assert_eq!(org.parent_of(ALPHA).await.unwrap(), None);
    assert_eq!(org.accounts_under(&unit(ROOT)).await.unwrap(), []);
}

#[tokio::test]
async fn a_handle_kept_by_the_test_changes_what_the_other_reads() {
    let org = organisation();
    let function_side = org.clone();

    org.move_account(GAMMA, ROOT)
        .add_account("444444444444", TEAM, AccountState::Active)
        .set_state(BETA, AccountState::Active)
        .set_tag(PROD, None)
        .set_tag(GAMMA, Some("delete"));

    let under_root = function_side.accounts_under(&unit(ROOT)).await.unwrap();
    assert_eq!(
        under_root,
        [
            account(ALPHA, AccountState::Active),
            account(GAMMA, AccountState::Active)
        ]
    );
    let under_team = function_side.accounts_under(&unit(TEAM)).await.unwrap();
    assert_eq!(under_team, [account("444444444444", AccountState::Active)]);
    let under_prod = function_side.accounts_under(&unit(PROD)).await.unwrap();
    assert_eq!(under_prod, [account(BETA, AccountState::Active)]);
    assert_eq!(function_side.mode_tag(PROD).await.unwrap(), None);
    assert_eq!(
        function_side.mode_tag(GAMMA).await.unwrap().as_deref(),
        Some("delete")
    );
}

#[tokio::test]
async fn tags_are_read_as_written_and_an_unknown_target_is_an_error() {
    let org = organisation().with_tag(ROOT, "Delete!");

    assert_eq!(
        org.mode_tag(ROOT).await.unwrap().as_deref(),
        Some("Delete!")
    );
    assert_eq!(org.mode_tag(ALPHA).await.unwrap(), None);
    let error = org.mode_tag("ou-ab12-99999999").await.unwrap_err();
    assert_eq!(
        (error.operation, FakeError::code_of(&error)),
        ("ListTagsForResource", Some("TargetNotFoundException"))
    );
}

#[tokio::test]
async fn a_denied_operation_is_access_denied_until_allowed() {
    let org = organisation();
    org.deny("ListAccountsForParent");

    let error = org.accounts_under(&unit(ROOT)).await.unwrap_err();
    assert_eq!(
        (error.service, error.operation, FakeError::code_of(&error)),
        (
            "Organizations",
            "ListAccountsForParent",
            Some("AccessDeniedException")
        )
    );
    assert!(org.roots().await.is_ok(), "only the operation denied fails");
    org.allow("ListAccountsForParent");
    assert_eq!(org.accounts_under(&unit(ROOT)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn every_call_is_counted_under_its_sdk_name_denied_or_not() {
    let counter = ApiCallCounter::default();
    counter.record("ListUsers");
    let org = organisation().with_api_calls(counter.clone());
    org.deny("ListParents");

    org.roots().await.unwrap();
    org.units_under(&unit(ROOT)).await.unwrap();
    org.units_under(&unit(PROD)).await.unwrap();
    org.accounts_under(&unit(ROOT)).await.unwrap();
    org.parent_of(ALPHA).await.unwrap_err();
    org.mode_tag(PROD).await.unwrap();

    let expected: ApiCalls = [
        ("ListAccountsForParent", 1),
        ("ListOrganizationalUnitsForParent", 2),
        ("ListParents", 1),
        ("ListRoots", 1),
        ("ListTagsForResource", 1),
    ]
    .into_iter()
    .map(|(operation, count)| (operation.to_owned(), count))
    .collect();
    assert_eq!(
        org.calls(),
        expected,
        "the shared counter's IAM call is not one of these"
    );
    assert_eq!(counter.snapshot().get("ListUsers"), Some(&1));
}

#[test]
#[should_panic(expected = "no operation \"ListAccounts\"")]
fn a_misspelt_operation_is_refused() {
    organisation().deny("ListAccounts");
}

#[test]
#[should_panic(expected = "no root or unit \"ou-ab12-99999999\"")]
fn a_unit_under_a_parent_never_added_is_refused() {
    organisation().add_unit("ou-ab12-33333333", "ou-ab12-99999999");
}
