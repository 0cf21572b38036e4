//! Layer-2 tests of the AWS Config adapter: `AwsConfigInventory` through the `UserInventory`
//! and `ConfigRules` ports, against a real `aws_sdk_config::Client` whose transport is `aws-smithy-mocks`. Config
//! speaks awsJson1_1, so the mock answers with Config's JSON bodies and the SDK's real
//! deserializer and retry classifier run.

use access_key_remediator::aws::config::AwsConfigInventory;
use access_key_remediator::aws::{ConfigRules, UserInventory};
use access_key_remediator::domain::ids::UserId;
use access_key_remediator::domain::rules::{ACCESS_KEYS_ROTATED, RuleLookup, RuleSource};
use aws_sdk_config::Client;
use aws_sdk_config::operation::describe_config_rules::DescribeConfigRulesInput;
use aws_sdk_config::operation::list_discovered_resources::ListDiscoveredResourcesInput;
use aws_sdk_config::types::ResourceType;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde_json::{Value, json};

use crate::support::mocks::{RequestLog, json_error, request_log, three_quick_attempts};

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

// ---------------------------------------------------------------------------------------------
// DescribeConfigRules: what the rule whose event arrived is
// ---------------------------------------------------------------------------------------------

/// The name Security Hub's CIS standard gives the managed rule in each account.
const SECURITY_HUB_RULE: &str = "securityhub-access-keys-rotated-3f9c1a";

/// A DescribeConfigRules response body holding one rule, as Config sends it; `rule` holds
/// the fields beyond the name (`Source`, `InputParameters`, …).
fn described(rule_name: &str, mut rule: Value) -> String {
    rule["ConfigRuleName"] = json!(rule_name);
    rule["ConfigRuleArn"] =
        json!("arn:aws:config:us-east-1:123456789012:config-rule/config-rule-7a3kq1");
    rule["ConfigRuleState"] = json!("ACTIVE");
    json!({ "ConfigRules": [rule] }).to_string()
}

/// The AWS-managed ACCESS_KEYS_ROTATED with these input parameters (a JSON object as a
/// string, as Config keeps them), or none.
fn managed_rule(input_parameters: Option<&str>) -> Value {
    let mut rule = json!({
        "Source": { "Owner": "AWS", "SourceIdentifier": ACCESS_KEYS_ROTATED },
        "Scope": { "ComplianceResourceTypes": ["AWS::IAM::User"] },
        "MaximumExecutionFrequency": "TwentyFour_Hours",
    });
    if let Some(parameters) = input_parameters {
        rule["InputParameters"] = json!(parameters);
    }
    rule
}

/// A rule answering DescribeConfigRules once with HTTP `status` and `body`, logging the
/// request it got.
fn describe_config_rules(
    status: u16,
    body: String,
) -> (Rule, RequestLog<DescribeConfigRulesInput>) {
    let (requests, log) = request_log();
    let rule = mock!(Client::describe_config_rules)
        .match_requests(log)
        .sequence()
        .http_status(status, Some(body))
        .build();
    (rule, requests)
}

fn managed(max_access_key_age: Option<u32>) -> RuleLookup {
    RuleLookup::Described(RuleSource {
        owner: "AWS".to_owned(),
        identifier: ACCESS_KEYS_ROTATED.to_owned(),
        max_access_key_age,
    })
}

#[tokio::test]
async fn describe_rule_reads_the_managed_rule_and_its_max_access_key_age() {
    let (rule, requests) = describe_config_rules(
        200,
        described(
            SECURITY_HUB_RULE,
            managed_rule(Some(r#"{"maxAccessKeyAge":"60"}"#)),
        ),
    );

    let lookup = inventory(&[&rule]).describe_rule(SECURITY_HUB_RULE).await;

    assert_eq!(lookup, managed(Some(60)));
    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].config_rule_names(),
        [SECURITY_HUB_RULE],
        "exactly the event's rule is asked about"
    );
}

