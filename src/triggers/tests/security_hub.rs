//! Security Hub "Findings - Imported" events: which controls, statuses and shapes are acted
//! on, ignored with a reason, or refused naming the ASFF field.

use super::*;

const FINDING_ID: &str =
    "arn:aws:securityhub:us-east-1:210987654321:security-control/IAM.3/finding/0a1b2c3d";
const PRODUCT_ARN: &str = "arn:aws:securityhub:us-east-1::product/aws/securityhub";
const FINDING: &str = "/detail/findings/0";

/// An IAM.3 finding against alice in member account 210987654321, forwarded to the Security
/// Hub administrator account 123456789012.
fn event() -> Value {
    json!({
        "version": "0",
        "id": "8e5622f9-d81c-4d81-612a-9319e7ee2506",
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": "123456789012",
        "time": "2026-11-20T09:14:03Z",
        "region": "us-east-1",
        "resources": [FINDING_ID],
        "detail": { "findings": [{
            "SchemaVersion": "2018-10-08",
            "Id": FINDING_ID,
            "ProductArn": PRODUCT_ARN,
            "GeneratorId": "security-control/IAM.3",
            "AwsAccountId": "210987654321",
            "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
            "Title": "IAM users' access keys should be rotated every 90 days or less",
            "Compliance": { "Status": "FAILED", "SecurityControlId": "IAM.3" },
            "RecordState": "ACTIVE",
            "Workflow": { "Status": "NEW" },
            "WorkflowState": "NEW",
            "Resources": [{
                "Type": "AwsIamUser",
                "Id": "arn:aws:iam::210987654321:user/alice",
                "Partition": "aws",
                "Region": "us-east-1",
                "Details": { "AwsIamUser": {
                    "UserName": "alice",
                    "UserId": "AIDAEXAMPLEALICE0001"
                }}
            }]
        }]}
    })
}

/// The finding named by its `GeneratorId` alone, as findings without consolidated control
/// ids are.
fn generated_by(generator_id: &str) -> Value {
    let payload = without(
        event(),
        &format!("{FINDING}/Compliance"),
        "SecurityControlId",
    );
    with(
        payload,
        &format!("{FINDING}/GeneratorId"),
        json!(generator_id),
    )
}

fn finding_with(field: &str, value: Value) -> Value {
    with(event(), &format!("{FINDING}/{field}"), value)
}

fn control_of(payload: Value, case: &str) -> Control {
    match remediated(payload, case).cause {
        Cause::SecurityHub(finding) => finding.control,
        other => panic!("{case}: expected a Security Hub cause, got {other:?}"),
    }
}

#[test]
fn a_failed_new_iam3_finding_is_remediated_in_the_findings_account() {
    assert_eq!(
        classify(event()),
        Ok(Work::Remediate(UserTarget {
            user: UserRef::Name {
                user_name: "alice".into(),
                user_id: Some(user_id("AIDAEXAMPLEALICE0001")),
            },
            // The finding's account, not the administrator account the event comes from.
            account: account("210987654321"),
            cause: Cause::SecurityHub(SecurityHubFinding {
                id: FINDING_ID.into(),
                product_arn: PRODUCT_ARN.into(),
                control: Control::KeyRotation,
                workflow_status: "NEW".into(),
                note: None,
            }),
        }))
    );
}

#[test]
fn each_way_security_hub_names_iam3_and_iam8_is_recognised() {
    let key_rotation = [
        "security-control/IAM.3",
        "aws-foundational-security-best-practices/v/1.0.0/IAM.3",
        "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.4",
        "cis-aws-foundations-benchmark/v/1.4.0/1.14",
    ];
    let unused_credentials = [
        "security-control/IAM.8",
        "aws-foundational-security-best-practices/v/1.0.0/IAM.8",
        "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.3",
        "cis-aws-foundations-benchmark/v/1.4.0/1.12",
    ];
    for generator in key_rotation {
        assert_eq!(
            control_of(generated_by(generator), generator),
            Control::KeyRotation,
            "{generator}"
        );
    }
    for generator in unused_credentials {
        assert_eq!(
            control_of(generated_by(generator), generator),
            Control::UnusedCredentials,
            "{generator}"
        );
    }
    let consolidated = finding_with("Compliance/SecurityControlId", json!("IAM.8"));
    let consolidated = with(
        consolidated,
        &format!("{FINDING}/GeneratorId"),
        json!("security-control/IAM.8"),
    );
    assert_eq!(
        control_of(consolidated, "SecurityControlId IAM.8"),
        Control::UnusedCredentials
    );
}

