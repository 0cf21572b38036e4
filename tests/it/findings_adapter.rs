//! Layer-2 tests of the Security Hub and Access Analyzer adapter: `AwsFindings` through the
//! `FindingsWorkflow` and `UnusedAccessFindings` ports, against real `aws_sdk_securityhub` and
//! `aws_sdk_accessanalyzer` clients whose transport is `aws-smithy-mocks`. Both services speak
//! restJson1; the mocks answer with their JSON bodies and error headers, so the SDKs' real
//! deserializers, error parsing and retry classifiers run.

use access_key_remediator::aws::findings::AwsFindings;
use access_key_remediator::aws::{
    FindingUpdate, FindingsWorkflow, NOTE_AUTHOR, UnusedAccessFindings, UnusedKeyFinding,
    WorkflowStatus, error_chain,
};
use access_key_remediator::domain::ids::AccessKeyId;
use aws_sdk_accessanalyzer::Client as AnalyzerClient;
use aws_sdk_accessanalyzer::operation::get_analyzer::GetAnalyzerInput;
use aws_sdk_accessanalyzer::operation::get_finding_v2::GetFindingV2Input;
use aws_sdk_securityhub::Client as SecurityHubClient;
use aws_sdk_securityhub::operation::batch_update_findings::BatchUpdateFindingsInput;
use aws_sdk_securityhub::types::WorkflowStatus as SdkWorkflowStatus;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::support::mocks::{RequestLog, request_log, rest_json_error, three_quick_attempts};

const FINDING_ID: &str = "arn:aws:securityhub:us-east-1:123456789012:security-control/IAM.3/finding/0f3e5a3c-8d2b-4b8e-9c1a-6e2f4d7b9a10";
const PRODUCT_ARN: &str = "arn:aws:securityhub:us-east-1::product/aws/securityhub";
const ANALYZER_NAME: &str = "ConsoleAnalyzer-unused-3f9c";
const ANALYZER_ARN: &str =
    "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/ConsoleAnalyzer-unused-3f9c";
const ANALYZER_FINDING: &str = "b7e4c2a0-5d1f-4e8a-9b3c-2a6f0d8e1c47";
const USER_ARN: &str = "arn:aws:iam::123456789012:user/engineering/alice";
const KEY: &str = "AKIAZ4ALICEOLDKEY0001";

// ---------------------------------------------------------------------------------------------
// Clients and canned responses
// ---------------------------------------------------------------------------------------------

/// An adapter whose Security Hub answers from `security_hub` and whose Access Analyzer
/// answers from `analyzer`, each in order, allowing three quick attempts.
fn findings(security_hub: &[&Rule], analyzer: &[&Rule]) -> AwsFindings {
    AwsFindings::new(
        mock_client!(
            aws_sdk_securityhub,
            RuleMode::Sequential,
            security_hub,
            |config| config.retry_config(three_quick_attempts())
        ),
        mock_client!(
            aws_sdk_accessanalyzer,
            RuleMode::Sequential,
            analyzer,
            |config| config.retry_config(three_quick_attempts())
        ),
    )
}

fn update(status: WorkflowStatus) -> FindingUpdate {
    FindingUpdate {
        finding_id: FINDING_ID.to_owned(),
        product_arn: PRODUCT_ARN.to_owned(),
        status,
        note: format!("{NOTE_AUTHOR} (REMEDIATION_MODE=delete): {KEY} deactivated."),
    }
}

/// A BatchUpdateFindings body: the finding processed, or left unprocessed with this code.
fn batch_update_answer(unprocessed: Option<(&str, &str)>) -> String {
    let identifier = json!({ "Id": FINDING_ID, "ProductArn": PRODUCT_ARN });
    let answer = match unprocessed {
        None => json!({ "ProcessedFindings": [identifier], "UnprocessedFindings": [] }),
        Some((code, message)) => json!({
            "ProcessedFindings": [],
            "UnprocessedFindings": [
                { "FindingIdentifier": identifier, "ErrorCode": code, "ErrorMessage": message }
            ],
        }),
    };
    answer.to_string()
}

