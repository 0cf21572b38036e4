//! The Security Hub path: remediate the finding's user, then close the loop on the finding
//! with BatchUpdateFindings, in the account that holds it (the user's own, reached as the
//! user is). RESOLVED when no key of the user is left active and over the limits; NOTIFIED
//! when one still is (the action cap was reached). Report mode writes nothing, not even this.

use tracing::{info, warn};

use super::outcome::{Outcome, RemediationError, error_chain};
use super::remediator::Remediator;
use crate::aws::accounts::AccountClients;
use crate::aws::{Config, Findings, Iam};
use crate::aws::{FindingUpdate, WorkflowStatus};
use crate::domain::policy::{Mode, Policy};
use crate::domain::user::KeyStatus;
use crate::report::{
    Action, EventSource, FindingUpdateReport, Outcome as ReportOutcome, SourceKind, UserReport,
};
use crate::triggers::{Control, SecurityHubFinding, UserTarget};

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    pub(super) async fn remediate_finding(
        &self,
        (at, policy): (&AccountClients<I, C, F>, &Policy),
        target: UserTarget,
        finding: &SecurityHubFinding,
    ) -> Result<Outcome, RemediationError> {
        let policy = policy_for(policy, finding.control);
        let mut outcome = self.remediate_event(at, &target, (&policy, None)).await?;
        let (status, mut update) = planned_update(&outcome, &policy);
        if let (Some(status), Some(note)) = (status, update.note.clone())
            && update.reason.is_none()
        {
            if finding.workflow_status == status.as_str() && finding.note.as_deref() == Some(&note)
            {
                // Our own last update, delivered back to us as an Imported event.
                update.reason = Some("the finding already has this status and note".to_owned());
            } else {
                let request = FindingUpdate {
                    finding_id: finding.id.clone(),
                    product_arn: finding.product_arn.clone(),
                    status,
                    note,
                };
                match at.findings.update_finding(&request).await {
                    Ok(()) => {
                        info!(finding = %finding.id, status = status.as_str(), "finding updated");
                        update.written = true;
                    }
                    Err(source) => {
                        warn!(finding = %finding.id, error = %error_chain(&source), "finding not updated");
                        update.reason = Some(format!("failed: {}", error_chain(&source)));
                        outcome.failure = Some(RemediationError::FindingUpdate {
                            finding_id: finding.id.clone(),
                            source,
                        });
                    }
                }
            }
        }
        outcome.report.source = Some(EventSource {
            kind: SourceKind::SecurityHub,
            id: finding.id.clone(),
            subject: Some(finding.control.as_str().to_owned()),
            recognised: None,
            finding_update: Some(update),
        });
        Ok(outcome)
    }
}

/// The status the finding should have now, and its report: the note, or why it is left as it
/// is. Written only when `reason` is `None` (and, in report mode, never).
fn planned_update(
    outcome: &Outcome,
    policy: &Policy,
) -> (Option<WorkflowStatus>, FindingUpdateReport) {
    let left = |reason: &str| {
        let report = FindingUpdateReport {
            status: None,
            note: None,
            written: false,
            reason: Some(reason.to_owned()),
        };
        (None, report)
    };
    let planned = |status: WorkflowStatus, note: String| {
        let report = FindingUpdateReport {
            status: Some(status.as_str()),
            note: Some(note),
            written: false,
            reason: report_mode(policy),
        };
        (Some(status), report)
    };
    if outcome.failure.is_some() {
        return left("a call failed: the finding is left for the retry");
    }
    let report = &outcome.report;
    if report.outcome == ReportOutcome::UserNotFound {
        let note = format!("{AUTHOR}: the user no longer exists.");
        return planned(WorkflowStatus::Resolved, note);
    }
    let Some(user) = report.users.first() else {
        return left("no user was remediated");
    };
    if user.exempt {
        return left("the user is exempt: the finding is the security team's to triage");
    }
    let still_active_over = user.keys.iter().any(|key| {
        key.status == KeyStatus::Active
            && matches!(key.action, Action::Deferred | Action::WouldDeactivate)
    });
    let over_limits = user.keys.iter().any(|key| {
        !matches!(
            key.action,
            Action::Kept | Action::Exempt | Action::Warned | Action::WouldWarn
        )
    });
    if !over_limits {
        return left("no key is over this function's limits: the finding is left to Security Hub");
    }
    let status = if still_active_over {
        WorkflowStatus::Notified
    } else {
        WorkflowStatus::Resolved
    };
    planned(status, note(user, policy))
}

const AUTHOR: &str = crate::aws::NOTE_AUTHOR;

/// IAM.8's own threshold for unused credentials (`maxCredentialUsageAge`), in days.
const IAM8_UNUSED_DAYS: u32 = 90;

/// The policy a finding is decided under: IAM.8 is about unused credentials, so its finding
/// holds keys to the idle limit too, IAM.8's 90 days where MAX_KEY_IDLE_DAYS is unset.
fn policy_for(policy: &Policy, control: Control) -> Policy {
    match (control, policy.max_key_idle_days) {
        (Control::UnusedCredentials, None) => Policy {
            max_key_idle_days: Some(IAM8_UNUSED_DAYS),
            ..policy.clone()
        },
        _ => policy.clone(),
    }
}

fn report_mode(policy: &Policy) -> Option<String> {
    (policy.mode == Mode::Report)
        .then(|| "REMEDIATION_MODE=report writes nothing, not even to Security Hub".to_owned())
}

/// Where each key over the limits stands now, in words that stay the same when the event is
/// re-delivered (a key deactivated now and one pending since are both "inactive"), so that our
/// own update coming back as an event is recognised and not written again.
fn note(user: &UserReport, policy: &Policy) -> String {
    let keys: Vec<String> = user
        .keys
        .iter()
        .filter_map(|key| {
            let state = match key.action {
                // A warned key is within the limits: not what the finding is about.
                Action::Kept
                | Action::Exempt
                | Action::Failed
                | Action::Warned
                | Action::WouldWarn => return None,
                Action::Deactivated | Action::Marked | Action::Pending | Action::WouldDelete => {
                    "inactive"
                }
                Action::Deleted | Action::Gone => "deleted",
                Action::Deferred | Action::WouldDeactivate => "still active",
            };
            Some(format!("{} {state}", key.access_key_id))
        })
        .collect();
    let idle = policy
        .max_key_idle_days
        .map(|days| format!(" or unused for {days}"))
        .unwrap_or_default();
    let lifecycle = match policy.mode {
        Mode::Delete => format!(
            "inactive keys are deleted {} days after they were deactivated",
            policy.delete_after_inactive_days
        ),
        Mode::Deactivate => "keys are deactivated only, and none is removed".to_owned(),
        Mode::Report => "nothing is changed in this mode".to_owned(),
    };
    format!(
        "{AUTHOR} (REMEDIATION_MODE={}): {}. Keys older than {}{idle} days are deactivated; \
         {lifecycle}.",
        policy.mode.as_str(),
        keys.join(", "),
        policy.max_key_age_days,
    )
}