#[test]
fn the_consolidated_control_id_decides_whatever_the_generator() {
    let payload = finding_with("GeneratorId", json!("some-custom-integration/check-17"));
    assert_eq!(
        control_of(payload, "SecurityControlId IAM.3"),
        Control::KeyRotation
    );
}

#[test]
fn findings_of_other_controls_are_ignored_with_a_reason() {
    let iam4 = finding_with("Compliance/SecurityControlId", json!("IAM.4"));
    let cases = [
        (
            "IAM.4 (root access key)",
            with(
                iam4,
                &format!("{FINDING}/GeneratorId"),
                json!("security-control/IAM.4"),
            ),
        ),
        (
            "CIS 1.4.0's 1.4 is the root access key, not CIS 1.2.0's rule/1.4",
            generated_by("cis-aws-foundations-benchmark/v/1.4.0/1.4"),
        ),
        (
            "CIS 1.2.0's rule/1.14 is hardware MFA for root",
            generated_by(
                "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.14",
            ),
        ),
        (
            "IAM.30 is not IAM.3",
            generated_by("security-control/IAM.30"),
        ),
    ];
    for (case, payload) in cases {
        let reason = ignored(payload, case, Some("123456789012"));
        assert!(
            reason.contains("is not of IAM.3 or IAM.8") && reason.contains(FINDING_ID),
            "{case}: {reason:?}"
        );
    }
}

#[test]
fn findings_not_failed_active_and_untriaged_are_ignored_with_a_reason() {
    let cases = [
        (
            "PASSED",
            finding_with("Compliance/Status", json!("PASSED")),
            "compliance status is Some(\"PASSED\"), not FAILED",
        ),
        (
            "no compliance",
            without(event(), FINDING, "Compliance"),
            "compliance status is None, not FAILED",
        ),
        (
            "ARCHIVED",
            finding_with("RecordState", json!("ARCHIVED")),
            "record state is Some(\"ARCHIVED\"), not ACTIVE",
        ),
        (
            "RESOLVED",
            finding_with("Workflow/Status", json!("RESOLVED")),
            "workflow status is RESOLVED, not NEW or NOTIFIED",
        ),
        (
            "SUPPRESSED",
            finding_with("Workflow/Status", json!("SUPPRESSED")),
            "workflow status is SUPPRESSED",
        ),
    ];
    for (case, payload, expected) in cases {
        let reason = ignored(payload, case, Some("123456789012"));
        assert!(reason.contains(expected), "{case}: {reason:?}");
    }
    let suppressed = ignored(
        finding_with("Workflow/Status", json!("SUPPRESSED")),
        "SUPPRESSED",
        Some("123456789012"),
    );
    assert!(
        suppressed.starts_with("IAM.3 finding") && suppressed.contains("exemption"),
        "{suppressed:?}"
    );
}

#[test]
fn a_notified_finding_is_acted_on_and_a_missing_workflow_reads_as_new() {
    let notified = remediated(
        finding_with("Workflow/Status", json!("NOTIFIED")),
        "NOTIFIED",
    );
    let untriaged = remediated(without(event(), FINDING, "Workflow"), "no Workflow");
    for (target, expected) in [(notified, "NOTIFIED"), (untriaged, "NEW")] {
        let Cause::SecurityHub(finding) = target.cause else {
            panic!("expected a Security Hub cause");
        };
        assert_eq!(finding.workflow_status, expected);
    }
}

#[test]
fn the_findings_note_is_carried_so_an_identical_update_can_be_skipped() {
    let note = json!({
        "Text": "Deactivated AKIAEXAMPLEKEY000001",
        "UpdatedBy": "access-key-remediator",
        "UpdatedAt": "2026-11-20T09:15:00Z"
    });
    let target = remediated(event(), "without a note");
    assert!(matches!(
        target.cause,
        Cause::SecurityHub(SecurityHubFinding { note: None, .. })
    ));
    let mut payload = event();
    payload["detail"]["findings"][0]["Note"] = note;
    let Cause::SecurityHub(finding) = remediated(payload, "with a note").cause else {
        panic!("expected a Security Hub cause");
    };
    assert_eq!(
        finding.note.as_deref(),
        Some("Deactivated AKIAEXAMPLEKEY000001")
    );
}