/// A rule answering BatchUpdateFindings once with `body`, logging the request it got.
fn batch_update_findings(body: String) -> (Rule, RequestLog<BatchUpdateFindingsInput>) {
    let (requests, log) = request_log();
    let rule = mock!(SecurityHubClient::batch_update_findings)
        .match_requests(log)
        .sequence()
        .http_status(200, Some(body))
        .build();
    (rule, requests)
}

/// A GetFindingV2 body for an unused-access finding on alice, with these details.
fn finding_v2(finding_type: &str, status: &str, details: Value) -> String {
    json!({
        "id": ANALYZER_FINDING,
        "resource": USER_ARN,
        "resourceType": "AWS::IAM::User",
        "resourceOwnerAccount": "123456789012",
        "status": status,
        "findingType": finding_type,
        "analyzedAt": "2026-11-20T09:00:00Z",
        "createdAt": "2026-10-01T08:00:00Z",
        "updatedAt": "2026-11-20T09:00:00Z",
        "findingDetails": [details],
    })
    .to_string()
}

fn unused_key_details(last_accessed: Option<&str>) -> Value {
    let mut key = json!({ "accessKeyId": KEY });
    if let Some(at) = last_accessed {
        key["lastAccessed"] = json!(at);
    }
    json!({ "unusedIamUserAccessKeyDetails": key })
}

/// A rule answering GetFindingV2 once with `body`, logging the request it got.
fn get_finding_v2(body: String) -> (Rule, RequestLog<GetFindingV2Input>) {
    let (requests, log) = request_log();
    let rule = mock!(AnalyzerClient::get_finding_v2)
        .match_requests(log)
        .sequence()
        .http_status(200, Some(body))
        .build();
    (rule, requests)
}

fn analyzer_body(configuration: Option<Value>) -> String {
    let mut analyzer = json!({
        "arn": ANALYZER_ARN,
        "name": ANALYZER_NAME,
        "type": "ACCOUNT_UNUSED_ACCESS",
        "createdAt": "2026-01-10T12:00:00Z",
        "status": "ACTIVE",
    });
    if let Some(configuration) = configuration {
        analyzer["configuration"] = configuration;
    }
    json!({ "analyzer": analyzer }).to_string()
}

fn get_analyzer(body: String) -> (Rule, RequestLog<GetAnalyzerInput>) {
    let (requests, log) = request_log();
    let rule = mock!(AnalyzerClient::get_analyzer)
        .match_requests(log)
        .sequence()
        .http_status(200, Some(body))
        .build();
    (rule, requests)
}

// ---------------------------------------------------------------------------------------------
// BatchUpdateFindings
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn update_finding_sends_the_finding_its_workflow_status_and_a_note_by_us_alone() {
    for (status, sent) in [
        (WorkflowStatus::Resolved, SdkWorkflowStatus::Resolved),
        (WorkflowStatus::Notified, SdkWorkflowStatus::Notified),
    ] {
        let (rule, requests) = batch_update_findings(batch_update_answer(None));
        let wanted = update(status);

        findings(&[&rule], &[])
            .update_finding(&wanted)
            .await
            .expect("the finding is processed");

        let requests = requests.lock().unwrap();
        assert_eq!(requests.len(), 1, "{status:?}");
        let request = &requests[0];
        let identifiers: Vec<(Option<&str>, Option<&str>)> = request
            .finding_identifiers()
            .iter()
            .map(|id| (id.id(), id.product_arn()))
            .collect();
        assert_eq!(
            identifiers,
            [(Some(FINDING_ID), Some(PRODUCT_ARN))],
            "{status:?}"
        );
        assert_eq!(
            request.workflow().and_then(|w| w.status()),
            Some(&sent),
            "{status:?}"
        );
        let note = request.note().expect("a note is sent");
        assert_eq!(note.text(), Some(wanted.note.as_str()), "{status:?}");
        assert_eq!(
            note.updated_by(),
            Some("access-key-remediator"),
            "{status:?}"
        );
        // Severity, verification, criticality and the rest are the security team's.
        let untouched = (
            request.severity(),
            request.verification_state(),
            request.criticality(),
            request.confidence(),
            request.types(),
            request.user_defined_fields(),
            request.related_findings(),
        );
        assert_eq!(
            untouched,
            (None, None, None, None, &[][..], None, &[][..]),
            "{status:?}"
        );
    }
}

