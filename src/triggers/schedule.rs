//! The scheduled sweep: an EventBridge `Scheduled Event`, sweeping the event's own account or
//! the accounts a rule's input lists in `detail.accounts`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use super::{IntakeError, Work, event_account, malformed, parse};
use crate::domain::ids::AccountId;

const SCHEDULE_SOURCE: &str = "aws.events";
const SCHEDULED_EVENT: &str = "Scheduled Event";

/// A scheduled event's `detail`: EventBridge sends `{}`; a rule's input may name accounts.
#[derive(Debug, Deserialize)]
struct SweepDetail {
    #[serde(default)]
    accounts: Option<Vec<String>>,
}

pub(super) fn is_schedule(event: &EventBridgeEvent<Value>) -> bool {
    event.source == SCHEDULE_SOURCE && event.detail_type == SCHEDULED_EVENT
}

pub(super) fn classify(event: EventBridgeEvent<Value>) -> Result<Work, IntakeError> {
    let account = event_account(&event)?;
    let detail: SweepDetail = parse(event.detail, "detail.")?;
    let Some(listed) = detail.accounts else {
        return Ok(Work::Sweep {
            account,
            accounts: Vec::new(),
        });
    };
    if listed.is_empty() {
        return Err(IntakeError::Malformed {
            path: "detail.accounts".to_owned(),
            message: "names no account; leave it out to sweep this account".to_owned(),
        });
    }
    let mut accounts: Vec<AccountId> = Vec::with_capacity(listed.len());
    for (index, id) in listed.iter().enumerate() {
        let id = AccountId::parse(id)
            .map_err(|error| malformed(&format!("detail.accounts[{index}]"), error))?;
        if !accounts.contains(&id) {
            accounts.push(id);
        }
    }
    Ok(Work::Sweep { account, accounts })
}
