//! The Map's step of the organisation sweep: exactly one account, in the mode discovery gave
//! it, lowered to what the account's role permits, with an action budget of its own.

use std::time::Instant;

use super::org_mode::lowered_by_ceiling;
use super::outcome::{Outcome, RemediationError};
use super::remediator::Remediator;
use super::snapshot::Budget;
use crate::aws::accounts::HomeAccount;
use crate::aws::{Config, Findings, Iam};
use crate::domain::ids::AccountId;
use crate::domain::org::within_ceiling;
use crate::domain::policy::{Mode, Policy};

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    /// Sweeps `account` in `mode`, or in its role's ceiling when that is lower. The outcome's
    /// report is the account's full sweep report; the second value is the mode asked for,
    /// when the ceiling lowered it.
    pub async fn sweep_account(
        &self,
        account: &AccountId,
        mode: Mode,
        deadline: Option<Instant>,
        home: Option<&HomeAccount>,
    ) -> Result<(Outcome, Option<Mode>), RemediationError> {
        let calls_before = self.api_calls.snapshot();
        // Fail closed, as for events: an account we cannot compare with our own is never acted in.
        if home.is_none() {
            return Err(RemediationError::HomeUnknown {
                account: account.clone(),
            });
        }
        let at = self.clients_for(Some(account), home).await?;
        // In report mode nothing is written, so what the role would permit does not matter.
        let ceiling = match mode {
            Mode::Report => Mode::Report,
            _ => self.ceiling(&at, account, home).await?,
        };
        let (mode, asked) = within_ceiling(mode, ceiling);
        let policy = Policy {
            mode,
            ..self.settings.policy.clone()
        };
        let budget = Budget::new(policy.max_actions_per_invocation);
        let mut outcome = self
            .sweep(&at, Some(account.clone()), deadline, (&policy, &budget))
            .await?;
        if let Some(asked) = asked {
            let warning = lowered_by_ceiling(account, asked, mode);
            outcome.report.warnings.push(warning);
        }
        outcome.report.api_calls = self.api_calls.since(&calls_before);
        Ok((outcome, asked))
    }
}
