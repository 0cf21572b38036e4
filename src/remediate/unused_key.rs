//! The Access Analyzer path: read the finding in the analyzer's account (GetFindingV2), which
//! names the key; take the idle limit (MAX_KEY_IDLE_DAYS, else the analyzer's own
//! `unusedAccessAge` from GetAnalyzer); then remediate that key alone, in the user's account,
//! by our own reading of its last use. The analyzer's word alone never moves a key.

use tracing::info;

use super::outcome::{Outcome, RemediationError};
use super::remediator::Remediator;
use crate::aws::UnusedKeyFinding;
use crate::aws::accounts::AccountClients;
use crate::aws::{Config, Findings, Iam};
use crate::domain::ids::AccessKeyId;
use crate::domain::policy::{Mode, Policy, UnusedKey};
use crate::report::{EventSource, Outcome as ReportOutcome, Report, SourceKind, Trigger};
use crate::triggers::{AnalyzerFinding, UserRef, UserTarget};

const UNUSED_KEY: &str = "UnusedIAMUserAccessKey";

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    pub(super) async fn remediate_unused_key(
        &self,
        (at, analyzer_at): (&AccountClients<I, C, F>, &AccountClients<I, C, F>),
        policy: &Policy,
        target: UserTarget,
        finding: &AnalyzerFinding,
    ) -> Result<Outcome, RemediationError> {
        let read_failed = |source| RemediationError::AnalyzerFinding {
            finding_id: finding.finding_id.clone(),
            source,
        };
        let found = analyzer_at
            .findings
            .unused_access_finding(&finding.analyzer_arn, &finding.finding_id)
            .await
            .map_err(read_failed)?;
        let source = |subject: Option<String>, recognised: String| EventSource {
            kind: SourceKind::AccessAnalyzer,
            id: finding.finding_id.clone(),
            subject,
            recognised: Some(recognised),
            finding_update: None,
        };
        let key = named_key(found.as_ref());
        let access_key_id = match key {
            Ok(key) => key,
            Err(reason) => {
                let mut report = ignored(policy.mode, &target, reason.clone());
                report.source = Some(source(None, reason));
                return Ok(Outcome::done(report));
            }
        };
        let idle_days = match policy.max_key_idle_days {
            Some(days) => days,
            None => self.analyzer_age(analyzer_at, finding).await?,
        };
        let why = format!(
            "acting on {access_key_id} only if its own last use is over {idle_days} days ago"
        );
        info!(finding = %finding.finding_id, "{why}");
        let unused = UnusedKey {
            access_key_id: access_key_id.clone(),
            idle_days,
        };
        let scope = (policy, Some(&unused));
        let mut outcome = self.remediate_event(at, &target, scope).await?;
        outcome.report.source = Some(source(Some(access_key_id.to_string()), why));
        Ok(outcome)
    }

    /// The analyzer's `unusedAccessAge`, read once per container.
    async fn analyzer_age(
        &self,
        analyzer_at: &AccountClients<I, C, F>,
        finding: &AnalyzerFinding,
    ) -> Result<u32, RemediationError> {
        if let Some(days) = self.memo.analyzer_age(&finding.analyzer_arn) {
            return Ok(days);
        }
        let days = analyzer_at
            .findings
            .unused_access_age_days(&finding.analyzer_arn)
            .await
            .map_err(|source| RemediationError::AnalyzerFinding {
                finding_id: finding.finding_id.clone(),
                source,
            })?
            // An unused-access analyzer without the setting uses its documented default.
            .unwrap_or(DEFAULT_UNUSED_ACCESS_AGE);
        self.memo.remember_analyzer_age(&finding.analyzer_arn, days);
        Ok(days)
    }
}

/// An event whose finding is not acted on, reported in the account's mode.
fn ignored(mode: Mode, target: &UserTarget, reason: String) -> Report {
    let user = match &target.user {
        UserRef::Id(id) => id.to_string(),
        UserRef::Name { user_name, .. } => user_name.clone(),
    };
    Report::nothing_done(
        Trigger::Event,
        mode,
        Some(target.account.clone()),
        ReportOutcome::Ignored,
        format!("user {user}: {reason}"),
    )
}

/// The key the finding names, as GetFindingV2 tells it now, or why it is not acted on.
fn named_key(found: Option<&UnusedKeyFinding>) -> Result<AccessKeyId, String> {
    let Some(found) = found else {
        return Err("the analyzer no longer has the finding".to_owned());
    };
    if found.finding_type != UNUSED_KEY {
        return Err(format!(
            "the finding is now of type {:?}, not {UNUSED_KEY}",
            found.finding_type
        ));
    }
    if found.status != "ACTIVE" {
        return Err(format!("the finding is now {}, not ACTIVE", found.status));
    }
    found
        .access_key_id
        .clone()
        .ok_or_else(|| "the finding names no access key".to_owned())
}

/// Access Analyzer's default `unusedAccessAge`, in days.
const DEFAULT_UNUSED_ACCESS_AGE: u32 = 90;
