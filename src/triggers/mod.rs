//! The kinds of invocation, one module each. Each turns its payload into a unit of work
//! (which account; one user, or a sweep) or the reason there is nothing to do, and makes no
//! AWS call. A payload that is not a well-formed EventBridge event is an error that names the
//! offending field; a well-formed event we do not act on is not an error.

pub mod config_event;
pub mod schedule;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;
use thiserror::Error;

use crate::domain::ids::{AccountId, InvalidId, UserId};

/// What the payload asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// A NON_COMPLIANT evaluation of an IAM user by one of our rules.
    Remediate(UserTarget),
    /// The scheduled sweep: of the event's own account, or of the accounts its
    /// `detail.accounts` names (in order, without repeats).
    Sweep {
        account: Option<AccountId>,
        accounts: Vec<AccountId>,
    },
    /// A well-formed event that needs no action, and why.
    Ignore {
        account: Option<AccountId>,
        reason: String,
    },
}

/// The one user an event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTarget {
    /// The IAM UserId (`AIDA…`), which Config reports as the resource id.
    pub user_id: UserId,
    /// The account the user lives in: always named, since it decides whose credentials act.
    pub account: AccountId,
    pub rule_name: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IntakeError {
    #[error("malformed event: {path}: {message}")]
    Malformed { path: String, message: String },
}

/// Classifies one payload: which trigger it is, and what it asks. Makes no AWS call.
/// `rule_names` are the Config rules whose events are acted on.
pub fn classify(payload: Value, rule_names: &[String]) -> Result<Work, IntakeError> {
    let event: EventBridgeEvent<Value> = parse(payload, "")?;
    if schedule::is_schedule(&event) {
        return schedule::classify(event);
    }
    if config_event::is_compliance_change(&event) {
        return config_event::classify(event, rule_names);
    }
    Ok(Work::Ignore {
        account: event
            .account
            .as_deref()
            .and_then(|id| AccountId::parse(id).ok()),
        reason: format!(
            "not a Config compliance change (source {:?}, detail-type {:?})",
            event.source, event.detail_type
        ),
    })
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

/// The field at `path` did not hold the id it must.
fn malformed(path: &str, error: InvalidId) -> IntakeError {
    IntakeError::Malformed {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

/// The event's `account`, which decides whose credentials act on it, parsed as an account id.
fn event_account(event: &EventBridgeEvent<Value>) -> Result<Option<AccountId>, IntakeError> {
    event
        .account
        .as_deref()
        .map(|id| AccountId::parse(id).map_err(|error| malformed("account", error)))
        .transpose()
}

#[cfg(test)]
mod tests;
