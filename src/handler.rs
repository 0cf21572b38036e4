//! The Lambda handler: read the trigger, run the pipeline, and turn what it came to into the
//! report, the metrics, the logs and the Lambda error, each once and here only.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use thiserror::Error;
use tracing::warn;

use crate::aws::accounts::HomeAccount;
use crate::aws::{Config, Findings, Iam};
use crate::domain::ids::AccountId;
use crate::remediate::Remediator;
use crate::remediate::outcome::{Outcome, RemediationError, error_chain};
use crate::report::Report;
use crate::triggers::{self, IntakeError};

mod steps;

pub use self::steps::{Answer, respond};

/// Why an invocation failed: the payload, or the work.
#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Remediation(#[from] RemediationError),
    /// One account of the organisation sweep: the state machine counts it against the
    /// tolerance.
    #[error("account {account}")]
    Account {
        account: AccountId,
        #[source]
        source: RemediationError,
    },
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::Intake(_) => "MalformedEvent",
            HandlerError::Account { .. } => "AccountSweepFailed",
            HandlerError::Remediation(failure) => match failure {
                RemediationError::Resolve { .. } => "ResolveUserFailed",
                RemediationError::Read { .. } => "ReadStateFailed",
                RemediationError::CredentialReport(_) | RemediationError::UnreadableReport(_) => {
                    "CredentialReportFailed"
                }
                RemediationError::Incomplete { .. } => "RemediationFailed",
                RemediationError::ForeignAccount { .. } => "AccountNotConfigured",
                RemediationError::HomeUnknown { .. } => "HomeAccountUnknown",
                RemediationError::Accounts { .. } => "AccountSweepFailed",
                RemediationError::AccountMode { .. } | RemediationError::NoOrganization => {
                    "AccountModeUnknown"
                }
                RemediationError::Ceiling { .. } => "CeilingUnknown",
                RemediationError::Discovery(_) => "DiscoveryFailed",
                RemediationError::RunStore(_)
                | RemediationError::RunUnreadable { .. }
                | RemediationError::NoRunStore => "SweepResultsUnavailable",
                RemediationError::AnalyzerFinding { .. } => "ReadFindingFailed",
                RemediationError::FindingUpdate { .. } => "FindingUpdateFailed",
            },
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error_chain(&error),
        }
    }
}

/// Handles one invocation. Tests call it directly with `Context::default()`.
pub async fn handle<I: Iam, C: Config, F: Findings>(
    remediator: &Remediator<I, C, F>,
    event: LambdaEvent<Value>,
) -> Result<Report, HandlerError> {
    let deadline = deadline_of(&event.context);
    let home = home_account(remediator, &event.context.invoked_function_arn);
    let outcome = match triggers::classify(event.payload) {
        Ok(work) => remediator
            .run(work, deadline, home)
            .await
            .map_err(HandlerError::from),
        Err(error) => Err(HandlerError::from(error)),
    };
    let Outcome { report, failure } = outcome.inspect_err(log_failure)?;
    report.log_summary();
    emit(remediator, &report.metric_lines(now_ms()));
    match failure {
        None => Ok(report.capped(Report::MAX_BYTES)),
        Some(failure) => Err(HandlerError::from(failure)).inspect_err(log_failure),
    }
}

/// The function's own account: from the ARN Lambda invokes it under, else (a local runtime)
/// from AWS_ACCOUNT_ID; else unknown, and work naming an account is refused.
fn home_account<I, C, F>(
    remediator: &Remediator<I, C, F>,
    function_arn: &str,
) -> Option<HomeAccount> {
    let home = HomeAccount::from_function_arn(function_arn).or_else(|| {
        let account_id = remediator.settings.local_account.clone()?;
        Some(HomeAccount {
            partition: "aws".to_owned(),
            account_id,
        })
    });
    if home.is_none() {
        warn!(%function_arn, "the invoked ARN is not a Lambda function ARN and AWS_ACCOUNT_ID is unset; events naming an account are refused");
    }
    home
}

/// Hands EMF lines to the remediator's metric sink, if it has one.
fn emit<I, C, F>(remediator: &Remediator<I, C, F>, lines: &[String]) {
    if let Some(sink) = &remediator.metrics {
        for line in lines {
            sink(line);
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

fn log_failure(error: &HandlerError) {
    tracing::error!(error = %error_chain(error), "invocation failed");
}

/// The invocation's deadline as an `Instant`. `None`, which leaves a sweep unbounded, when
/// the context carries none (a test's `Context::default()`) or one already past as the
/// invocation starts: Lambda never sends that, but local runtimes do (cargo lambda 1.9's
/// `watch` sends a duration, 600000, where Lambda sends epoch milliseconds).
fn deadline_of(context: &lambda_runtime::Context) -> Option<Instant> {
    if context.deadline == 0 {
        return None;
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(context.deadline);
    match deadline.duration_since(SystemTime::now()) {
        Ok(left) => Some(Instant::now() + left),
        Err(_) => {
            warn!(
                deadline_ms = context.deadline,
                "the invocation's deadline is already past; ignoring it"
            );
            None
        }
    }
}
