//! Layer-2 tests of the AWS Config adapter: `AwsConfigInventory` through the `UserInventory`
//! port, against a real `aws_sdk_config::Client` whose transport is `aws-smithy-mocks`. Config
//! speaks awsJson1_1, so the mock answers with Config's JSON bodies and the SDK's real
//! deserializer and retry classifier run.

use access_key_remediator::aws::UserInventory;
use access_key_remediator::aws::config::AwsConfigInventory;
use access_key_remediator::domain::ids::UserId;
use aws_sdk_config::Client;
use aws_sdk_config::operation::list_discovered_resources::ListDiscoveredResourcesInput;
use aws_sdk_config::types::ResourceType;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

use crate::support::mocks::{RequestLog, request_log, three_quick_attempts};

const USER_ID: &str = "AIDAJQABLZS4A3QDU576Q";

fn user_id() -> UserId {
    UserId::parse(USER_ID).expect("a valid UserId")
}

/// An adapter whose client answers from `rules`, in order, allowing three quick attempts.
fn inventory(rules: &[&Rule]) -> AwsConfigInventory {
    AwsConfigInventory::new(mock_client!(
        aws_sdk_config,
        RuleMode::Sequential,
        rules,
        |config| config.retry_config(three_quick_attempts())
    ))
}

/// A ListDiscoveredResources response body, as Config sends it.
fn discovered(identifiers: &[(&str, &str)]) -> String {
    let identifiers: Vec<String> = identifiers
        .iter()
        .map(|(id, name)| {
            format!(
                r#"{{"resourceType":"AWS::IAM::User","resourceId":"{id}","resourceName":"{name}"}}"#
            )
        })
        .collect();
    format!(r#"{{"resourceIdentifiers":[{}]}}"#, identifiers.join(","))
}

/// A rule answering ListDiscoveredResources once with `body`, logging the request it got.
fn list_discovered_resources(body: String) -> (Rule, RequestLog<ListDiscoveredResourcesInput>) {
    let (requests, log) = request_log();
    let rule = mock!(Client::list_discovered_resources)
        .match_requests(log)
        .sequence()
        .http_status(200, Some(body))
        .build();
    (rule, requests)
}

#[tokio::test]
async fn user_name_for_id_returns_the_resource_name_config_recorded() {
    let (rule, _requests) = list_discovered_resources(discovered(&[(USER_ID, "alice")]));

    let name = inventory(&[&rule])
        .user_name_for_id(&user_id())
        .await
        .expect("ListDiscoveredResources succeeds");

    assert_eq!(name.as_deref(), Some("alice"));
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn user_name_for_id_asks_config_for_exactly_that_iam_user() {
    let (rule, requests) = list_discovered_resources(discovered(&[(USER_ID, "alice")]));

    inventory(&[&rule])
        .user_name_for_id(&user_id())
        .await
        .expect("ListDiscoveredResources succeeds");

    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].resource_type(), Some(&ResourceType::User));
    assert_eq!(
        requests[0].resource_type().map(ResourceType::as_str),
        Some("AWS::IAM::User")
    );
    assert_eq!(requests[0].resource_ids(), [USER_ID]);
}

#[tokio::test]
async fn user_name_for_id_returns_none_when_config_has_no_record() {
    let (rule, _requests) = list_discovered_resources(discovered(&[]));

    let name = inventory(&[&rule])
        .user_name_for_id(&user_id())
        .await
        .expect("ListDiscoveredResources succeeds");

    assert_eq!(name, None);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn user_name_for_id_ignores_a_record_for_a_different_id() {
    let (rule, _requests) =
        list_discovered_resources(discovered(&[("AIDAOTHERUSER0000001", "mallory")]));

    let name = inventory(&[&rule])
        .user_name_for_id(&user_id())
        .await
        .expect("ListDiscoveredResources succeeds");

    assert_eq!(name, None);
}

#[tokio::test]
async fn a_config_server_error_after_every_retry_is_a_config_error() {
    // The rule would fail five times; the client must give up after its three attempts.
    let rule = mock!(Client::list_discovered_resources)
        .sequence()
        .http_status(
            500,
            Some(
                r#"{"__type":"InternalFailure","message":"An internal error occurred."}"#
                    .to_owned(),
            ),
        )
        .times(5)
        .build();

    let error = inventory(&[&rule])
        .user_name_for_id(&user_id())
        .await
        .expect_err("a 500 on every attempt is an error");

    assert_eq!(error.service, "Config");
    assert_eq!(error.operation, "ListDiscoveredResources");
    assert_eq!(error.to_string(), "Config ListDiscoveredResources failed");
    assert_eq!(rule.num_calls(), 3, "max_attempts is 3");
}
