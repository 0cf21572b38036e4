//! Security Hub findings the function does not act on: another control, or a finding that
//! passed, was archived or is suppressed (ignored with a reason), and malformed ones (refused
//! naming the field). None costs an AWS call.

use access_key_remediator::handler::HandlerError;
use access_key_remediator::report::Outcome;
use access_key_remediator::settings::Settings;
use serde_json::json;

use super::run;
use super::security_hub::{seed_alice, with_finding};
use crate::support::{Emulator, fixture};

#[tokio::test]
async fn suppressed_passed_archived_and_other_control_findings_are_ignored_at_no_cost() {
    let mut aws = Emulator::start();
    let keys = seed_alice(&mut aws, json!([{ "ageDays": 400 }]));
    let passed = with_finding(|f| f["Compliance"]["Status"] = json!("PASSED"));
    let archived = with_finding(|f| f["RecordState"] = json!("ARCHIVED"));
    let other = with_finding(|f| {
        f["Compliance"]["SecurityControlId"] = json!("IAM.4");
        f["GeneratorId"] = json!("security-control/IAM.4");
    });
    let remediator = aws.remediator(Settings::default());
    let before = aws.calls();

    for (name, event, says) in [
        (
            "suppressed",
            fixture("security-hub-suppressed.json"),
            "SUPPRESSED",
        ),
        ("passed", passed, "PASSED"),
        ("archived", archived, "ARCHIVED"),
        ("IAM.4", other, "not of IAM.3 or IAM.8"),
    ] {
        let report = run(&remediator, event).await.unwrap();
        assert_eq!(report.outcome, Outcome::Ignored, "{name}");
        let reason = report.reason.unwrap_or_default();
        assert!(reason.contains(says), "{name}: {reason}");
        assert!(
            report.api_calls.is_empty(),
            "{name}: {:?}",
            report.api_calls
        );
    }
    assert_eq!(aws.calls(), before, "no AWS call at all");
    assert_eq!(aws.key_states("alice").await[&keys[0]], "Active");
}

#[tokio::test]
async fn a_malformed_finding_is_refused_naming_the_field_with_no_aws_call() {
    let mut aws = Emulator::start();
    seed_alice(&mut aws, json!([{ "ageDays": 400 }]));
    let no_account = with_finding(|f| {
        f.as_object_mut().unwrap().remove("AwsAccountId");
    });
    let bad_account = with_finding(|f| f["AwsAccountId"] = json!("12345"));
    let no_user = with_finding(|f| f["Resources"][0]["Type"] = json!("AwsIamRole"));
    let mut two_findings = fixture("security-hub-iam3.json");
    let finding = two_findings["detail"]["findings"][0].clone();
    two_findings["detail"]["findings"] = json!([finding.clone(), finding]);
    let remediator = aws.remediator(Settings::default());
    let before = aws.calls();

    for (event, field) in [
        (no_account, "AwsAccountId"),
        (bad_account, "detail.findings[0].AwsAccountId"),
        (no_user, "detail.findings[0].Resources"),
        (two_findings, "detail.findings"),
    ] {
        let error = run(&remediator, event).await.unwrap_err();
        assert!(matches!(error, HandlerError::Intake(_)), "{error:?}");
        assert!(error.to_string().contains(field), "{error}");
    }
    assert_eq!(aws.calls(), before, "no AWS call at all");
}