#[tokio::test]
async fn an_unprocessed_finding_is_an_error_naming_its_error_code() {
    let (rule, _requests) = batch_update_findings(batch_update_answer(Some((
        "FindingNotFound",
        "Finding not found",
    ))));

    let error = findings(&[&rule], &[])
        .update_finding(&update(WorkflowStatus::Resolved))
        .await
        .expect_err("an unprocessed finding was not updated");

    assert_eq!(
        (error.service, error.operation),
        ("SecurityHub", "BatchUpdateFindings")
    );
    let chain = error_chain(&error);
    assert!(chain.contains("FindingNotFound"), "{chain}");
    assert!(chain.contains(FINDING_ID), "{chain}");
    assert_eq!(rule.num_calls(), 1, "an answer, not retried");
}

#[tokio::test]
async fn a_security_hub_server_error_is_retried_by_the_sdk() {
    let rule = mock!(SecurityHubClient::batch_update_findings)
        .sequence()
        .http_response(|| rest_json_error(500, "InternalException", "Internal service error"))
        .http_status(200, Some(batch_update_answer(None)))
        .build();

    findings(&[&rule], &[])
        .update_finding(&update(WorkflowStatus::Notified))
        .await
        .expect("the second attempt succeeds");

    assert_eq!(rule.num_calls(), 2, "a 500, then success");
}

#[tokio::test]
async fn a_refused_update_is_an_error_and_not_retried() {
    let rule = mock!(SecurityHubClient::batch_update_findings)
        .sequence()
        .http_response(|| {
            rest_json_error(
                401,
                "InvalidAccessException",
                "Account 123456789012 is not subscribed to AWS Security Hub",
            )
        })
        .http_status(200, Some(batch_update_answer(None)))
        .build();

    let error = findings(&[&rule], &[])
        .update_finding(&update(WorkflowStatus::Resolved))
        .await
        .expect_err("a refusal is an error");

    assert_eq!(
        (error.service, error.operation),
        ("SecurityHub", "BatchUpdateFindings")
    );
    let chain = error_chain(&error);
    assert!(chain.contains("InvalidAccessException"), "{chain}");
    assert_eq!(rule.num_calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// GetFindingV2
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unused_access_finding_reads_the_key_and_its_last_access() {
    let (rule, requests) = get_finding_v2(finding_v2(
        "UnusedIAMUserAccessKey",
        "ACTIVE",
        unused_key_details(Some("2026-04-02T17:30:00Z")),
    ));

    let finding = findings(&[], &[&rule])
        .unused_access_finding(ANALYZER_ARN, ANALYZER_FINDING)
        .await
        .expect("GetFindingV2 succeeds");

    assert_eq!(
        finding,
        Some(UnusedKeyFinding {
            finding_type: "UnusedIAMUserAccessKey".to_owned(),
            status: "ACTIVE".to_owned(),
            resource: Some(USER_ARN.to_owned()),
            access_key_id: Some(AccessKeyId::parse(KEY).unwrap()),
            last_accessed: Some(datetime!(2026-04-02 17:30:00 UTC)),
        })
    );
    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].analyzer_arn(), Some(ANALYZER_ARN));
    assert_eq!(requests[0].id(), Some(ANALYZER_FINDING));
}

#[tokio::test]
async fn a_key_never_used_has_no_last_access() {
    let (rule, _requests) = get_finding_v2(finding_v2(
        "UnusedIAMUserAccessKey",
        "ACTIVE",
        unused_key_details(None),
    ));

    let finding = findings(&[], &[&rule])
        .unused_access_finding(ANALYZER_ARN, ANALYZER_FINDING)
        .await
        .expect("GetFindingV2 succeeds")
        .expect("the finding exists");

    assert_eq!(
        finding.access_key_id,
        Some(AccessKeyId::parse(KEY).unwrap())
    );
    assert_eq!(finding.last_accessed, None);
}

