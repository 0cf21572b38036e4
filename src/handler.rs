//! The Lambda handler: classify the event, resolve the user, read their keys and tags, ask
//! the policy, carry out its verdicts, report. It decides nothing itself: the decisions live
//! in `domain::policy`, the AWS calls behind `ports`.

use std::collections::BTreeMap;

use futures::future::try_join_all;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use thiserror::Error;
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::domain::policy::{
    self, AccessKey, Action, Exemption, KeyDecision, KeyStatus, Verdict, marker_tag_key,
    marker_tag_value,
};
use crate::intake::{self, ComplianceTarget, Intake, IntakeError};
use crate::ports::{AwsError, IamDirectory, IamUser, UserInventory, WriteOutcome};
use crate::report::{KeyReport, Outcome, Report, Trigger, UserReport};
use crate::settings::Settings;

/// Everything an invocation needs, built once per container.
pub struct Remediator<I, C> {
    settings: Settings,
    iam: I,
    inventory: C,
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("could not resolve UserId {user_id} to a user")]
    Resolve {
        user_id: String,
        #[source]
        source: AwsError,
    },
    #[error("could not read the keys and tags of user {user_name}")]
    Read {
        user_name: String,
        #[source]
        source: AwsError,
    },
    /// Some writes failed after the SDK's retries. The others were still attempted, and the
    /// error makes Lambda retry the event (and, past its retries, dead-letter it).
    #[error("{failed} IAM write(s) failed for user {user_name}; the rest were carried out")]
    Writes {
        user_name: String,
        failed: usize,
        #[source]
        first: AwsError,
    },
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::Intake(_) => "MalformedEvent",
            HandlerError::Resolve { .. } => "ResolveUserFailed",
            HandlerError::Read { .. } => "ReadStateFailed",
            HandlerError::Writes { .. } => "RemediationFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error_chain(&error),
        }
    }
}

/// Handles one invocation. Tests call it directly with `Context::default()`.
pub async fn handle<I: IamDirectory, C: UserInventory>(
    remediator: &Remediator<I, C>,
    event: LambdaEvent<Value>,
) -> Result<Report, HandlerError> {
    let result = remediator.handle_payload(event.payload).await;
    match &result {
        Ok(report) => log_summary(report),
        Err(error) => tracing::error!(error = %error_chain(error), "invocation failed"),
    }
    result
}

/// One user's remediation, and the writes that failed on the way.
struct UserRemediation {
    report: UserReport,
    failures: Vec<AwsError>,
}

