//! The event path: the one user an event names, resolved, read, decided and remediated.

use time::OffsetDateTime;
use tracing::info;

use super::outcome::{Outcome, RemediationError};
use super::remediator::{Remediated, Remediator, remediate_user};
use super::resolve::resolve;
use super::snapshot::Budget;
use crate::aws::accounts::AccountClients;
use crate::aws::{IamDirectory, IamUser, IamWrites, UserInventory};
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
        let Some(mut user) = resolve(at, &target.user_id).await? else {
            return Ok(gone(Some(target.account)));
        };
        let now = OffsetDateTime::now_utc();
        let budget = Budget::new(self.settings.policy.max_actions_per_invocation);
        let mut remediated = self.pass(at, &user, now, &budget).await?;
        // Renamed since it was resolved, before the read or before a write: find the user by
        // UserId once more, and remediate under the new name. Deleted: the report says so.
        if remediated.as_ref().is_none_or(|done| done.user_gone)
            && let Some(renamed) = resolve(at, &target.user_id).await?
            && renamed.user_name != user.user_name
        {
            info!(user_id = %target.user_id, from = %user.user_name, to = %renamed.user_name, "user renamed; remediating under the new name");
            user = renamed;
            remediated = self.pass(at, &user, now, &budget).await?;
        }
        let Some(Remediated {
            mut report,
            failures,
            ..
        }) = remediated
        else {
            return Ok(gone(Some(target.account)));
        };
        report.user_id = Some(user.user_id);
        let report = Report::new(Trigger::Event, mode, Some(target.account), vec![report]);
        Ok(Outcome::with_failed_calls(report, failures))
    }

    /// One pass of the user, as resolved, through the stages.
    async fn pass(
        &self,
        at: &AccountClients<I, C>,
        user: &IamUser,
        now: OffsetDateTime,
        budget: &Budget,
    ) -> Result<Option<Remediated>, RemediationError> {
        let named = (user.user_name.as_str(), Some(&user.user_id));
        remediate_user(at, &self.settings.policy, named, now, budget)
            .await
            .map_err(|source| RemediationError::Read {
                user_name: user.user_name.clone(),
                source,
            })
    }
}
