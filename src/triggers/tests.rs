//! Intake tables: what each trigger acts on, ignores with a reason, or refuses naming a field.

use super::*;
use serde_json::json;

fn rules() -> Vec<String> {
    vec!["access-keys-rotated".to_owned()]
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

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
        "configRuleARN": "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-abc123",
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": { "complianceType": "NON_COMPLIANT", "annotation": null },
        "oldEvaluationResult": null,
        "resourceType": "AWS::IAM::User"
    })
}

fn with(mut value: Value, pointer: &str, replacement: Value) -> Value {
    *value.pointer_mut(pointer).expect("pointer exists") = replacement;
    value
}

fn without(mut value: Value, parent: &str, field: &str) -> Value {
    value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent is an object")
        .remove(field);
    value
}

#[test]
fn a_non_compliant_user_evaluation_is_remediated() {
    let intake = classify(event(detail()), &rules()).unwrap();
    assert_eq!(
        intake,
        Work::Remediate(UserTarget {
            user_id: UserId::parse("AIDAEXAMPLEALICE0001").unwrap(),
            account: account("123456789012"),
            rule_name: "access-keys-rotated".into(),
        })
    );
}

#[test]
fn well_formed_events_we_do_not_act_on_are_ignored_with_a_reason() {
    let cases = [
        (
            with(event(detail()), "/source", json!("aws.events")),
            "not a Config compliance change",
        ),
        (
            with(
                event(detail()),
                "/detail/configRuleName",
                json!("s3-bucket-logging"),
            ),
            "not in RULE_NAMES",
        ),
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
    ];
    for (payload, expected) in cases {
        match classify(payload, &rules()).unwrap() {
            Work::Ignore { reason, account } => {
                assert!(reason.contains(expected), "{reason:?} lacks {expected:?}");
                assert_eq!(account, Some(self::account("123456789012")));
            }
            other => panic!("expected Ignore for {expected}, got {other:?}"),
        }
    }
}

#[test]
fn a_scheduled_event_asks_for_a_sweep() {
    let scheduled = json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-20T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"], "detail": {}
    });
    assert_eq!(
        classify(scheduled, &rules()),
        Ok(Work::Sweep {
            account: Some(account("123456789012")),
            accounts: vec![],
        })
    );
}

fn scheduled_with(detail: Value) -> Value {
    json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-20T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": detail
    })
}

#[test]
fn a_scheduled_event_may_name_the_accounts_to_sweep_once_each() {
    let payload =
        scheduled_with(json!({ "accounts": ["210987654321", "123456789012", "210987654321"] }));
    assert_eq!(
        classify(payload, &rules()),
        Ok(Work::Sweep {
            account: Some(account("123456789012")),
            accounts: vec![account("210987654321"), account("123456789012")],
        })
    );
}

#[test]
fn a_sweep_refuses_account_lists_that_are_empty_or_not_account_ids() {
    let cases = [
        (json!({ "accounts": [] }), "detail.accounts"),
        (
            json!({ "accounts": ["210987654321", "12345"] }),
            "detail.accounts[1]",
        ),
        (
            json!({ "accounts": ["arn:aws:iam::1:root"] }),
            "detail.accounts[0]",
        ),
        (json!({ "accounts": "210987654321" }), "detail.accounts"),
        (
            json!({ "accounts": [210987654321u64] }),
            "detail.accounts[0]",
        ),
    ];
    for (detail, path) in cases {
        let error =
            classify(scheduled_with(detail.clone()), &rules()).expect_err(&detail.to_string());
        let IntakeError::Malformed { path: got, .. } = &error;
        assert_eq!(got, path, "{error}");
    }
}

#[test]
fn an_event_naming_something_other_than_an_account_id_is_refused() {
    for bad in [
        json!("12345678901"),
        json!("12345678901a"),
        json!("../123456789012"),
    ] {
        let error = classify(with(event(detail()), "/account", bad.clone()), &rules())
            .expect_err(&bad.to_string());
        assert!(error.to_string().contains("account"), "{error}");
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
    assert!(matches!(classify(sparse, &rules()), Ok(Work::Remediate(_))));
}

#[test]
fn malformed_payloads_name_the_field_that_is_wrong() {
    let cases = [
        (json!("just a string"), "event"),
        (without(event(detail()), "", "detail"), "detail"),
        (without(event(detail()), "", "detail-type"), "detail-type"),
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
            with(event(detail()), "/detail/newEvaluationResult", json!(null)),
            "detail.newEvaluationResult",
        ),
    ];
    for (payload, path) in cases {
        let error = classify(payload, &rules()).unwrap_err();
        let IntakeError::Malformed { path: got, message } = &error;
        assert_eq!(got, path, "{error}");
        assert!(!message.is_empty());
    }
}

#[test]
fn a_missing_resource_id_is_named_in_the_message() {
    let payload = without(event(detail()), "/detail", "resourceId");
    let error = classify(payload, &rules()).unwrap_err();
    assert!(error.to_string().contains("resourceId"), "{error}");
}

#[test]
fn a_compliance_change_without_an_account_is_refused_not_guessed() {
    let error = classify(without(event(detail()), "", "account"), &rules()).unwrap_err();
    let IntakeError::Malformed { path, .. } = &error;
    assert_eq!(path, "account", "{error}");
}
