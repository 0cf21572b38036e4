//! Layer-2 tests of the Organizations adapter (`AwsOrganization` through `OrganizationTree`)
//! and of IAM's ListRoleTags (`AwsIam::role_tag`, the member role's ceiling), against real SDK
//! clients whose transport is `aws-smithy-mocks`. Organizations speaks awsJson1_1: the mocks
//! answer with its JSON bodies and error codes, so the SDK's real deserializer (the `State`
//! and `Status` fields), error parsing and retry classifier run; IAM answers in its XML.

use access_key_remediator::aws::iam::{self, AwsIam};
use access_key_remediator::aws::organizations::{AwsOrganization, OrgAccount, OrganizationTree};
use access_key_remediator::aws::{AwsError, IamDirectory, error_chain};
use access_key_remediator::domain::ids::AccountId;
use access_key_remediator::domain::org::{AccountState, CEILING_TAG_KEY, UnitId};
use aws_sdk_organizations::Client;
use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_organizations::operation::list_accounts_for_parent::ListAccountsForParentInput;
use aws_sdk_organizations::operation::list_roots::ListRootsError;
use aws_sdk_organizations::operation::list_tags_for_resource::ListTagsForResourceInput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde_json::json;

use crate::support::mocks::{
    RequestLog, iam_error_xml, json_error, request_log, three_quick_attempts,
};

const ROOT: &str = "r-ab12";
const UNIT: &str = "ou-ab12-5gsv7lqm";
const ACCOUNT: &str = "111122223333";
const ROLE: &str = "access-key-remediator-member";

/// An adapter whose client answers from `rules`, in order, allowing three quick attempts.
fn organization(rules: &[&Rule]) -> AwsOrganization {
    AwsOrganization::new(mock_client!(
        aws_sdk_organizations,
        RuleMode::Sequential,
        rules,
        |config| config.retry_config(three_quick_attempts())
    ))
}

/// An IAM adapter configured as the function's own (`iam::client_config`).
fn iam(rules: &[&Rule]) -> AwsIam {
    AwsIam::new(mock_client!(
        aws_sdk_iam,
        RuleMode::Sequential,
        rules,
        |config| iam::client_config(config).retry_config(three_quick_attempts())
    ))
}

fn unit(id: &str) -> UnitId {
    UnitId::parse(id).expect("a valid unit id")
}

fn org_account(id: &str, state: AccountState) -> OrgAccount {
    OrgAccount {
        account: AccountId::parse(id).expect("a valid account id"),
        state,
    }
}

/// A page of an Organizations list: `items` under `field`, and NextToken when more follow.
fn page(field: &str, items: serde_json::Value, next_token: Option<&str>) -> String {
    let mut body = json!({ field: items });
    if let Some(token) = next_token {
        body["NextToken"] = json!(token);
    }
    body.to_string()
}

/// An account as ListAccountsForParent lists it, with only the fields the test gives.
fn account_json(id: &str, fields: serde_json::Value) -> serde_json::Value {
    let mut account = json!({
        "Id": id,
        "Arn": format!("arn:aws:organizations::123456789012:account/o-exampleorgid/{id}"),
        "Name": format!("account-{id}"),
        "Email": format!("aws+{id}@example.com"),
    });
    account
        .as_object_mut()
        .expect("an object")
        .extend(fields.as_object().expect("an object").clone());
    account
}

fn tags_json(tags: &[(&str, &str)]) -> serde_json::Value {
    let tags = tags
        .iter()
        .map(|(key, value)| json!({ "Key": key, "Value": value }));
    serde_json::Value::Array(tags.collect())
}

/// Organizations refusing a caller that is neither the management account nor a delegated
/// administrator.
fn access_denied() -> String {
    json_error(
        "AccessDeniedException",
        "You don't have permissions to access this resource.",
    )
}

