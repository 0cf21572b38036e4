//! Event intake: turns an invocation payload into either a user to remediate or the reason
//! there is nothing to do. A payload that is not a well-formed EventBridge event is an error
//! that names the offending field; a well-formed event we do not act on is not an error.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::settings::Settings;

const CONFIG_SOURCE: &str = "aws.config";
const SCHEDULE_SOURCE: &str = "aws.events";
const SCHEDULED_EVENT: &str = "Scheduled Event";
const COMPLIANCE_CHANGE: &str = "Config Rules Compliance Change";
const IAM_USER: &str = "AWS::IAM::User";
const NON_COMPLIANT: &str = "NON_COMPLIANT";

/// What the payload asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// A NON_COMPLIANT evaluation of an IAM user by one of our rules.
    Remediate(ComplianceTarget),
    /// The scheduled sweep: of the event's own account, or of the accounts its
    /// `detail.accounts` names (in order, without repeats).
    Sweep {
        account: Option<String>,
        accounts: Vec<String>,
    },
    /// A well-formed event that needs no action, and why.
    Ignore {
        account: Option<String>,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceTarget {
    /// The IAM UserId (`AIDA…`), which Config reports as the resource id.
    pub user_id: String,
    pub account: Option<String>,
    pub rule_name: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IntakeError {
    #[error("malformed event: {path}: {message}")]
    Malformed { path: String, message: String },
}

/// The parts of a Config compliance-change `detail` we rely on. Everything else
/// (`oldEvaluationResult`, `evaluationMode`, `annotation`, `resultToken`, …) may be
/// missing or null: events from before 2023 carry no `evaluationMode`, for one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComplianceChangeDetail {
    resource_id: String,
    resource_type: String,
    config_rule_name: String,
    new_evaluation_result: EvaluationResult,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EvaluationResult {
    compliance_type: String,
}

/// A scheduled event's `detail`: EventBridge sends `{}`; a rule's input may name accounts.
#[derive(Debug, Deserialize)]
struct SweepDetail {
    #[serde(default)]
    accounts: Option<Vec<String>>,
}

/// Classifies one payload. Makes no AWS call.
pub fn classify(payload: Value, settings: &Settings) -> Result<Intake, IntakeError> {
    let event: EventBridgeEvent<Value> = parse(payload, "")?;
    let account = event.account.clone();
    let ignore = |reason: String| {
        Ok(Intake::Ignore {
            account: account.clone(),
            reason,
        })
    };

    if event.source == SCHEDULE_SOURCE && event.detail_type == SCHEDULED_EVENT {
        check_account_id(account.as_deref(), "account")?;
        let detail: SweepDetail = parse(event.detail, "detail.")?;
        let accounts = match detail.accounts {
            None => Vec::new(),
            Some(listed) if listed.is_empty() => {
                return Err(IntakeError::Malformed {
                    path: "detail.accounts".to_owned(),
                    message: "names no account; leave it out to sweep this account".to_owned(),
                });
            }
            Some(listed) => {
                let mut accounts: Vec<String> = Vec::with_capacity(listed.len());
                for (index, id) in listed.into_iter().enumerate() {
                    check_account_id(Some(&id), &format!("detail.accounts[{index}]"))?;
                    if !accounts.contains(&id) {
                        accounts.push(id);
                    }
                }
                accounts
            }
        };
        return Ok(Intake::Sweep { account, accounts });
    }
    if event.source != CONFIG_SOURCE || event.detail_type != COMPLIANCE_CHANGE {
        return ignore(format!(
            "not a Config compliance change (source {:?}, detail-type {:?})",
            event.source, event.detail_type
        ));
    }

    let detail: ComplianceChangeDetail = parse(event.detail, "detail.")?;
    if !settings.rule_names.contains(&detail.config_rule_name) {
        return ignore(format!(
            "rule {:?} is not in RULE_NAMES ({})",
            detail.config_rule_name,
            settings.rule_names.join(",")
        ));
    }
    if detail.resource_type != IAM_USER {
        return ignore(format!(
            "resource type {:?} is not {IAM_USER}",
            detail.resource_type
        ));
    }
    let compliance = detail.new_evaluation_result.compliance_type;
    if compliance != NON_COMPLIANT {
        return ignore(format!(
            "compliance type is {compliance:?}, not {NON_COMPLIANT}"
        ));
    }
    check_account_id(account.as_deref(), "account")?;
    if !is_user_id(&detail.resource_id) {
        return Err(IntakeError::Malformed {
            path: "detail.resourceId".to_owned(),
            message: format!(
                "{:?} is not an IAM UserId (letters and digits, 1 to 128 of them)",
                detail.resource_id
            ),
        });
    }

    Ok(Intake::Remediate(ComplianceTarget {
        user_id: detail.resource_id,
        account,
        rule_name: detail.config_rule_name,
    }))
}

/// Deserializes `value`, naming the failing field by its path from the payload's root.
fn parse<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, IntakeError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let message = error.inner().to_string();
        let mut segments: Vec<String> = prefix
            .split('.')
            .filter(|segment| !segment.is_empty())
            .map(str::to_owned)
            .collect();
        segments.extend(error.path().iter().map(ToString::to_string));
        // serde reports a missing field against its parent; name the field itself.
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            segments.push(field.to_owned());
        }
        let path = if segments.is_empty() {
            "event".to_owned()
        } else {
            // Indices read as `accounts[0]`, as in a JSON path, not `accounts.[0]`.
            segments.join(".").replace(".[", "[")
        };
        IntakeError::Malformed { path, message }
    })
}

