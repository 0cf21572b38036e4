//! The organisation sweep's steps, as the state machine invokes them: discovery, one account,
//! the summary. Each answers in the compact shape the state machine carries between states;
//! the full reports go to the log and the metrics, as for any invocation.

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::info;

use super::{HandlerError, deadline_of, emit, handle, home_account, log_failure, now_ms};
use crate::aws::{Config, Findings, Iam};
use crate::remediate::Remediator;
use crate::remediate::outcome::Outcome;
use crate::report::Report;
use crate::report::org::{AccountAnswer, DiscoveryAnswer, OrgSummary};
use crate::triggers::org_sweep::{Step, classify_step};

/// What an invocation answers: an event's report, or a step's answer.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Report(Box<Report>),
    Discovery(DiscoveryAnswer),
    Account(AccountAnswer),
    Summary(Box<OrgSummary>),
}

/// Handles one invocation of any kind: a step of the organisation sweep, or an event.
pub async fn respond<I: Iam, C: Config, F: Findings>(
    remediator: &Remediator<I, C, F>,
    event: LambdaEvent<Value>,
) -> Result<Answer, HandlerError> {
    let Some(step) = classify_step(&event.payload) else {
        let report = handle(remediator, event).await?;
        return Ok(Answer::Report(Box::new(report)));
    };
    let step = step.map_err(HandlerError::from).inspect_err(log_failure)?;
    let home = home_account(remediator, &event.context.invoked_function_arn);
    let answer = match step {
        Step::Discover { execution } => {
            let discovered = remediator
                .discover(home.as_ref(), execution.as_deref())
                .await;
            discovered
                .map(Answer::Discovery)
                .map_err(HandlerError::from)
        }
        Step::SweepAccount { account, mode } => {
            let deadline = deadline_of(&event.context);
            let swept = remediator.sweep_account(&account, mode, deadline, home.as_ref());
            match swept.await {
                Ok((Outcome { report, failure }, asked)) => {
                    report.log_summary();
                    emit(remediator, &report.metric_lines(now_ms()));
                    match failure {
                        Some(source) => Err(HandlerError::Account { account, source }),
                        None => {
                            let mut answer = AccountAnswer::of(&report);
                            answer.asked_mode = asked.map(|mode| mode.as_str().to_owned());
                            Ok(Answer::Account(answer))
                        }
                    }
                }
                Err(source) => Err(HandlerError::Account { account, source }),
            }
        }
        Step::Summarise(run) => match remediator.summarise(&run).await {
            Ok(summary) => {
                let logged = serde_json::to_string(&summary).unwrap_or_default();
                info!(summary = %logged, "organisation sweep");
                emit(remediator, &[summary.metric_line(now_ms())]);
                Ok(Answer::Summary(Box::new(summary)))
            }
            Err(error) => Err(HandlerError::from(error)),
        },
    };
    answer.inspect_err(log_failure)
}