/// A rule answering `operation` once per body, in order: HTTP `status` (200 unless given).
macro_rules! answers {
    ($operation:path, status $status:literal, $body:expr) => {
        mock!($operation).sequence().http_status($status, Some($body)).build()
    };
    ($operation:path, $($body:expr),+ $(,)?) => {
        mock!($operation).sequence()$(.http_status(200, Some($body)))+.build()
    };
}

/// That `error` is `service`'s `operation` failing, and its chain says `says`.
#[track_caller]
fn assert_failed(error: &AwsError, service: &str, operation: &str, says: &str) {
    assert_eq!((error.service, error.operation), (service, operation));
    let chain = error_chain(error);
    assert!(chain.contains(says), "{chain:?} should say {says:?}");
}

fn sdk_error_code<E>(error: &AwsError) -> Option<String>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let source = error.source.downcast_ref::<SdkError<E>>();
    let source = source.expect("an Organizations AwsError wraps the SDK error of its operation");
    source.code().map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// ListAccountsForParent: every page, State before Status
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn both_pages_of_accounts_are_read() {
    let (requests, log): (RequestLog<ListAccountsForParentInput>, _) = request_log();
    let first = [account_json("111111111111", json!({ "Status": "ACTIVE" }))];
    let second = [account_json(
        "222222222222",
        json!({ "Status": "SUSPENDED" }),
    )];
    let rule = mock!(Client::list_accounts_for_parent)
        .match_requests(log)
        .sequence()
        .http_status(200, Some(page("Accounts", json!(first), Some("token-2"))))
        .http_status(200, Some(page("Accounts", json!(second), None)))
        .build();

    let accounts = organization(&[&rule]).accounts_under(&unit(UNIT)).await;

    assert_eq!(
        accounts.expect("both pages answered"),
        [
            org_account("111111111111", AccountState::Active),
            org_account("222222222222", AccountState::Suspended),
        ]
    );
    let requests = requests.lock().unwrap();
    let asked: Vec<_> = requests
        .iter()
        .map(|r| (r.parent_id(), r.next_token()))
        .collect();
    assert_eq!(asked, [(Some(UNIT), None), (Some(UNIT), Some("token-2"))]);
}

#[tokio::test]
async fn the_newer_state_field_wins_over_the_deprecated_status() {
    let accounts = [
        // An account closing: Status still says ACTIVE, State says what it is.
        account_json(
            "111111111111",
            json!({ "Status": "ACTIVE", "State": "PENDING_CLOSURE" }),
        ),
        account_json("222222222222", json!({ "State": "SUSPENDED" })),
        account_json("333333333333", json!({ "Status": "PENDING_CLOSURE" })),
        account_json("444444444444", json!({ "State": "PENDING_ACTIVATION" })),
    ];
    let rule = answers!(
        Client::list_accounts_for_parent,
        page("Accounts", json!(accounts), None)
    );

    let accounts = organization(&[&rule]).accounts_under(&unit(ROOT)).await;

    let states: Vec<_> = accounts
        .expect("one page answered")
        .into_iter()
        .map(|account| account.state)
        .collect();
    assert_eq!(
        states,
        [
            AccountState::PendingClosure,
            AccountState::Suspended,
            AccountState::PendingClosure,
            AccountState::Other("PENDING_ACTIVATION".to_owned()),
        ]
    );
}

#[tokio::test]
async fn an_account_id_that_is_not_one_is_an_error_not_a_guess() {
    let accounts = [account_json("1111", json!({ "State": "ACTIVE" }))];
    let rule = answers!(
        Client::list_accounts_for_parent,
        page("Accounts", json!(accounts), None)
    );

    let listed = organization(&[&rule]).accounts_under(&unit(ROOT)).await;

    let error = listed.expect_err("a malformed account id fails the listing");
    assert_failed(&error, "Organizations", "ListAccountsForParent", "\"1111\"");
}

