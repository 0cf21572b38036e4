//! Apply: the plan's verdicts, turned into IAM writes, and what each write came to. A key is
//! reported `deactivated` or `deleted` only when IAM said so, or said the key is already gone.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use tracing::info;

use super::outcome::error_chain;
use crate::aws::{AwsError, IamDirectory, IamWrites, WriteOutcome};
use crate::domain::ids::AccessKeyId;
use crate::domain::marker::{marker_tag_key, marker_tag_value};
use crate::domain::policy::{KeyDecision, UserPlan, Verdict};
use crate::domain::user::KeyStatus;
use crate::report::{Action, KeyReport};

/// The fresh read of key statuses a deletion is checked against; `None` when it failed.
type StatusesNow = Option<BTreeMap<AccessKeyId, KeyStatus>>;

/// Carries out one user's plan. Every decision is reported; the calls that failed are
/// returned beside the reports, and the keys they concern are reported `failed`.
pub async fn apply<I: IamDirectory + IamWrites>(
    iam: &I,
    user_name: &str,
    plan: &UserPlan,
    now: OffsetDateTime,
) -> (Vec<KeyReport>, Vec<AwsError>) {
    let mut failures = Vec::new();
    let statuses_now = match statuses_before_deleting(iam, user_name, plan).await {
        Ok(statuses) => Some(statuses),
        Err(error) => {
            failures.push(error);
            None
        }
    };
    let mut reports = Vec::with_capacity(plan.keys.len());
    for decision in &plan.keys {
        let (action, reason) = match carry_out(iam, user_name, decision, now, &statuses_now).await {
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
            user = user_name,
            access_key_id = %decision.key.access_key_id,
            action = action.as_str(),
            reason = %reason,
            "key decision"
        );
        reports.push(KeyReport {
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
        match iam.untag_user(user_name, &plan.stale_markers).await {
            Ok(()) => {
                info!(user = user_name, markers = ?plan.stale_markers, "removed stale markers")
            }
            Err(error) => failures.push(error),
        }
    }
    (reports, failures)
}

/// The snapshot may be seconds old: one fresh read before any deletion, so that a key someone
/// re-activated since is not deleted. No call when the plan deletes nothing.
async fn statuses_before_deleting<I: IamDirectory>(
    iam: &I,
    user_name: &str,
    plan: &UserPlan,
) -> Result<BTreeMap<AccessKeyId, KeyStatus>, AwsError> {
    if !plan.keys.iter().any(|d| d.verdict == Verdict::Delete) {
        return Ok(BTreeMap::new());
    }
    Ok(iam.key_statuses(user_name).await?.unwrap_or_default())
}

/// Makes the IAM calls a verdict needs; returns the action to report and why.
async fn carry_out<I: IamWrites>(
    iam: &I,
    user_name: &str,
    decision: &KeyDecision,
    now: OffsetDateTime,
    statuses_now: &StatusesNow,
) -> Result<(Action, String), AwsError> {
    let key_id = &decision.key.access_key_id;
    let reason = decision.reason.clone();
    let marker = marker_tag_key(key_id);
    match decision.verdict {
        Verdict::Hold(hold) => Ok((hold.into(), reason)),
        Verdict::Deactivate => {
            if iam.deactivate_key(user_name, key_id).await? == WriteOutcome::AlreadyGone {
                return Ok((
                    Action::Deactivated,
                    format!("{reason}; the key was already gone"),
                ));
            }
            iam.tag_user(user_name, &marker, &marker_tag_value(now))
                .await?;
            Ok((Action::Deactivated, reason))
        }
        Verdict::Mark => {
            iam.tag_user(user_name, &marker, &marker_tag_value(now))
                .await?;
            Ok((Action::Marked, reason))
        }
        Verdict::Delete => {
            let Some(statuses_now) = statuses_now else {
                return Ok((
                    Action::Failed,
                    format!("{reason}; not deleted: its status could not be re-read"),
                ));
            };
            let reason = match statuses_now.get(key_id) {
                Some(KeyStatus::Active) => {
                    return Ok((
                        Action::Pending,
                        "re-activated since it was read; not deleted".to_owned(),
                    ));
                }
                None => format!("{reason}; the key was already gone"),
                Some(KeyStatus::Inactive) => {
                    iam.delete_key(user_name, key_id).await?;
                    reason
                }
            };
            iam.untag_user(user_name, std::slice::from_ref(&marker))
                .await?;
            Ok((Action::Deleted, reason))
        }
    }
}