/// Config keeps every input parameter as a string; the managed rule's default (no
/// parameter) is left for the caller to read as 90.
#[tokio::test]
async fn describe_rule_reads_max_access_key_age_in_each_form_config_keeps_it() {
    let cases = [
        (Some(r#"{"maxAccessKeyAge":"60"}"#), Some(60)),
        (Some(r#"{"maxAccessKeyAge":" 45 "}"#), Some(45)),
        (Some(r#"{"maxAccessKeyAge":30}"#), Some(30)),
        (Some(r#"{}"#), None),
        (Some(r#"{"maxAccessKeyAge":"ninety"}"#), None),
        (Some("not json"), None),
        (None, None),
    ];
    for (parameters, expected) in cases {
        let (rule, _requests) =
            describe_config_rules(200, described(SECURITY_HUB_RULE, managed_rule(parameters)));

        let lookup = inventory(&[&rule]).describe_rule(SECURITY_HUB_RULE).await;

        assert_eq!(lookup, managed(expected), "InputParameters {parameters:?}");
    }
}

#[tokio::test]
async fn describe_rule_reads_a_custom_rule_as_its_owner_and_lambda() {
    let lambda = "arn:aws:lambda:us-east-1:123456789012:function:rotate-check";
    let (rule, _requests) = describe_config_rules(
        200,
        described(
            "key-rotation-check",
            json!({ "Source": { "Owner": "CUSTOM_LAMBDA", "SourceIdentifier": lambda } }),
        ),
    );

    let lookup = inventory(&[&rule])
        .describe_rule("key-rotation-check")
        .await;

    assert_eq!(
        lookup,
        RuleLookup::Described(RuleSource {
            owner: "CUSTOM_LAMBDA".to_owned(),
            identifier: lambda.to_owned(),
            max_access_key_age: None,
        })
    );
}

#[tokio::test]
async fn describe_rule_is_not_found_when_config_has_no_such_rule() {
    let (rule, _requests) = describe_config_rules(
        400,
        json_error(
            "NoSuchConfigRuleException",
            "The ConfigRule 'access-keys-rotated' provided in the request is invalid. Please \
             check the configRule name.",
        ),
    );

    let lookup = inventory(&[&rule])
        .describe_rule("access-keys-rotated")
        .await;

    assert_eq!(lookup, RuleLookup::NotFound);
    assert_eq!(rule.num_calls(), 1, "an answer, not retried");
}

/// An answer naming only other rules says nothing about this one.
#[tokio::test]
async fn describe_rule_is_not_found_when_the_answer_names_another_rule() {
    let (rule, _requests) =
        describe_config_rules(200, described("another-rule", managed_rule(None)));

    let lookup = inventory(&[&rule])
        .describe_rule("access-keys-rotated")
        .await;

    assert_eq!(lookup, RuleLookup::NotFound);
}

#[tokio::test]
async fn describe_rule_is_unknown_when_the_role_may_not_describe_rules() {
    let (rule, _requests) = describe_config_rules(
        400,
        json_error(
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/access-key-remediator/fn is not \
             authorized to perform: config:DescribeConfigRules",
        ),
    );

    let lookup = inventory(&[&rule]).describe_rule(SECURITY_HUB_RULE).await;

    assert_eq!(lookup, RuleLookup::Unknown);
    assert_eq!(rule.num_calls(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn describe_rule_is_unknown_when_config_fails_on_every_retry() {
    let rule = mock!(Client::describe_config_rules)
        .sequence()
        .http_status(
            500,
            Some(json_error("InternalFailure", "An internal error occurred.")),
        )
        .times(5)
        .build();

    let lookup = inventory(&[&rule]).describe_rule(SECURITY_HUB_RULE).await;

    assert_eq!(lookup, RuleLookup::Unknown);
    assert_eq!(rule.num_calls(), 3, "max_attempts is 3");
}
