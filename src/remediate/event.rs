//! The event path: the one user an event names, resolved, read, decided and remediated. Each
//! trigger's own step (`rule`, `security_hub`, `unused_key`) comes before or after this one.

use time::OffsetDateTime;
use tracing::info;

use super::notify::Notifier;
use super::outcome::{Outcome, RemediationError};
use super::remediator::{Remediated, Remediator, remediate_user};
use super::resolve::{resolve, resolve_ref};
use super::snapshot::Budget;
use crate::aws::IamUser;
use crate::aws::accounts::AccountClients;
use crate::aws::{Config, Findings, Iam};
use crate::domain::policy::{Policy, UnusedKey};
use crate::report::{Outcome as ReportOutcome, Report, Trigger};
use crate::triggers::{UserRef, UserTarget};

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    /// Remediates the target's user under `policy`: every key, or only the one `unused`
    /// names.
    pub(super) async fn remediate_event(
        &self,
        at: &AccountClients<I, C, F>,
        target: &UserTarget,
        (policy, unused): (&Policy, Option<&UnusedKey>),
    ) -> Result<Outcome, RemediationError> {
        let mode = policy.mode;
        let gone = |account| {
            Outcome::done(Report::nothing_done(
                Trigger::Event,
                mode,
                account,
                ReportOutcome::UserNotFound,
                format!("user {} no longer exists", describe(&target.user)),
            ))
        };
        info!(user = %describe(&target.user), "remediating");
        let Some(mut user) = resolve_ref(at, &target.user).await? else {
            return Ok(gone(Some(target.account.clone())));
        };
        let now = OffsetDateTime::now_utc();
        let budget = Budget::new(self.settings.policy.max_actions_per_invocation);
        let notifier = self.notifier(Some(&target.account));
        let at = (at, &notifier);
        let scope = (policy, now, unused);
        let mut remediated = self.pass(at, &user, scope, &budget).await?;
        // Renamed since it was resolved, before the read or before a write: find the user by
        // UserId once more, and remediate under the new name. Deleted: the report says so.
        if remediated.as_ref().is_none_or(|done| done.user_gone)
            && let Some(renamed) = resolve(at.0, &user.user_id).await?
            && renamed.user_name != user.user_name
        {
            info!(user_id = %user.user_id, from = %user.user_name, to = %renamed.user_name, "user renamed; remediating under the new name");
            user = renamed;
            remediated = self.pass(at, &user, scope, &budget).await?;
        }
        let Some(Remediated {
            mut report,
            failures,
            ..
        }) = remediated
        else {
            return Ok(gone(Some(target.account.clone())));
        };
        report.user_id = Some(user.user_id);
        let report = Report::new(
            Trigger::Event,
            mode,
            Some(target.account.clone()),
            vec![report],
        );
        Ok(Outcome::with_failed_calls(report, failures))
    }

    /// One pass of the user, as resolved, through the stages.
    async fn pass(
        &self,
        at: (&AccountClients<I, C, F>, &Notifier<'_, F>),
        user: &IamUser,
        (policy, now, unused): (&Policy, OffsetDateTime, Option<&UnusedKey>),
        budget: &Budget,
    ) -> Result<Option<Remediated>, RemediationError> {
        let named = (user.user_name.as_str(), Some(&user.user_id));
        remediate_user(at, policy, named, (now, unused), budget)
            .await
            .map_err(|source| RemediationError::Read {
                user_name: user.user_name.clone(),
                source,
            })
    }
}

fn describe(user: &UserRef) -> String {
    match user {
        UserRef::Id(user_id) => user_id.to_string(),
        UserRef::Name { user_name, .. } => user_name.clone(),
    }
}