/// A finding of another kind is read as it is, with no key: the pipeline ignores it.
#[tokio::test]
async fn a_finding_of_another_type_names_no_key() {
    let (rule, _requests) = get_finding_v2(finding_v2(
        "UnusedIAMUserPassword",
        "RESOLVED",
        json!({ "unusedIamUserPasswordDetails": { "lastAccessed": "2026-01-01T00:00:00Z" } }),
    ));

    let finding = findings(&[], &[&rule])
        .unused_access_finding(ANALYZER_ARN, ANALYZER_FINDING)
        .await
        .expect("GetFindingV2 succeeds")
        .expect("the finding exists");

    assert_eq!(finding.finding_type, "UnusedIAMUserPassword");
    assert_eq!(finding.status, "RESOLVED");
    assert_eq!((finding.access_key_id, finding.last_accessed), (None, None));
}

#[tokio::test]
async fn a_finding_the_analyzer_no_longer_has_is_none() {
    let rule = mock!(AnalyzerClient::get_finding_v2)
        .sequence()
        .http_response(|| rest_json_error(404, "ResourceNotFoundException", "Finding not found"))
        .build();

    let finding = findings(&[], &[&rule])
        .unused_access_finding(ANALYZER_ARN, ANALYZER_FINDING)
        .await
        .expect("a missing finding is an answer");

    assert_eq!(finding, None);
    assert_eq!(rule.num_calls(), 1, "an answer, not retried");
}

#[tokio::test]
async fn a_refused_finding_read_is_an_error() {
    let rule = mock!(AnalyzerClient::get_finding_v2)
        .sequence()
        .http_response(|| {
            rest_json_error(
                403,
                "AccessDeniedException",
                "User is not authorized to perform: access-analyzer:GetFindingV2",
            )
        })
        .build();

    let error = findings(&[], &[&rule])
        .unused_access_finding(ANALYZER_ARN, ANALYZER_FINDING)
        .await
        .expect_err("a refusal is an error");

    assert_eq!(
        (error.service, error.operation),
        ("AccessAnalyzer", "GetFindingV2")
    );
    assert_eq!(rule.num_calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// GetAnalyzer
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unused_access_age_is_read_from_the_analyzer_asked_for_by_name() {
    let configuration = json!({ "unusedAccess": { "unusedAccessAge": 120 } });
    let (rule, requests) = get_analyzer(analyzer_body(Some(configuration)));

    let days = findings(&[], &[&rule])
        .unused_access_age_days(ANALYZER_ARN)
        .await
        .expect("GetAnalyzer succeeds");

    assert_eq!(days, Some(120));
    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].analyzer_name(),
        Some(ANALYZER_NAME),
        "GetAnalyzer takes the name, not the ARN"
    );
}

#[tokio::test]
async fn an_analyzer_without_an_unused_access_age_has_none() {
    for configuration in [None, Some(json!({ "unusedAccess": {} }))] {
        let (rule, _requests) = get_analyzer(analyzer_body(configuration.clone()));

        let days = findings(&[], &[&rule])
            .unused_access_age_days(ANALYZER_ARN)
            .await
            .expect("GetAnalyzer succeeds");

        assert_eq!(days, None, "{configuration:?}");
    }
}

#[tokio::test]
async fn a_missing_analyzer_is_an_error() {
    let rule = mock!(AnalyzerClient::get_analyzer)
        .sequence()
        .http_response(|| rest_json_error(404, "ResourceNotFoundException", "Analyzer not found"))
        .build();

    let error = findings(&[], &[&rule])
        .unused_access_age_days(ANALYZER_ARN)
        .await
        .expect_err("no analyzer, no age");

    assert_eq!(
        (error.service, error.operation),
        ("AccessAnalyzer", "GetAnalyzer")
    );
}
