//! The log and metric lines that mirror a report: one summary log line per invocation, and
//! CloudWatch Embedded Metric Format lines that CloudWatch Logs turns into metrics with no API
//! call from the function.

use serde_json::{Value, json};
use tracing::info;

use super::{Action, Report};
use crate::domain::ids::AccountId;

/// The CloudWatch namespace of the function's metrics.
pub const METRIC_NAMESPACE: &str = "AccessKeyRemediator";

/// The metric counting users whose 50 tags are all their own, so that no grace clock can be
/// recorded for them (and nothing of theirs will be deleted until one is free).
pub const NO_TAG_SLOT_METRIC: &str = "no-tag-slot";

/// The metrics counting owner notices sent, and those of which a send (SNS or SES) failed.
pub const NOTICES_SENT_METRIC: &str = "notices-sent";
pub const NOTICES_FAILED_METRIC: &str = "notices-failed";

/// An Embedded Metric Format document with its `_aws` directive: count metrics `names` in the
/// function's namespace, dimensioned by `dimensions`. The caller sets each dimension's and
/// metric's value.
pub(super) fn emf_document(timestamp_ms: u64, dimensions: &[&str], names: &[&str]) -> Value {
    let metrics: Vec<Value> = names
        .iter()
        .map(|name| json!({ "Name": name, "Unit": "Count" }))
        .collect();
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": metrics,
            }],
        },
    })
}

impl Report {
    /// The CloudWatch Embedded Metric Format lines for this report: one per account acted
    /// in, each counting every action, dimensioned by account and trigger. CloudWatch Logs
    /// turns them into metrics with no API call from the function.
    pub fn metric_lines(&self, timestamp_ms: u64) -> Vec<String> {
        if !self.accounts.is_empty() {
            return self
                .accounts
                .iter()
                .flat_map(|swept| swept.metric_lines(timestamp_ms))
                .collect();
        }
        let names = self.summary.0.keys().map(|action| action.as_str());
        let names: Vec<&str> = names
            .chain([
                NO_TAG_SLOT_METRIC,
                NOTICES_SENT_METRIC,
                NOTICES_FAILED_METRIC,
            ])
            .collect();
        let mut line = emf_document(timestamp_ms, &["Account", "Trigger"], &names);
        line["Account"] = self
            .account
            .as_ref()
            .map_or("unknown", AccountId::as_str)
            .into();
        line["Trigger"] = self.trigger.as_str().into();
        line["Mode"] = self.mode.as_str().into();
        line["Outcome"] = self.outcome.as_str().into();
        for (action, count) in &self.summary.0 {
            line[action.as_str()] = (*count).into();
        }
        line[NO_TAG_SLOT_METRIC] = self.users.iter().filter(|u| u.no_tag_slot).count().into();
        line[NOTICES_SENT_METRIC] = self.notices_sent.into();
        line[NOTICES_FAILED_METRIC] = self.notices_failed.into();
        vec![line.to_string()]
    }

    /// The one summary log line of an invocation, mirroring `summary`.
    pub fn log_summary(&self) {
        let count = |action| self.summary.count(action);
        let source = self.source.as_ref();
        let update = source.and_then(|source| source.finding_update.as_ref());
        info!(
            trigger = self.trigger.as_str(),
            source = source.map_or("", |source| source.kind.as_str()),
            source_id = source.map_or("", |source| source.id.as_str()),
            finding_update = update.and_then(|update| update.status).unwrap_or(""),
            finding_update_written = update.is_some_and(|update| update.written),
            mode = self.mode.as_str(),
            account = self.account.as_ref().map_or("", AccountId::as_str),
            outcome = self.outcome.as_str(),
            reason = self.reason.as_deref().unwrap_or(""),
            deactivated = count(Action::Deactivated),
            deleted = count(Action::Deleted),
            marked = count(Action::Marked),
            pending = count(Action::Pending),
            kept = count(Action::Kept),
            exempt = count(Action::Exempt),
            deferred = count(Action::Deferred),
            failed = count(Action::Failed),
            gone = count(Action::Gone),
            warned = count(Action::Warned),
            would_deactivate = count(Action::WouldDeactivate),
            would_delete = count(Action::WouldDelete),
            would_warn = count(Action::WouldWarn),
            notices_sent = self.notices_sent,
            notices_failed = self.notices_failed,
            "invocation summary"
        );
    }
}