/// The account an event names decides whose credentials act on it, so it must be an account
/// id and nothing else: twelve digits.
fn check_account_id(id: Option<&str>, path: &str) -> Result<(), IntakeError> {
    match id {
        Some(id) if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) => {
            Err(IntakeError::Malformed {
                path: path.to_owned(),
                message: format!("{id:?} is not an AWS account id (12 digits)"),
            })
        }
        _ => Ok(()),
    }
}

/// IAM UserIds are opaque alphanumerics (real ones start `AIDA`; emulators' need not).
fn is_user_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let intake = classify(event(detail()), &Settings::default()).unwrap();
        assert_eq!(
            intake,
            Intake::Remediate(ComplianceTarget {
                user_id: "AIDAEXAMPLEALICE0001".into(),
                account: Some("123456789012".into()),
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
            match classify(payload, &Settings::default()).unwrap() {
                Intake::Ignore { reason, account } => {
                    assert!(reason.contains(expected), "{reason:?} lacks {expected:?}");
                    assert_eq!(account.as_deref(), Some("123456789012"));
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
            classify(scheduled, &Settings::default()),
            Ok(Intake::Sweep {
                account: Some("123456789012".into()),
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
            classify(payload, &Settings::default()),
            Ok(Intake::Sweep {
                account: Some("123456789012".into()),
                accounts: vec!["210987654321".into(), "123456789012".into()],
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
            let error = classify(scheduled_with(detail.clone()), &Settings::default())
                .expect_err(&detail.to_string());
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
            let error = classify(
                with(event(detail()), "/account", bad.clone()),
                &Settings::default(),
            )
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
        assert!(matches!(
            classify(sparse, &Settings::default()),
            Ok(Intake::Remediate(_))
        ));
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
            let error = classify(payload, &Settings::default()).unwrap_err();
            let IntakeError::Malformed { path: got, message } = &error;
            assert_eq!(got, path, "{error}");
            assert!(!message.is_empty());
        }
    }

    #[test]
    fn a_missing_resource_id_is_named_in_the_message() {
        let payload = without(event(detail()), "/detail", "resourceId");
        let error = classify(payload, &Settings::default()).unwrap_err();
        assert!(error.to_string().contains("resourceId"), "{error}");
    }
}
