//! The sweep: the credential report nominates users, and each goes through the same read,
//! policy and apply as an event, SWEEP_CONCURRENCY at a time, within one action budget and
//! the Lambda deadline. A sweep of listed accounts runs them one after another.
//!
//! Nominees are taken in an order that lets a sweep cut short (by the budget or the deadline)
//! be followed by one that reaches the users it left out first: see `nomination::sweep_order`.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::org_mode::AccountMode;
use super::outcome::{Outcome, RemediationError, error_chain};
use super::remediator::{Remediator, remediate_user};
use super::snapshot::Budget;
use crate::aws::AwsError;
use crate::aws::accounts::{AccountClients, HomeAccount};
use crate::aws::{Config, Findings, Iam};
use crate::domain::ids::AccountId;
use crate::domain::nomination::{self, nominate};
use crate::domain::policy::{Mode, Policy};
use crate::report::{Report, Trigger, UserReport};

/// A sweep starts no new user once the Lambda deadline is this close: enough for the users
/// in flight to finish their few calls, and for the report to be returned.
pub const SWEEP_DEADLINE_MARGIN: Duration = Duration::from_secs(15);

/// What became of one nominee.
enum Nominee {
    Done(UserReport, Vec<AwsError>),
    Gone,
    ReadFailed(AwsError),
    NotStarted(String),
}

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    /// Sweeps one account under `policy`, spending from the invocation's `budget`.
    pub(super) async fn sweep(
        &self,
        at: &AccountClients<I, C, F>,
        account: Option<AccountId>,
        deadline: Option<Instant>,
        (policy, budget): (&Policy, &Budget),
    ) -> Result<Outcome, RemediationError> {
        let now = OffsetDateTime::now_utc();
        let csv = at
            .iam
            .credential_report()
            .await
            .map_err(RemediationError::CredentialReport)?;
        let nominees = nominate(&csv, now, policy)?;
        info!(
            nominees = nominees.len(),
            active = nominees.iter().filter(|n| n.active).count(),
            "sweep: users nominated by the credential report"
        );

        // Taken in the sweep order (`buffered` keeps it), reported in the credential report's,
        // so two sweeps of an account in one state read alike.
        let taken = nomination::sweep_order(&nominees).into_iter();
        let taken = taken.map(|at_row| (at_row, nominees[at_row].user_name.clone()));
        let notifier = self.notifier(account.as_ref());
        let notifier = &notifier;
        let mut swept: Vec<(usize, Nominee)> =
            stream::iter(taken)
                .map(|(at_row, user_name)| async move {
                    if out_of_time(deadline) {
                        return (at_row, Nominee::NotStarted(user_name));
                    }
                    let named = (user_name.as_str(), None);
                    let nominee =
                        match remediate_user((at, notifier), policy, named, (now, None), budget)
                            .await
                        {
                            Ok(Some(done)) => Nominee::Done(done.report, done.failures),
                            Ok(None) => Nominee::Gone,
                            Err(error) => Nominee::ReadFailed(error),
                        };
                    (at_row, nominee)
                })
                .buffered(self.settings.sweep_concurrency)
                .collect()
                .await;
        swept.sort_unstable_by_key(|(at_row, _)| *at_row);

        let (report, failures) = sweep_report(policy.mode, account, swept);
        Ok(Outcome::with_failed_calls(report, failures))
    }

    /// Sweeps each listed account in turn, one action budget across them all. One account's
    /// failure does not stop the others; it fails the invocation once they are done.
    pub(super) async fn sweep_accounts(
        &self,
        account: Option<AccountId>,
        accounts: Vec<AccountId>,
        deadline: Option<Instant>,
        home: Option<&HomeAccount>,
    ) -> Outcome {
        let budget = Budget::new(self.settings.policy.max_actions_per_invocation);
        let mut reports = Vec::with_capacity(accounts.len());
        let mut deferred_accounts = Vec::new();
        let mut failures = Vec::new();
        for swept in accounts {
            if out_of_time(deadline) {
                deferred_accounts.push(swept);
                continue;
            }
            let (report, failure) = self.sweep_member(&swept, deadline, home, &budget).await;
            reports.extend(report);
            if let Some(error) = failure {
                tracing::error!(account = %swept, error = %error_chain(&error), "account sweep failed");
                failures.push((swept, error));
            }
        }
        if !deferred_accounts.is_empty() {
            warn!(
                deferred = deferred_accounts.len(),
                "sweep: Lambda deadline near; the remaining accounts are left to the next sweep"
            );
        }
        let report = Report::of_accounts(
            self.settings.policy.mode,
            account,
            reports,
            deferred_accounts,
        );
        let failed = failures.len();
        let failure =
            failures
                .into_iter()
                .next()
                .map(|(account, first)| RemediationError::Accounts {
                    failed,
                    account,
                    first: Box::new(first),
                });
        Outcome { report, failure }
    }

    /// One account of a sweep of listed accounts: its report, with the calls made in it, as
    /// far as it got, and what failed.
    async fn sweep_member(
        &self,
        account: &AccountId,
        deadline: Option<Instant>,
        home: Option<&HomeAccount>,
        budget: &Budget,
    ) -> (Option<Report>, Option<RemediationError>) {
        let calls_before = self.api_calls.snapshot();
        let result = match self.clients_for(Some(account), home).await {
            Ok(at) => match self.policy_in(&at, Some(account), home).await {
                Ok((policy, mode)) => {
                    let swept = (&policy, budget);
                    let outcome = self
                        .sweep(&at, Some(account.clone()), deadline, swept)
                        .await;
                    outcome.map(|outcome| with_mode_warnings(outcome, account, mode.as_ref()))
                }
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        match result {
            Ok(Outcome {
                mut report,
                failure,
            }) => {
                report.api_calls = self.api_calls.since(&calls_before);
                (Some(report), failure)
            }
            Err(error) => (None, Some(error)),
        }
    }
}

/// The sweep's report from what became of each nominee, in credential-report order, and the
/// calls that failed for good.
fn sweep_report(
    mode: Mode,
    account: Option<AccountId>,
    swept: Vec<(usize, Nominee)>,
) -> (Report, Vec<AwsError>) {
    let mut users = Vec::new();
    let mut deferred_users = Vec::new();
    let mut failures = Vec::new();
    for (_, nominee) in swept {
        match nominee {
            Nominee::Done(report, failed) => {
                users.push(report);
                failures.extend(failed);
            }
            Nominee::Gone => {}
            Nominee::ReadFailed(error) => failures.push(error),
            Nominee::NotStarted(user_name) => deferred_users.push(user_name),
        }
    }
    if !deferred_users.is_empty() {
        warn!(
            deferred = deferred_users.len(),
            "sweep: Lambda deadline near; the remaining users are left to the next sweep"
        );
    }
    let mut report = Report::new(Trigger::Sweep, mode, account, users);
    report.deferred_users = deferred_users;
    (report, failures)
}

/// The report, with what is unusual about the account's mode (an invalid tag, a ceiling).
pub(super) fn with_mode_warnings(
    mut outcome: Outcome,
    account: &AccountId,
    mode: Option<&AccountMode>,
) -> Outcome {
    if let Some(mode) = mode {
        outcome.report.warnings.extend(mode.warnings(account));
    }
    outcome
}

/// Whether the Lambda deadline is too close to start another user or account.
fn out_of_time(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| {
        deadline.saturating_duration_since(Instant::now()) < SWEEP_DEADLINE_MARGIN
    })
}

#[cfg(test)]
mod tests;
