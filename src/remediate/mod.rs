//! The pipeline that carries out one unit of work, one stage per file: `resolve` (UserId to
//! user), `snapshot` (read one user whole, and decide), `apply` (verdicts to IAM writes), and
//! the ways in: `event` (one user), before which `rule` (is the Config rule ours?) or
//! `unused_key` (which key the Access Analyzer finding names) and after which `security_hub`
//! (close the finding), and `sweep` (every nominee of one or more accounts). The organisation
//! sweep's steps: `discover` (which accounts, in which mode), `account_sweep` (one of them) and
//! `org_summary` (the totals); `org_mode` gives each account its mode from its Organizations
//! tags and role ceiling, kept in a `ttl_cache`.
//! Every stage returns what it did and what failed as data (`outcome`); none imports the
//! handler above it.

pub mod account_sweep;
pub mod apply;
pub mod discover;
pub mod event;
pub mod notify;
pub mod org_mode;
pub mod org_summary;
pub mod outcome;
pub mod remediator;
pub mod resolve;
pub mod rule;
pub mod security_hub;
pub mod snapshot;
pub mod sweep;
pub mod ttl_cache;
pub mod unused_key;

use std::time::Instant;

use self::outcome::{Outcome, RemediationError};
pub use self::remediator::{MetricSink, Remediator};
use self::snapshot::Budget;
use self::sweep::with_mode_warnings;
use crate::aws::accounts::HomeAccount;
use crate::aws::{Config, Findings, Iam};
use crate::report::{Outcome as ReportOutcome, Report, Trigger};
use crate::triggers::{Cause, UserTarget, Work};

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    /// Carries out one unit of work in the account it names. `Err` when the work failed
    /// before anything was done; a partial failure is the outcome's `failure`.
    pub async fn run(
        &self,
        work: Work,
        deadline: Option<Instant>,
        home: Option<HomeAccount>,
    ) -> Result<Outcome, RemediationError> {
        let calls_before = self.api_calls.snapshot();
        // Fail closed: an account we cannot compare with our own is never acted in.
        let named = match &work {
            Work::Remediate(target) => Some(&target.account),
            Work::Sweep { account, .. } => account.as_ref(),
            Work::Ignore { .. } => None,
        };
        if let (None, Some(account)) = (&home, named) {
            return Err(RemediationError::HomeUnknown {
                account: account.clone(),
            });
        }
        let mode = self.settings.policy.mode;
        let mut outcome = match work {
            Work::Ignore { account, reason } => Outcome::done(Report::nothing_done(
                Trigger::Event,
                mode,
                account,
                ReportOutcome::Ignored,
                reason,
            )),
            Work::Remediate(target) => self.remediate_target(target, home.as_ref()).await?,
            Work::Sweep { account, accounts } if accounts.is_empty() => {
                let at = self.clients_for(account.as_ref(), home.as_ref()).await?;
                let (policy, mode) = self.policy_in(&at, account.as_ref(), home.as_ref()).await?;
                let budget = Budget::new(policy.max_actions_per_invocation);
                let outcome = self.sweep(&at, account.clone(), deadline, (&policy, &budget));
                match &account {
                    Some(account) => with_mode_warnings(outcome.await?, account, mode.as_ref()),
                    None => outcome.await?,
                }
            }
            Work::Sweep { account, accounts } => {
                self.sweep_accounts(account, accounts, deadline, home.as_ref())
                    .await
            }
        };
        outcome.report.api_calls = self.api_calls.since(&calls_before);
        Ok(outcome)
    }

    /// One user an event names, by the path its cause takes.
    async fn remediate_target(
        &self,
        target: UserTarget,
        home: Option<&HomeAccount>,
    ) -> Result<Outcome, RemediationError> {
        let at = self.clients_for(Some(&target.account), home).await?;
        let account = target.account.clone();
        let (policy, mode) = self.policy_in(&at, Some(&account), home).await?;
        let outcome = match target.cause.clone() {
            Cause::ConfigRule {
                rule_name,
                rule_arn,
            } => {
                let rule = (rule_name.as_str(), rule_arn.as_deref());
                self.remediate_rule_event((&at, &policy), target, rule)
                    .await
            }
            Cause::SecurityHub(finding) => {
                self.remediate_finding((&at, &policy), target, &finding)
                    .await
            }
            Cause::AccessAnalyzer(finding) => {
                // The finding lives with its analyzer, which may be in another account.
                let analyzer_at = self
                    .clients_for(Some(&finding.analyzer_account), home)
                    .await?;
                self.remediate_unused_key((&at, &analyzer_at), &policy, target, &finding)
                    .await
            }
        };
        Ok(with_mode_warnings(outcome?, &account, mode.as_ref()))
    }
}