// ---------------------------------------------------------------------------------------------
// ListRoots and ListOrganizationalUnitsForParent
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn units_are_read_from_every_page() {
    let units = |id: &str| json!([{ "Id": id, "Name": "unit" }]);
    let rule = answers!(
        Client::list_organizational_units_for_parent,
        page(
            "OrganizationalUnits",
            units("ou-ab12-11111111"),
            Some("token-2")
        ),
        page("OrganizationalUnits", units("ou-ab12-22222222"), None),
    );

    let units = organization(&[&rule]).units_under(&unit(ROOT)).await;

    assert_eq!(
        units.expect("both pages answered"),
        [unit("ou-ab12-11111111"), unit("ou-ab12-22222222")]
    );
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn a_root_id_that_is_not_one_is_an_error() {
    let roots = json!([{ "Id": "root-1", "Name": "Root" }]);
    let rule = answers!(Client::list_roots, page("Roots", roots, None));

    let error = organization(&[&rule])
        .roots()
        .await
        .expect_err("no root id");

    assert_failed(&error, "Organizations", "ListRoots", "\"root-1\"");
}

#[tokio::test]
async fn denied_discovery_names_the_call_and_is_not_retried() {
    let rule = answers!(Client::list_roots, status 400, access_denied());

    let error = organization(&[&rule]).roots().await.expect_err("denied");

    assert_failed(&error, "Organizations", "ListRoots", "permissions");
    assert_eq!(
        sdk_error_code::<ListRootsError>(&error).as_deref(),
        Some("AccessDeniedException")
    );
    assert_eq!(rule.num_calls(), 1, "a refusal is not retried");
}

// ---------------------------------------------------------------------------------------------
// ListParents
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_parent_of_an_account_is_its_unit() {
    let parents = json!([{ "Id": UNIT, "Type": "ORGANIZATIONAL_UNIT" }]);
    let rule = answers!(Client::list_parents, page("Parents", parents, None));

    let parent = organization(&[&rule]).parent_of(ACCOUNT).await;

    assert_eq!(parent.expect("answered"), Some(unit(UNIT)));
}

#[tokio::test]
async fn an_account_organizations_does_not_know_has_no_parent() {
    let not_found = json_error(
        "ChildNotFoundException",
        "We can't find an organizational unit (OU) or AWS account with the ChildId that you \
         specified.",
    );
    let rule = answers!(Client::list_parents, status 400, not_found);

    let parent = organization(&[&rule]).parent_of(ACCOUNT).await;

    assert_eq!(parent.expect("ChildNotFound is an answer"), None);
}

#[tokio::test]
async fn a_denied_list_parents_is_an_error_naming_it() {
    let rule = answers!(Client::list_parents, status 400, access_denied());

    let error = organization(&[&rule]).parent_of(ACCOUNT).await;

    let error = error.expect_err("denied");
    assert_failed(
        &error,
        "Organizations",
        "ListParents",
        "You don't have permissions",
    );
}

// ---------------------------------------------------------------------------------------------
// ListTagsForResource: only the mode tag
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_mode_tag_is_found_among_others_on_a_later_page() {
    let (requests, log): (RequestLog<ListTagsForResourceInput>, _) = request_log();
    let first = tags_json(&[("team", "payments"), ("mode", "report")]);
    let second = tags_json(&[("access-key-remediator:mode", "delete"), ("owner", "ops")]);
    let rule = mock!(Client::list_tags_for_resource)
        .match_requests(log)
        .sequence()
        .http_status(200, Some(page("Tags", first, Some("token-2"))))
        .http_status(200, Some(page("Tags", second, None)))
        .build();

    let tag = organization(&[&rule]).mode_tag(UNIT).await;

    assert_eq!(tag.expect("answered").as_deref(), Some("delete"));
    let requests = requests.lock().unwrap();
    let asked: Vec<_> = requests
        .iter()
        .map(|r| (r.resource_id(), r.next_token()))
        .collect();
    assert_eq!(asked, [(Some(UNIT), None), (Some(UNIT), Some("token-2"))]);
}

#[tokio::test]
async fn without_the_mode_tag_there_is_none_after_every_page() {
    // Organizations' tag keys are case-sensitive: the second page's is not the mode tag.
    let rule = answers!(
        Client::list_tags_for_resource,
        page("Tags", tags_json(&[("team", "payments")]), Some("token-2")),
        page(
            "Tags",
            tags_json(&[("Access-Key-Remediator:Mode", "delete")]),
            None
        ),
    );

    let tag = organization(&[&rule]).mode_tag(ACCOUNT).await;

    assert_eq!(tag.expect("answered"), None);
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn a_tag_value_is_returned_as_written_for_the_caller_to_judge() {
    let tags = tags_json(&[("access-key-remediator:mode", "Delete!")]);
    let rule = answers!(Client::list_tags_for_resource, page("Tags", tags, None));

    let tag = organization(&[&rule]).mode_tag(ROOT).await;

    assert_eq!(tag.expect("answered").as_deref(), Some("Delete!"));
}

// ---------------------------------------------------------------------------------------------
// IAM ListRoleTags: the member role's ceiling
// ---------------------------------------------------------------------------------------------

fn list_role_tags_xml(tags: &[(&str, &str)], marker: Option<&str>) -> String {
    let members: String = tags
        .iter()
        .map(|(key, value)| format!("<member><Key>{key}</Key><Value>{value}</Value></member>"))
        .collect();
    let marker = marker.map_or(String::new(), |m| format!("<Marker>{m}</Marker>"));
    format!(
        r#"<ListRoleTagsResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListRoleTagsResult>
    <Tags>{members}</Tags>
    <IsTruncated>{}</IsTruncated>{marker}
  </ListRoleTagsResult>
  <ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>
</ListRoleTagsResponse>"#,
        !marker.is_empty()
    )
}

#[tokio::test]
async fn the_ceiling_tag_is_read_from_the_roles_later_page() {
    let rule = answers!(
        aws_sdk_iam::Client::list_role_tags,
        list_role_tags_xml(&[("owner", "security")], Some("marker-2")),
        // IAM's tag keys ignore case: any spelling is the ceiling tag.
        list_role_tags_xml(&[("Access-Key-Remediator:Ceiling", "deactivate")], None),
    );

    let ceiling = iam(&[&rule]).role_tag(ROLE, CEILING_TAG_KEY).await;

    assert_eq!(ceiling.expect("answered").as_deref(), Some("deactivate"));
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn a_role_without_the_tag_has_none() {
    let rule = answers!(
        aws_sdk_iam::Client::list_role_tags,
        list_role_tags_xml(&[("owner", "security")], None)
    );

    let ceiling = iam(&[&rule]).role_tag(ROLE, CEILING_TAG_KEY).await;

    assert_eq!(ceiling.expect("answered"), None);
}

#[tokio::test]
async fn a_role_iam_does_not_have_has_no_tag() {
    let message = format!("The role with name {ROLE} cannot be found.");
    let no_such_role = iam_error_xml("Sender", "NoSuchEntity", &message);
    let rule = answers!(aws_sdk_iam::Client::list_role_tags, status 404, no_such_role);

    let ceiling = iam(&[&rule]).role_tag(ROLE, CEILING_TAG_KEY).await;

    assert_eq!(ceiling.expect("NoSuchEntity is not an error"), None);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_denied_list_role_tags_is_an_error_naming_it() {
    // A member stack from before the ceiling grants no iam:ListRoleTags.
    let message =
        format!("User is not authorized to perform: iam:ListRoleTags on resource: role {ROLE}");
    let denied = iam_error_xml("Sender", "AccessDenied", &message);
    let rule = answers!(aws_sdk_iam::Client::list_role_tags, status 403, denied);

    let error = iam(&[&rule]).role_tag(ROLE, CEILING_TAG_KEY).await;

    let error = error.expect_err("denied");
    assert_failed(&error, "IAM", "ListRoleTags", "iam:ListRoleTags");
}
