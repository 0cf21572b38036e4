//! The operator's plan: the sweep's decision path run from a laptop against the operator's
//! own account, to see what the function would do before deploying it. It reads the
//! credential report, nominates and orders users as the sweep does, reads each nominee and
//! lets the policy decide in the configured mode, and shows every decision.
//!
//! It makes no write call by construction: the decisions are made through the read port
//! (`IamDirectory`) alone, and the write port is never handed to it.

pub mod cli;
mod table;

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use thiserror::Error;
use time::OffsetDateTime;

use self::cli::PlanArgs;
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::iam::AwsIam;
use crate::aws::{AwsError, IamDirectory, error_chain};
use crate::domain::nomination::{self, ReportError, nominate};
use crate::domain::policy::{KeyDecision, UserPlan, Verdict};
use crate::remediate::snapshot::{Budget, plan_user};
use crate::report::{Action, KeyReport, Report, Trigger, UserReport};
use crate::settings::Settings;

/// Where IAM is called when neither the options, the environment nor the profile name a
/// region: IAM is a global service, and the SDK needs a region only to sign.
const FALLBACK_REGION: &str = "us-east-1";

/// How the policy words a grace clock the function starts, and how the plan words it.
const CLOCK_STARTED: &str = "grace clock started";
const CLOCK_WOULD_START: &str = "would start the grace clock";

#[derive(Debug, Error)]
pub enum PlanError {
    #[error("reading the IAM credential report failed")]
    CredentialReport(#[source] AwsError),
    #[error(transparent)]
    UnreadableReport(#[from] ReportError),
}

/// The decisions, as the function's report, and how many nominees could not be read (each
/// named in the report's `warnings`).
#[derive(Debug)]
pub struct Planned {
    pub report: Report,
    pub failed_reads: usize,
}

/// `bootstrap plan`: settings from the environment, credentials from the standard chain,
/// then the plan printed as a table (or `--json`). Exits 1 when an AWS call failed, 2 when a
/// setting is invalid.
pub async fn run(args: PlanArgs) -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "{error}");
            return ExitCode::from(2);
        }
    };
    let sdk = sdk_config(&args).await;
    let started = Instant::now();
    let progress = progress_bar();
    let planned = match plan_account(&settings, &sdk, &progress).await {
        Ok(planned) => planned,
        Err(error) => {
            progress.finish_and_clear();
            let _ = writeln!(std::io::stderr(), "plan failed: {}", error_chain(&error));
            return ExitCode::FAILURE;
        }
    };
    let shown = if args.json {
        serde_json::to_string_pretty(&planned.report).expect("a report serializes")
    } else {
        table::render(&planned.report, started.elapsed())
    };
    // A closed stdout (`| head`) ends the output, not with a panic.
    let _ = writeln!(std::io::stdout().lock(), "{shown}");
    match planned.failed_reads {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// The standard chain's configuration (which honours AWS_PROFILE, AWS_REGION and
/// AWS_ENDPOINT_URL), with the profile and region the options give.
async fn sdk_config(args: &PlanArgs) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    match sdk.region() {
        Some(_) => sdk,
        None => sdk
            .into_builder()
            .region(Region::from_static(FALLBACK_REGION))
            .build(),
    }
}

/// A bar on stderr, drawn only when stderr is a terminal (indicatif's term target).
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// The bar's look once it knows how many users it is reading.
fn counting_users(progress: &ProgressBar, users: usize) {
    let style = ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} users, {eta} left")
        .expect("a valid template");
    progress.set_style(style);
    progress.set_length(users as u64);
    progress.set_message("reading each nominee's keys and tags");
}

/// The plan of the account `sdk`'s credentials are in, with the IAM calls it made (counted
/// by the SDK interceptor the function uses) as the report's `apiCalls`.
pub async fn plan_account(
    settings: &Settings,
    sdk: &SdkConfig,
    progress: &ProgressBar,
) -> Result<Planned, PlanError> {
    let api_calls = ApiCallCounter::default();
    let config = crate::aws::iam::client_config(aws_sdk_iam::config::Builder::from(sdk))
        .interceptor(api_calls.clone())
        .build();
    let iam = AwsIam::new(aws_sdk_iam::Client::from_conf(config));
    let mut planned = plan_with(&iam, settings, progress).await?;
    planned.report.api_calls = api_calls.snapshot();
    Ok(planned)
}

