//! The organisation sweep's state machine steps: plain JSON payloads with a `remediator` key,
//! not EventBridge events. `discover-accounts` (which accounts, in which mode),
//! `sweep-account` (one of them), `summarise-sweep` (the totals).

use serde::Deserialize;
use serde_json::Value;

use super::{IntakeError, malformed, parse};
use crate::domain::ids::AccountId;
use crate::domain::org::parse_mode;
use crate::domain::policy::Mode;
use crate::report::org::SweepRun;

/// The key that marks a payload as one of our state machine's steps.
const STEP_KEY: &str = "remediator";

/// A step of the organisation sweep.
#[derive(Debug, Clone)]
pub enum Step {
    /// Which accounts to sweep, and each one's mode; `execution` names the state machine's
    /// execution, under which the items are written.
    Discover { execution: Option<String> },
    /// Sweep exactly this account, in this mode (within its role's ceiling).
    SweepAccount { account: AccountId, mode: Mode },
    /// Total the run's results.
    Summarise(Box<SweepRun>),
}

#[derive(Deserialize)]
struct DiscoverPayload {
    #[serde(default)]
    execution: Option<String>,
}

#[derive(Deserialize)]
struct SweepAccountPayload {
    account: String,
    mode: String,
}

#[derive(Deserialize)]
struct SummarisePayload {
    run: SweepRun,
}

/// `None` when the payload is not a step (an EventBridge event, say); else the step, or what
/// is wrong with it.
pub fn classify_step(payload: &Value) -> Option<Result<Step, IntakeError>> {
    let step = payload.as_object()?.get(STEP_KEY)?;
    Some(match step.as_str() {
        Some("discover-accounts") => {
            parse::<DiscoverPayload>(payload.clone(), "").map(|payload| Step::Discover {
                execution: payload.execution,
            })
        }
        Some("sweep-account") => sweep_account(payload.clone()),
        Some("summarise-sweep") => parse::<SummarisePayload>(payload.clone(), "")
            .map(|payload| Step::Summarise(Box::new(payload.run))),
        _ => Err(IntakeError::Malformed {
            path: STEP_KEY.to_owned(),
            message: format!(
                "{step} is not a step of the sweep: discover-accounts, sweep-account or \
                 summarise-sweep"
            ),
        }),
    })
}

fn sweep_account(payload: Value) -> Result<Step, IntakeError> {
    let payload: SweepAccountPayload = parse(payload, "")?;
    let account =
        AccountId::parse(&payload.account).map_err(|error| malformed("account", error))?;
    let mode = parse_mode(&payload.mode).ok_or_else(|| IntakeError::Malformed {
        path: "mode".to_owned(),
        message: format!("{:?} is not report, deactivate or delete", payload.mode),
    })?;
    Ok(Step::SweepAccount { account, mode })
}

#[cfg(test)]
mod tests;
