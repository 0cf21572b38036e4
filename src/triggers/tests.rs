//! Intake tables: what each trigger acts on, ignores with a reason, or refuses naming a field.
//! One file per trigger; the helpers every table uses are here.

mod access_analyzer;
mod config_event;
mod samples;
mod schedule;
mod security_hub;

use super::*;
use serde_json::json;

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn user_id(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

/// `value` with the field at the JSON `pointer` replaced.
fn with(mut value: Value, pointer: &str, replacement: Value) -> Value {
    *value.pointer_mut(pointer).expect("pointer exists") = replacement;
    value
}

/// `value` without `field` of the object at the JSON pointer `parent`.
fn without(mut value: Value, parent: &str, field: &str) -> Value {
    value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent is an object")
        .remove(field)
        .expect("field exists");
    value
}

/// The target the payload asks us to remediate; panics, naming `case`, on anything else.
fn remediated(payload: Value, case: &str) -> UserTarget {
    match classify(payload) {
        Ok(Work::Remediate(target)) => target,
        other => panic!("{case}: expected Remediate, got {other:?}"),
    }
}

/// The reason the payload is ignored, after checking the account it is reported against.
fn ignored(payload: Value, case: &str, reported_account: Option<&str>) -> String {
    match classify(payload) {
        Ok(Work::Ignore { account, reason }) => {
            assert_eq!(account, reported_account.map(self::account), "{case}");
            assert!(!reason.is_empty(), "{case}: empty reason");
            reason
        }
        other => panic!("{case}: expected Ignore, got {other:?}"),
    }
}

/// The path a malformed payload is refused under, after checking there is a message.
fn refused(payload: Value, case: &str) -> String {
    match classify(payload) {
        Err(IntakeError::Malformed { path, message }) => {
            assert!(!message.is_empty(), "{case}: empty message");
            path
        }
        other => panic!("{case}: expected Malformed, got {other:?}"),
    }
}

#[test]
fn an_event_of_no_trigger_of_ours_is_ignored_naming_its_source_and_detail_type() {
    let other = json!({
        "version": "0", "id": "1", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": "123456789012", "time": "2026-11-20T00:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {"state": "running"}
    });
    let cases = [
        ("another service", other.clone()),
        (
            "a Config compliance change from another source",
            with(
                with(
                    other.clone(),
                    "/detail-type",
                    json!("Config Rules Compliance Change"),
                ),
                "/source",
                json!("aws.events"),
            ),
        ),
        (
            "a Security Hub event of another detail-type",
            with(
                with(other.clone(), "/source", json!("aws.securityhub")),
                "/detail-type",
                json!("Security Hub Findings - Custom Action"),
            ),
        ),
        (
            "an Access Analyzer external-access finding",
            with(
                with(other.clone(), "/source", json!("aws.access-analyzer")),
                "/detail-type",
                json!("Access Analyzer Finding"),
            ),
        ),
    ];
    for (case, payload) in cases {
        let source = payload["source"].as_str().unwrap().to_owned();
        let reason = ignored(payload, case, Some("123456789012"));
        assert!(
            reason.contains("not a trigger of this function") && reason.contains(&source),
            "{case}: {reason:?}"
        );
    }
}

#[test]
fn an_ignored_event_with_an_unusable_account_is_reported_against_none() {
    let payload = json!({
        "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
        "account": "not-an-account", "detail": {}
    });
    ignored(payload, "unparseable account", None);
}

#[test]
fn a_payload_that_is_not_an_eventbridge_event_is_refused_by_field() {
    let cases = [
        (json!("just a string"), "event"),
        (json!(null), "event"),
        (json!({"source": "aws.config", "detail": {}}), "detail-type"),
        (
            json!({"detail-type": "Scheduled Event", "detail": {}}),
            "source",
        ),
        (
            json!({"detail-type": "Scheduled Event", "source": "aws.events"}),
            "detail",
        ),
        (
            json!({"detail-type": 7, "source": "aws.events", "detail": {}}),
            "detail-type",
        ),
    ];
    for (payload, path) in cases {
        assert_eq!(refused(payload.clone(), &payload.to_string()), path);
    }
}
