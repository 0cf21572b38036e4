//! The event path: the one user an event names, resolved, read, decided and remediated.

use time::OffsetDateTime;
use tracing::info;

use super::outcome::{Outcome, RemediationError};
use super::remediator::{Remediator, remediate_user};
use super::resolve::resolve;
use super::snapshot::Budget;
use crate::aws::accounts::AccountClients;
use crate::aws::{IamDirectory, IamWrites, UserInventory};
use crate::report::{Outcome as ReportOutcome, Report, Trigger};
use crate::triggers::UserTarget;

impl<I: IamDirectory + IamWrites, C: UserInventory> Remediator<I, C> {
    pub(super) async fn remediate_event(
        &self,
        at: &AccountClients<I, C>,
        target: UserTarget,
    ) -> Result<Outcome, RemediationError> {
        let mode = self.settings.policy.mode;
        let gone = |account| {
            Outcome::done(Report::nothing_done(
                Trigger::Event,
                mode,
                account,
                ReportOutcome::UserNotFound,
                format!("user {} no longer exists", target.user_id),
            ))
        };
        info!(user_id = %target.user_id, rule = %target.rule_name, "remediating");
        let Some(user) = resolve(at, &target.user_id).await? else {
            return Ok(gone(target.account));
        };
        let now = OffsetDateTime::now_utc();
        let budget = Budget::new(self.settings.policy.max_actions_per_invocation);
        let remediated = remediate_user(at, &self.settings.policy, &user.user_name, now, &budget)
            .await
            .map_err(|source| RemediationError::Read {
                user_name: user.user_name.clone(),
                source,
            })?;
        let Some((mut report, failures)) = remediated else {
            return Ok(gone(target.account));
        };
        report.user_id = Some(user.user_id);
        let report = Report::new(Trigger::Event, mode, target.account, vec![report]);
        Ok(Outcome::with_failed_calls(report, failures))
    }
}
