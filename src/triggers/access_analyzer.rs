//! IAM Access Analyzer's "Unused Access Finding for IAM entities" event: an ACTIVE
//! `UnusedIAMUserAccessKey` finding against one IAM user. The event names the analyzer (its
//! `resources`) and the finding, not the key; the pipeline reads the key from the finding and
//! acts only when its own reading of the key's last use agrees.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use super::{
    AnalyzerFinding, Cause, IntakeError, UserRef, UserTarget, Work, event_account, ignore,
    malformed, parse, user_name_of_arn,
};
use crate::domain::arn::Arn;
use crate::domain::ids::AccountId;

const ACCESS_ANALYZER_SOURCE: &str = "aws.access-analyzer";
const UNUSED_ACCESS_FINDING: &str = "Unused Access Finding for IAM entities";
const UNUSED_KEY: &str = "UnusedIAMUserAccessKey";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UnusedAccessDetail {
    finding_id: String,
    finding_type: String,
    status: String,
    resource: String,
    account_id: String,
    #[serde(default)]
    is_deleted: bool,
}

pub(super) fn is_unused_access_finding(event: &EventBridgeEvent<Value>) -> bool {
    event.source == ACCESS_ANALYZER_SOURCE && event.detail_type == UNUSED_ACCESS_FINDING
}

pub(super) fn classify(event: EventBridgeEvent<Value>) -> Result<Work, IntakeError> {
    let detail: UnusedAccessDetail = parse(event.detail.clone(), "detail.")?;
    if detail.finding_type != UNUSED_KEY {
        return Ok(ignore(
            &event,
            format!("finding type {:?} is not {UNUSED_KEY}", detail.finding_type),
        ));
    }
    if detail.status != "ACTIVE" || detail.is_deleted {
        let deleted = if detail.is_deleted { ", deleted" } else { "" };
        return Ok(ignore(
            &event,
            format!("finding status is {:?}{deleted}, not ACTIVE", detail.status),
        ));
    }
    // The finding lives with its analyzer, in the account the event comes from.
    let Some(analyzer_account) = event_account(&event)? else {
        return Err(IntakeError::Malformed {
            path: "account".to_owned(),
            message: "missing: the finding is read in its analyzer's account".to_owned(),
        });
    };
    let analyzer = event.resources.as_ref().and_then(|arns| arns.first());
    let Some(analyzer_arn) = analyzer.filter(|arn| is_analyzer_arn(arn)) else {
        return Err(IntakeError::Malformed {
            path: "resources[0]".to_owned(),
            message: "must be the analyzer's ARN (arn:…:access-analyzer:…:analyzer/NAME)"
                .to_owned(),
        });
    };
    let account = AccountId::parse(&detail.account_id)
        .map_err(|error| malformed("detail.accountId", error))?;
    let user_name = user_name_of_arn(&detail.resource).ok_or_else(|| IntakeError::Malformed {
        path: "detail.resource".to_owned(),
        message: format!("{:?} is not an IAM user ARN", detail.resource),
    })?;
    Ok(Work::Remediate(UserTarget {
        user: UserRef::Name {
            user_name: user_name.to_owned(),
            user_id: None,
        },
        account,
        cause: Cause::AccessAnalyzer(AnalyzerFinding {
            analyzer_arn: analyzer_arn.clone(),
            finding_id: detail.finding_id,
            analyzer_account,
        }),
    }))
}

fn is_analyzer_arn(arn: &str) -> bool {
    Arn::parse(arn).is_some_and(|arn| {
        arn.service == "access-analyzer"
            && AccountId::parse(arn.account).is_ok()
            && arn.resource.starts_with("analyzer/")
    })
}