#[test]
fn the_user_comes_from_its_details_or_else_from_its_arn_path_dropped() {
    let resource = format!("{FINDING}/Resources/0");
    let from_arn = with(
        without(event(), &resource, "Details"),
        &format!("{resource}/Id"),
        json!("arn:aws:iam::210987654321:user/division/alice"),
    );
    let name_only = without(event(), &format!("{resource}/Details/AwsIamUser"), "UserId");
    let id_only = without(
        event(),
        &format!("{resource}/Details/AwsIamUser"),
        "UserName",
    );
    let cases = [
        (from_arn, None),
        (name_only, None),
        (id_only, Some(user_id("AIDAEXAMPLEALICE0001"))),
    ];
    for (payload, user_id) in cases {
        assert_eq!(
            remediated(payload, "user").user,
            UserRef::Name {
                user_name: "alice".into(),
                user_id,
            }
        );
    }
}

#[test]
fn the_user_is_the_first_resource_of_type_aws_iam_user() {
    let mut payload = event();
    let user = payload["detail"]["findings"][0]["Resources"][0].take();
    payload["detail"]["findings"][0]["Resources"] = json!([
        { "Type": "AwsAccount", "Id": "AWS::::Account:210987654321" },
        user
    ]);
    assert_eq!(
        remediated(payload.clone(), "second resource").user,
        UserRef::Name {
            user_name: "alice".into(),
            user_id: Some(user_id("AIDAEXAMPLEALICE0001")),
        }
    );
    // A bad user id is then named at the index it has.
    let bad = with(
        payload,
        &format!("{FINDING}/Resources/1/Details/AwsIamUser/UserId"),
        json!("AIDA-alice"),
    );
    assert_eq!(
        refused(bad, "bad id at index 1"),
        "detail.findings[0].Resources[1].Details.AwsIamUser.UserId"
    );
}

#[test]
fn malformed_findings_name_the_field_that_is_wrong() {
    let resource = format!("{FINDING}/Resources/0");
    let two = {
        let mut payload = event();
        let finding = payload["detail"]["findings"][0].clone();
        payload["detail"]["findings"] = json!([finding.clone(), finding]);
        payload
    };
    let cases = [
        (
            "no findings",
            with(event(), "/detail/findings", json!([])),
            "detail.findings",
        ),
        ("two findings", two, "detail.findings"),
        (
            "findings missing",
            without(event(), "/detail", "findings"),
            "detail.findings",
        ),
        (
            "missing AwsAccountId",
            without(event(), FINDING, "AwsAccountId"),
            "detail.findings[0].AwsAccountId",
        ),
        (
            "bad AwsAccountId",
            finding_with("AwsAccountId", json!("21098765432")),
            "detail.findings[0].AwsAccountId",
        ),
        (
            "missing Id",
            without(event(), FINDING, "Id"),
            "detail.findings[0].Id",
        ),
        (
            "missing ProductArn",
            without(event(), FINDING, "ProductArn"),
            "detail.findings[0].ProductArn",
        ),
        (
            "no AwsIamUser resource",
            finding_with("Resources/0/Type", json!("AwsIamRole")),
            "detail.findings[0].Resources",
        ),
        (
            "no resources",
            finding_with("Resources", json!([])),
            "detail.findings[0].Resources",
        ),
        (
            "resource Id not a user ARN",
            with(
                without(event(), &resource, "Details"),
                &format!("{resource}/Id"),
                json!("arn:aws:iam::210987654321:role/alice"),
            ),
            "detail.findings[0].Resources[0].Id",
        ),
        (
            "bad UserId",
            finding_with(
                "Resources/0/Details/AwsIamUser/UserId",
                json!("AIDA../../x"),
            ),
            "detail.findings[0].Resources[0].Details.AwsIamUser.UserId",
        ),
    ];
    for (case, payload, path) in cases {
        assert_eq!(refused(payload, case), path, "{case}");
    }
}
