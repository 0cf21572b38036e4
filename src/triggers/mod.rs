//! The kinds of invocation, one module each. Each turns its payload into a unit of work
//! (which account; one user, or a sweep) or the reason there is nothing to do, and makes no
//! AWS call. A payload that is not a well-formed EventBridge event is an error that names the
//! offending field; a well-formed event we do not act on is not an error.

pub mod access_analyzer;
pub mod config_event;
pub mod org_sweep;
pub mod schedule;
pub mod security_hub;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;
use thiserror::Error;

use crate::domain::arn::Arn;
use crate::domain::ids::{AccountId, InvalidId, UserId};

/// What the payload asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// One IAM user that a Config rule, a Security Hub finding or an Access Analyzer finding
    /// says has a key too old or unused.
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

/// The one user an event names, and what named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTarget {
    pub user: UserRef,
    /// The account the user lives in: always named, since it decides whose credentials act.
    pub account: AccountId,
    pub cause: Cause,
}

/// How an event names its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// By IAM UserId (`AIDA…`), as Config reports the resource id.
    Id(UserId),
    /// By name (from a user ARN, path dropped), with the UserId when the event carries it:
    /// a name alone may since belong to another user.
    Name {
        user_name: String,
        user_id: Option<UserId>,
    },
}

/// What said the user needs looking at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// A NON_COMPLIANT evaluation by a Config rule: acted on only when the rule turns out to
    /// be ACCESS_KEYS_ROTATED, or one RULE_NAMES lists (the pipeline asks Config).
    ConfigRule {
        rule_name: String,
        rule_arn: Option<String>,
    },
    /// A FAILED, ACTIVE, NEW or NOTIFIED Security Hub finding of IAM.3 or IAM.8.
    SecurityHub(SecurityHubFinding),
    /// An ACTIVE Access Analyzer `UnusedIAMUserAccessKey` finding. The event names no key:
    /// the pipeline reads it with GetFindingV2 in the analyzer's account.
    AccessAnalyzer(AnalyzerFinding),
}

/// A Security Hub finding, as far as closing it afterwards needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityHubFinding {
    pub id: String,
    pub product_arn: String,
    /// `IAM.3` (key age) or `IAM.8` (unused credentials).
    pub control: Control,
    /// The workflow status as delivered: `NEW` or `NOTIFIED`.
    pub workflow_status: String,
    /// The finding's note as delivered, so that an update that would write the same status
    /// and note again is skipped (our own update comes back as an event).
    pub note: Option<String>,
}

/// The Security Hub controls we act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// IAM.3 (CIS 1.4 / 1.14): access keys rotated every 90 days or less.
    KeyRotation,
    /// IAM.8 (CIS 1.3 / 1.12): unused credentials removed; for keys, the idle rule.
    UnusedCredentials,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::KeyRotation => "IAM.3",
            Control::UnusedCredentials => "IAM.8",
        }
    }
}

/// An Access Analyzer unused-access finding: where to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzerFinding {
    pub analyzer_arn: String,
    pub finding_id: String,
    /// The account the analyzer (and so the finding) lives in: the event's own.
    pub analyzer_account: AccountId,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IntakeError {
    #[error("malformed event: {path}: {message}")]
    Malformed { path: String, message: String },
}

/// Classifies one payload: which trigger it is, and what it asks. Makes no AWS call.
pub fn classify(payload: Value) -> Result<Work, IntakeError> {
    let event: EventBridgeEvent<Value> = parse(payload, "")?;
    if schedule::is_schedule(&event) {
        return schedule::classify(event);
    }
    if config_event::is_compliance_change(&event) {
        return config_event::classify(event);
    }
    if security_hub::is_findings_imported(&event) {
        return security_hub::classify(event);
    }
    if access_analyzer::is_unused_access_finding(&event) {
        return access_analyzer::classify(event);
    }
    Ok(ignore(
        &event,
        format!(
            "not a trigger of this function (source {:?}, detail-type {:?})",
            event.source, event.detail_type
        ),
    ))
}

/// A well-formed event we do not act on, reported against its account when it names one.
fn ignore(event: &EventBridgeEvent<Value>, reason: String) -> Work {
    Work::Ignore {
        account: event
            .account
            .as_deref()
            .and_then(|id| AccountId::parse(id).ok()),
        reason,
    }
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

/// The user name in an IAM user ARN, path dropped; `None` for anything else.
fn user_name_of_arn(arn: &str) -> Option<&str> {
    Arn::parse(arn)?.iam_user_name()
}

#[cfg(test)]
mod tests;
