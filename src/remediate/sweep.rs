//! The sweep: the credential report nominates users, and each goes through the same read,
//! policy and apply as an event, SWEEP_CONCURRENCY at a time, within one action budget and
//! the Lambda deadline. A sweep of listed accounts runs them one after another.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::outcome::{Outcome, RemediationError, error_chain};
use super::remediator::{Remediator, remediate_user};
use super::snapshot::Budget;
use crate::aws::accounts::{AccountClients, HomeAccount};
use crate::aws::{AwsError, IamDirectory, IamWrites, UserInventory};
use crate::domain::ids::AccountId;
use crate::domain::nomination::nominate;
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

impl<I: IamDirectory + IamWrites, C: UserInventory> Remediator<I, C> {
    /// Sweeps one account, spending from the invocation's `budget`.
    pub(super) async fn sweep(
        &self,
        at: &AccountClients<I, C>,
        account: Option<AccountId>,
        deadline: Option<Instant>,
        budget: &Budget,
    ) -> Result<Outcome, RemediationError> {
        let now = OffsetDateTime::now_utc();
        let policy = &self.settings.policy;
        let csv = at
            .iam
            .credential_report()
            .await
            .map_err(RemediationError::CredentialReport)?;
        let nominees = nominate(&csv, now, policy)?;
        info!(
            nominees = nominees.len(),
            "sweep: users nominated by the credential report"
        );

        // `buffered` keeps report order, so two sweeps of one account read alike.
        let nominees: Vec<Nominee> = stream::iter(nominees)
            .map(|user_name| async move {
                if out_of_time(deadline) {
                    return Nominee::NotStarted(user_name);
                }
                match remediate_user(at, policy, &user_name, now, budget).await {
                    Ok(Some((report, failures))) => Nominee::Done(report, failures),
                    Ok(None) => Nominee::Gone,
                    Err(error) => Nominee::ReadFailed(error),
                }
            })
            .buffered(self.settings.sweep_concurrency)
            .collect()
            .await;

        let mut users = Vec::new();
        let mut deferred_users = Vec::new();
        let mut failures = Vec::new();
        for nominee in nominees {
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
        let mut report = Report::new(Trigger::Sweep, policy.mode, account, users);
        report.deferred_users = deferred_users;
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
            Ok(at) => {
                self.sweep(&at, Some(account.clone()), deadline, budget)
                    .await
            }
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

/// Whether the Lambda deadline is too close to start another user or account.
fn out_of_time(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| {
        deadline.saturating_duration_since(Instant::now()) < SWEEP_DEADLINE_MARGIN
    })
}
