//! Config compliance-change events: any rule's NON_COMPLIANT evaluation of an IAM user is
//! work; whether the rule is ours is the pipeline's question, since it takes a Config call.

use super::*;

const RULE_ARN: &str = "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-abc123";

fn event(detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "9d2a2b7c-0d5e-4bd5-8a35-7c1f2d0e5a11",
        "detail-type": "Config Rules Compliance Change",
        "source": "aws.config",
        "account": "123456789012",
        "time": "2026-11-20T09:14:03Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail
    })
}

fn detail() -> Value {
    json!({
        "resourceId": "AIDAEXAMPLEALICE0001",
        "awsRegion": "us-east-1",
        "awsAccountId": "123456789012",
        "configRuleName": "access-keys-rotated",
        "recordVersion": "1.0",
        "configRuleARN": RULE_ARN,
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": { "complianceType": "NON_COMPLIANT", "annotation": null },
        "oldEvaluationResult": null,
        "resourceType": "AWS::IAM::User"
    })
}

#[test]
fn a_non_compliant_user_evaluation_is_remediated() {
    assert_eq!(
        classify(event(detail())),
        Ok(Work::Remediate(UserTarget {
            user: UserRef::Id(user_id("AIDAEXAMPLEALICE0001")),
            account: account("123456789012"),
            cause: Cause::ConfigRule {
                rule_name: "access-keys-rotated".into(),
                rule_arn: Some(RULE_ARN.into()),
            },
        }))
    );
}

#[test]
fn an_evaluation_by_any_rule_is_remediated_carrying_the_rules_name_and_arn() {
    let names = [
        "access-keys-rotated",
        "securityhub-access-keys-rotated-a1b2c3",
        "OrgConfigRule-access-keys-rotated-x9y8z7",
        "access-keys-rotated-conformance-pack-q1w2e3",
        "s3-bucket-logging-enabled",
    ];
    for name in names {
        let payload = with(event(detail()), "/detail/configRuleName", json!(name));
        let target = remediated(payload, name);
        assert_eq!(
            target.cause,
            Cause::ConfigRule {
                rule_name: name.into(),
                rule_arn: Some(RULE_ARN.into()),
            },
            "{name}"
        );
    }
}

#[test]
fn an_event_without_a_rule_arn_carries_none() {
    let payload = without(event(detail()), "/detail", "configRuleARN");
    let target = remediated(payload, "no configRuleARN");
    assert_eq!(
        target.cause,
        Cause::ConfigRule {
            rule_name: "access-keys-rotated".into(),
            rule_arn: None,
        }
    );
}

#[test]
fn well_formed_evaluations_we_do_not_act_on_are_ignored_with_a_reason() {
    let cases = [
        (
            with(
                event(detail()),
                "/detail/resourceType",
                json!("AWS::IAM::Role"),
            ),
            "is not AWS::IAM::User",
        ),
        (
            with(
                event(detail()),
                "/detail/newEvaluationResult/complianceType",
                json!("COMPLIANT"),
            ),
            "not NON_COMPLIANT",
        ),
        (
            with(
                event(detail()),
                "/detail/newEvaluationResult/complianceType",
                json!("NOT_APPLICABLE"),
            ),
            "not NON_COMPLIANT",
        ),
    ];
    for (payload, expected) in cases {
        let reason = ignored(payload, expected, Some("123456789012"));
        assert!(reason.contains(expected), "{reason:?} lacks {expected:?}");
    }
}

#[test]
fn an_event_naming_something_other_than_an_account_id_is_refused() {
    for bad in [
        json!("12345678901"),
        json!("12345678901a"),
        json!("../123456789012"),
    ] {
        let path = refused(
            with(event(detail()), "/account", bad.clone()),
            &bad.to_string(),
        );
        assert_eq!(path, "account");
    }
}

#[test]
fn optional_fields_may_be_missing_or_null() {
    let sparse = without(
        without(event(detail()), "/detail", "oldEvaluationResult"),
        "",
        "resources",
    );
    let sparse = without(sparse, "/detail/newEvaluationResult", "annotation");
    let sparse = without(sparse, "/detail", "configRuleARN");
    remediated(sparse, "sparse event");
}

#[test]
fn malformed_evaluations_name_the_field_that_is_wrong() {
    let cases = [
        (
            without(event(detail()), "/detail", "resourceId"),
            "detail.resourceId",
        ),
        (
            with(event(detail()), "/detail/resourceId", json!(42)),
            "detail.resourceId",
        ),
        (
            with(event(detail()), "/detail/resourceId", json!("")),
            "detail.resourceId",
        ),
        (
            with(event(detail()), "/detail/resourceId", json!("AIDA/../x")),
            "detail.resourceId",
        ),
        (
            without(event(detail()), "/detail", "configRuleName"),
            "detail.configRuleName",
        ),
        (
            with(event(detail()), "/detail/configRuleARN", json!(7)),
            "detail.configRuleARN",
        ),
        (
            with(event(detail()), "/detail/newEvaluationResult", json!(null)),
            "detail.newEvaluationResult",
        ),
    ];
    for (payload, path) in cases {
        assert_eq!(refused(payload, path), path);
    }
}

#[test]
fn a_missing_resource_id_is_named_in_the_message() {
    let payload = without(event(detail()), "/detail", "resourceId");
    let error = classify(payload).unwrap_err();
    assert!(error.to_string().contains("resourceId"), "{error}");
}

#[test]
fn a_compliance_change_without_an_account_is_refused_not_guessed() {
    let payload = without(event(detail()), "", "account");
    assert_eq!(refused(payload, "no account"), "account");
}