/// The sweep's decisions through the read port alone: the credential report's nominees, in
/// the sweep's order and within its action budget, each read and decided, SWEEP_CONCURRENCY
/// at a time. Reported in credential-report order, as the sweep reports.
pub async fn plan_with<D: IamDirectory>(
    iam: &D,
    settings: &Settings,
    progress: &ProgressBar,
) -> Result<Planned, PlanError> {
    let now = OffsetDateTime::now_utc();
    let policy = &settings.policy;
    progress.set_message("reading the IAM credential report");
    let csv = iam
        .credential_report()
        .await
        .map_err(PlanError::CredentialReport)?;
    let nominees = &nominate(&csv, now, policy)?;
    counting_users(progress, nominees.len());
    let budget = &Budget::new(policy.max_actions_per_invocation);
    let mut read: Vec<(usize, Result<Option<UserPlan>, AwsError>)> =
        stream::iter(nomination::sweep_order(nominees))
            .map(|row| async move {
                let user_name = &nominees[row].user_name;
                let plan = plan_user(iam, user_name, (now, policy, None), budget)
                    .await
                    .map(|planned| planned.map(|(plan, _tags)| plan));
                progress.inc(1);
                (row, plan)
            })
            .buffer_unordered(settings.sweep_concurrency)
            .collect()
            .await;
    progress.finish_and_clear();
    read.sort_unstable_by_key(|(row, _)| *row);

    let (mut users, mut warnings, mut failed_reads) = (Vec::new(), Vec::new(), 0);
    for (row, plan) in read {
        let user_name = &nominees[row].user_name;
        match plan {
            Ok(Some(plan)) => {
                warnings.extend(plan.warnings.iter().map(|w| format!("{user_name}: {w}")));
                users.push(user_report(user_name, &plan));
            }
            // Deleted since the credential report was made: nothing to decide.
            Ok(None) => {}
            Err(error) => {
                failed_reads += 1;
                warnings.push(format!("{user_name}: not read: {}", error_chain(&error)));
            }
        }
    }
    let account = settings.local_account.clone();
    let mut report = Report::new(Trigger::Sweep, policy.mode, account, users);
    report.warnings = warnings;
    Ok(Planned {
        report,
        failed_reads,
    })
}

/// One user's decisions as the report shows them.
fn user_report(user_name: &str, plan: &UserPlan) -> UserReport {
    UserReport {
        user_name: user_name.to_owned(),
        user_id: None,
        exempt: plan.exemption.is_exempt(),
        no_tag_slot: plan.clocks.as_ref().is_some_and(|clocks| !clocks.tag_slot),
        keys: plan.keys.iter().map(key_report).collect(),
        notice: None,
    }
}

/// A decision as what would happen: a verdict that writes is reported as the write it would
/// make, never as done.
fn key_report(decision: &KeyDecision) -> KeyReport {
    let reason = decision.reason.clone();
    let (action, reason) = match decision.verdict {
        Verdict::Deactivate => (Action::WouldDeactivate, reason),
        Verdict::Delete => (Action::WouldDelete, reason),
        Verdict::Warn => (Action::WouldWarn, reason),
        // Starting a grace clock writes only the state tag, and deletes nothing yet.
        Verdict::Mark => {
            let reason = match reason.strip_suffix(CLOCK_STARTED) {
                Some(start) => format!("{start}{CLOCK_WOULD_START}"),
                None => format!("{reason}; {CLOCK_WOULD_START}"),
            };
            (Action::Pending, reason)
        }
        Verdict::Hold(hold) => (hold.into(), reason),
    };
    KeyReport::of(decision, action, reason)
}

#[cfg(test)]
mod tests;
