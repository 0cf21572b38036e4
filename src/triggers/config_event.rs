//! AWS Config's "Config Rules Compliance Change" event: one IAM user, by UserId, evaluated
//! NON_COMPLIANT by some rule. Whether that rule is ACCESS_KEYS_ROTATED (or one RULE_NAMES
//! lists) takes a Config call, so the pipeline decides it, not this module.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use super::{
    Cause, IntakeError, UserRef, UserTarget, Work, event_account, ignore, malformed, parse,
};
use crate::domain::ids::UserId;

const CONFIG_SOURCE: &str = "aws.config";
const COMPLIANCE_CHANGE: &str = "Config Rules Compliance Change";
const IAM_USER: &str = "AWS::IAM::User";
const NON_COMPLIANT: &str = "NON_COMPLIANT";

/// The parts of a Config compliance-change `detail` we rely on. Everything else
/// (`oldEvaluationResult`, `evaluationMode`, `annotation`, `resultToken`, …) may be
/// missing or null: events from before 2023 carry no `evaluationMode`, for one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComplianceChangeDetail {
    resource_id: String,
    resource_type: String,
    config_rule_name: String,
    #[serde(default, rename = "configRuleARN")]
    config_rule_arn: Option<String>,
    new_evaluation_result: EvaluationResult,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EvaluationResult {
    compliance_type: String,
}

pub(super) fn is_compliance_change(event: &EventBridgeEvent<Value>) -> bool {
    event.source == CONFIG_SOURCE && event.detail_type == COMPLIANCE_CHANGE
}

pub(super) fn classify(event: EventBridgeEvent<Value>) -> Result<Work, IntakeError> {
    let ignore = |reason: String| Ok(ignore(&event, reason));
    let detail: ComplianceChangeDetail = parse(event.detail.clone(), "detail.")?;
    if detail.config_rule_name.is_empty() {
        return Err(IntakeError::Malformed {
            path: "detail.configRuleName".to_owned(),
            message: "empty: a compliance change names its rule".to_owned(),
        });
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
    // Where the user lives decides whose credentials act: never guessed.
    let Some(account) = event_account(&event)? else {
        return Err(IntakeError::Malformed {
            path: "account".to_owned(),
            message: "missing: a compliance change names the account of its user".to_owned(),
        });
    };
    let user_id = UserId::parse(&detail.resource_id)
        .map_err(|error| malformed("detail.resourceId", error))?;
    Ok(Work::Remediate(UserTarget {
        user: UserRef::Id(user_id),
        account,
        cause: Cause::ConfigRule {
            rule_name: detail.config_rule_name,
            rule_arn: detail.config_rule_arn,
        },
    }))
}