impl<I: IamDirectory, C: UserInventory> Remediator<I, C> {
    pub fn new(settings: Settings, iam: I, inventory: C) -> Self {
        Remediator {
            settings,
            iam,
            inventory,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    async fn handle_payload(&self, payload: Value) -> Result<Report, HandlerError> {
        let mode = self.settings.mode;
        match intake::classify(payload, &self.settings)? {
            Intake::Ignore { account, reason } => Ok(Report::nothing_done(
                Trigger::Event,
                mode,
                account,
                Outcome::Ignored,
                reason,
            )),
            Intake::Remediate(target) => self.remediate_event(target).await,
        }
    }

    async fn remediate_event(&self, target: ComplianceTarget) -> Result<Report, HandlerError> {
        let mode = self.settings.mode;
        let gone = |account| {
            Report::nothing_done(
                Trigger::Event,
                mode,
                account,
                Outcome::UserNotFound,
                format!("user {} no longer exists", target.user_id),
            )
        };
        info!(user_id = %target.user_id, rule = %target.rule_name, "remediating");
        let Some(user) = self.resolve(&target.user_id).await? else {
            return Ok(gone(target.account));
        };
        let now = OffsetDateTime::now_utc();
        let budget = self.settings.max_actions_per_invocation;
        let Some(done) = self.remediate_user(&user, now, budget).await? else {
            return Ok(gone(target.account));
        };
        let report = Report::new(Trigger::Event, mode, target.account, vec![done.report]);
        let mut failures = done.failures.into_iter();
        match failures.next() {
            None => Ok(report),
            Some(first) => {
                // The error replaces the report as the invocation's result, so log what was done.
                log_summary(&report);
                Err(HandlerError::Writes {
                    user_name: user.user_name,
                    failed: 1 + failures.len(),
                    first,
                })
            }
        }
    }

    /// Finds the user a Config event names by UserId.
    async fn resolve(&self, user_id: &str) -> Result<Option<IamUser>, HandlerError> {
        let resolve_error = |source| HandlerError::Resolve {
            user_id: user_id.to_owned(),
            source,
        };
        match self.inventory.user_name_for_id(user_id).await {
            Ok(Some(name)) => {
                // Config's record can lag a rename, or a user deleted and re-created under
                // the same name: IAM must confirm the name still belongs to this UserId.
                let current = self.iam.get_user(&name).await.map_err(resolve_error)?;
                if let Some(user) = current.filter(|user| user.user_id == user_id) {
                    return Ok(Some(user));
                }
                info!(user_id, config_name = %name, "Config's name no longer matches; scanning IAM");
            }
            Ok(None) => info!(user_id, "Config has no record of the user; scanning IAM"),
            Err(error) => warn!(
                user_id,
                error = %error_chain(&error),
                "Config lookup failed; scanning IAM"
            ),
        }
        self.iam
            .find_user_by_id(user_id)
            .await
            .map_err(resolve_error)
    }

    /// Reads one user's state, decides, and carries the decisions out. `None` when the user
    /// vanished before we could read them.
    async fn remediate_user(
        &self,
        user: &IamUser,
        now: OffsetDateTime,
        budget: u32,
    ) -> Result<Option<UserRemediation>, HandlerError> {
        let read_error = |source| HandlerError::Read {
            user_name: user.user_name.clone(),
            source,
        };
        let Some((keys, tags)) = self.snapshot(&user.user_name).await.map_err(read_error)? else {
            return Ok(None);
        };

        let plan = policy::decide(&keys, &tags, now, &self.settings, budget);
        if let Exemption::Unrecognised { value } = &plan.exemption {
            warn!(
                user = %user.user_name,
                tag = %self.settings.exempt_tag_key,
                value = %value,
                "exemption tag is neither true nor YYYY-MM-DD; treating the user as exempt"
            );
        }

        let mut failures = Vec::new();
        let mut key_reports = Vec::with_capacity(plan.keys.len());
        for decision in &plan.keys {
            let (action, reason) = match self.carry_out(user, decision, now).await {
                Ok(done) => done,
                Err(error) => {
                    let reason = format!(
                        "{}; {:?} failed: {}",
                        decision.reason,
                        decision.verdict,
                        error_chain(&error)
                    );
                    failures.push(error);
                    (Action::Failed, reason)
                }
            };
            info!(
                user = %user.user_name,
                access_key_id = %decision.key.access_key_id,
                action = action.as_str(),
                reason = %reason,
                "key decision"
            );
            key_reports.push(KeyReport {
                access_key_id: decision.key.access_key_id.clone(),
                status: decision.key.status,
                create_date: decision.key.created,
                last_used_date: decision.key.last_used,
                age_days: decision.age_days,
                action,
                reason,
            });
        }

        if !plan.stale_markers.is_empty() {
            match self
                .iam
                .untag_user(&user.user_name, &plan.stale_markers)
                .await
            {
                Ok(_) => {
                    info!(user = %user.user_name, markers = ?plan.stale_markers, "removed stale markers")
                }
                Err(error) => failures.push(error),
            }
        }

        Ok(Some(UserRemediation {
            report: UserReport {
                user_name: user.user_name.clone(),
                user_id: user.user_id.clone(),
                exempt: plan.exemption.is_exempt(),
                keys: key_reports,
            },
            failures,
        }))
    }

    /// The user's keys (with last use) and tags, read concurrently.
    async fn snapshot(
        &self,
        user_name: &str,
    ) -> Result<Option<(Vec<AccessKey>, BTreeMap<String, String>)>, AwsError> {
        let (keys, tags) = tokio::try_join!(
            self.iam.list_access_keys(user_name),
            self.iam.list_user_tags(user_name)
        )?;
        let (Some(mut keys), Some(tags)) = (keys, tags) else {
            return Ok(None);
        };
        let last_used = try_join_all(
            keys.iter()
                .map(|key| self.iam.key_last_used(&key.access_key_id)),
        )
        .await?;
        for (key, last_used) in keys.iter_mut().zip(last_used) {
            key.last_used = last_used;
        }
        Ok(Some((keys, tags)))
    }

    /// Makes the IAM calls a verdict needs; returns the action to report and why.
    async fn carry_out(
        &self,
        user: &IamUser,
        decision: &KeyDecision,
        now: OffsetDateTime,
    ) -> Result<(Action, String), AwsError> {
        let user_name = &user.user_name;
        let key_id = &decision.key.access_key_id;
        let reason = decision.reason.clone();
        let marker = marker_tag_key(key_id);
        match decision.verdict {
            Verdict::Leave(action) => Ok((action, reason)),
            Verdict::Deactivate => {
                if self.iam.deactivate_key(user_name, key_id).await? == WriteOutcome::AlreadyGone {
                    return Ok((
                        Action::Deactivated,
                        format!("{reason}; the key was already gone"),
                    ));
                }
                self.iam
                    .tag_user(user_name, &marker, &marker_tag_value(now))
                    .await?;
                Ok((Action::Deactivated, reason))
            }
            Verdict::Mark => {
                self.iam
                    .tag_user(user_name, &marker, &marker_tag_value(now))
                    .await?;
                Ok((Action::Marked, reason))
            }
            Verdict::Delete => {
                // The snapshot may be seconds old. A key someone re-activated since then is
                // in use again and must not be deleted.
                let current = self.iam.list_access_keys(user_name).await?;
                let status = current
                    .unwrap_or_default()
                    .into_iter()
                    .find(|key| &key.access_key_id == key_id)
                    .map(|key| key.status);
                let reason = match status {
                    Some(KeyStatus::Active) => {
                        return Ok((
                            Action::Pending,
                            "re-activated since it was read; not deleted".to_owned(),
                        ));
                    }
                    None => format!("{reason}; the key was already gone"),
                    Some(KeyStatus::Inactive) => {
                        self.iam.delete_key(user_name, key_id).await?;
                        reason
                    }
                };
                self.iam
                    .untag_user(user_name, std::slice::from_ref(&marker))
                    .await?;
                Ok((Action::Deleted, reason))
            }
        }
    }
}

/// An error and its sources, outermost first: "IAM TagUser failed: service error: …".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn log_summary(report: &Report) {
    let count = |action| report.summary.count(action);
    info!(
        trigger = report.trigger.as_str(),
        mode = report.mode.as_str(),
        account = report.account.as_deref().unwrap_or(""),
        outcome = report.outcome.as_str(),
        reason = report.reason.as_deref().unwrap_or(""),
        deactivated = count(Action::Deactivated),
        deleted = count(Action::Deleted),
        marked = count(Action::Marked),
        pending = count(Action::Pending),
        kept = count(Action::Kept),
        exempt = count(Action::Exempt),
        deferred = count(Action::Deferred),
        failed = count(Action::Failed),
        would_deactivate = count(Action::WouldDeactivate),
        would_delete = count(Action::WouldDelete),
        "invocation summary"
    );
}
