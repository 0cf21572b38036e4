//! What a sweep of the organisation reports: the discovery step's answer (the accounts and the
//! fan-out's numbers), each account's compact answer (counts, not the full report, which is
//! logged: Step Functions carries at most 256 KiB between states), and the summary step's
//! totals, with one org-level metric line beside each account's own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Report;
use super::metrics::emf_document;
use crate::domain::org::{SkippedAccount, UnitId};

/// The `Trigger` dimension of the org-level metric line.
pub const ORG_SWEEP_TRIGGER: &str = "org-sweep";

/// The org-level metrics, each a count of accounts.
pub const ORG_METRICS: [&str; 5] = [
    "accounts-discovered",
    "accounts-swept",
    "accounts-skipped",
    "accounts-failed",
    "accounts-deferred",
];

/// One account for the state machine's Map: which, and in which mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepItem {
    pub account: String,
    pub mode: String,
}

/// An S3 object: where the Map's items are, or its results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
}

/// The discovery step's answer: the Map's items (in S3, or inline), and its concurrency and
/// tolerance.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryAnswer {
    /// Inline items; empty when they are in S3 (`items`).
    pub accounts: Vec<SweepItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<ObjectRef>,
    pub planned: usize,
    pub max_concurrency: u32,
    pub tolerated_failure_percentage: u32,
    pub discovery: DiscoveryReport,
}

/// What discovery found, beyond the items.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryReport {
    /// `organizations`, or `list` (SWEEP_ACCOUNTS).
    pub source: &'static str,
    pub discovered: usize,
    pub planned: usize,
    pub skipped: Vec<SkippedAccount>,
    pub excluded_units: Vec<UnitId>,
    /// Planned accounts per mode.
    pub modes: BTreeMap<String, usize>,
    pub invalid_tags: Vec<InvalidTag>,
    pub calls: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidTag {
    pub on: String,
    pub value: String,
}

/// One account's answer to the Map: counts only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountAnswer {
    pub account: String,
    /// The mode it ran in.
    pub mode: String,
    /// What it was asked to run in, when its role's ceiling lowered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_mode: Option<String>,
    pub users: usize,
    /// Each action taken (or, in report mode, that would be), non-zero counts only.
    #[serde(default)]
    pub actions: BTreeMap<String, u64>,
    #[serde(default)]
    pub deferred_users: usize,
    #[serde(default)]
    pub calls: u64,
}

impl AccountAnswer {
    /// The compact answer for an account's full sweep report.
    pub fn of(report: &Report) -> AccountAnswer {
        let actions = report.summary.0.iter();
        let actions = actions.filter(|(_, count)| **count > 0);
        AccountAnswer {
            account: report
                .account
                .as_ref()
                .map_or_else(String::new, ToString::to_string),
            mode: report.mode.as_str().to_owned(),
            asked_mode: None,
            users: report.users.len(),
            actions: actions
                .map(|(action, count)| (action.as_str().to_owned(), *count as u64))
                .collect(),
            deferred_users: report.deferred_users.len(),
            calls: report.api_calls.values().sum(),
        }
    }
}

/// The summary step's input: the state machine's whole state at the end.
#[derive(Debug, Clone, Deserialize)]
pub struct SweepRun {
    /// Inline items (empty when they are in S3).
    #[serde(default)]
    pub accounts: Vec<SweepItem>,
    /// The items in S3, as discovery wrote them.
    #[serde(default)]
    pub items: Option<ObjectRef>,
    #[serde(default)]
    pub discovery: Value,
    /// Inline: one per item, in the items' order, an answer or what Step Functions keeps of a
    /// failed one (`null`, or `{"Error", "Cause"}`). With a ResultWriter: `{"MapRunArn",
    /// "ResultWriterDetails": {"Bucket", "Key"}}`, the manifest of the files it wrote.
    #[serde(default)]
    pub results: Option<Value>,
    /// The Map's own failure (the tolerance exceeded), caught to summarise before failing.
    #[serde(default)]
    pub stopped: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedAccount {
    pub account: String,
    pub error: String,
}

/// The summary step's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgSummary {
    pub discovered: u64,
    pub planned: usize,
    pub swept: usize,
    pub skipped: Value,
    pub failed: Vec<FailedAccount>,
    /// Planned accounts no result speaks of: never started, because the run stopped.
    pub deferred: Vec<String>,
    /// Swept accounts that left users to their next sweep (the budget or the deadline).
    pub accounts_with_deferred_users: usize,
    /// Totals per action over the swept accounts.
    pub actions: BTreeMap<String, u64>,
    /// Swept accounts per mode they ran in.
    pub modes: BTreeMap<String, usize>,
    /// Swept accounts whose role's ceiling lowered the mode their tags asked for.
    pub lowered_by_ceiling: usize,
    pub stopped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    pub calls: u64,
}

impl OrgSummary {
    /// Totals over a run whose items and results are inline.
    pub fn of(run: &SweepRun) -> OrgSummary {
        OrgSummary::tally(run, &run.accounts, &run.inline_results())
    }

    /// Totals over `results`, aligned with `accounts` (`None` or missing: no result, so the
    /// account was never started). A run the tolerance stopped has no results (Step Functions
    /// keeps none of a failed Map's): then every planned account is `deferred` here, and what
    /// each did is in its own log and metric line.
    pub fn tally(run: &SweepRun, accounts: &[SweepItem], results: &[Option<Value>]) -> OrgSummary {
        let skipped = run
            .discovery
            .get("skipped")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        let mut summary = OrgSummary {
            discovered: run
                .discovery
                .get("discovered")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            planned: accounts.len(),
            swept: 0,
            skipped,
            failed: Vec::new(),
            deferred: Vec::new(),
            accounts_with_deferred_users: 0,
            actions: BTreeMap::new(),
            modes: BTreeMap::new(),
            lowered_by_ceiling: 0,
            stopped: run.stopped.is_some(),
            stopped_by: run.stopped.as_ref().map(step_error),
            calls: run
                .discovery
                .get("calls")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        };
        for (at, item) in accounts.iter().enumerate() {
            match results.get(at).and_then(Option::as_ref) {
                None => summary.deferred.push(item.account.clone()),
                Some(result) => summary.count(item, result),
            }
        }
        summary
    }

    fn count(&mut self, item: &SweepItem, result: &Value) {
        let Ok(answer) = serde_json::from_value::<AccountAnswer>(result.clone()) else {
            let error = if result.is_null() {
                "failed; its error is in the child execution's history".to_owned()
            } else {
                step_error(result)
            };
            self.failed.push(FailedAccount {
                account: item.account.clone(),
                error,
            });
            return;
        };
        self.swept += 1;
        self.calls += answer.calls;
        *self.modes.entry(answer.mode.clone()).or_default() += 1;
        self.lowered_by_ceiling += usize::from(answer.asked_mode.is_some());
        self.accounts_with_deferred_users += usize::from(answer.deferred_users > 0);
        for (action, count) in answer.actions {
            *self.actions.entry(action).or_default() += count;
        }
    }

    /// The org-level Embedded Metric Format line.
    pub fn metric_line(&self, timestamp_ms: u64) -> String {
        let skipped = self.skipped.as_array().map_or(0, Vec::len);
        let counts = [
            self.discovered,
            self.swept as u64,
            skipped as u64,
            self.failed.len() as u64,
            self.deferred.len() as u64,
        ];
        let mut line = emf_document(timestamp_ms, &["Trigger"], &ORG_METRICS);
        line["Trigger"] = ORG_SWEEP_TRIGGER.into();
        line["Stopped"] = self.stopped.into();
        for (name, count) in ORG_METRICS.iter().zip(counts) {
            line[*name] = count.into();
        }
        line.to_string()
    }
}

impl SweepRun {
    /// The results that travelled inline, one per inline item; none when a ResultWriter took
    /// them, or the Map failed.
    pub fn inline_results(&self) -> Vec<Option<Value>> {
        let results = self.results.as_ref().and_then(Value::as_array);
        let results = results.map(Vec::as_slice).unwrap_or_default();
        results.iter().cloned().map(Some).collect()
    }

    /// Where a ResultWriter put the manifest of the Map's results, if it did.
    pub fn written_results(&self) -> Option<ObjectRef> {
        let details = self.results.as_ref()?.get("ResultWriterDetails")?;
        Some(ObjectRef {
            bucket: details.get("Bucket")?.as_str()?.to_owned(),
            key: details.get("Key")?.as_str()?.to_owned(),
        })
    }
}

/// The result files a ResultWriter manifest lists: SUCCEEDED and FAILED (PENDING holds
/// children that never ran, which the summary reports as deferred anyway).
pub fn result_files(manifest: &Value) -> Vec<String> {
    let files = &manifest["ResultFiles"];
    ["SUCCEEDED", "FAILED"]
        .iter()
        .filter_map(|status| files.get(*status)?.as_array())
        .flatten()
        .filter_map(|file| file.get("Key")?.as_str().map(str::to_owned))
        .collect()
}

/// Each child execution in a result file, by the account its input named: a SUCCEEDED
/// child's output (the account's answer), or a FAILED one's `{"Error", "Cause"}`.
pub fn child_results(file: &Value) -> Vec<(String, Value)> {
    let children = file.as_array().map(Vec::as_slice).unwrap_or_default();
    children
        .iter()
        .filter_map(|child| {
            let input: Value = serde_json::from_str(child.get("Input")?.as_str()?).ok()?;
            let account = input.get("account")?.as_str()?.to_owned();
            let result = match child.get("Status").and_then(Value::as_str) {
                Some("SUCCEEDED") => serde_json::from_str(child.get("Output")?.as_str()?).ok()?,
                _ => serde_json::json!({
                    "Error": child.get("Error").cloned().unwrap_or(Value::Null),
                    "Cause": child.get("Cause").cloned().unwrap_or(Value::Null),
                }),
            };
            Some((account, result))
        })
        .collect()
}

/// A Step Functions error object's text: the Lambda error's message inside `Cause` when it
/// holds one, else `Error: Cause`.
fn step_error(value: &Value) -> String {
    let error = value
        .get("Error")
        .and_then(Value::as_str)
        .unwrap_or("unknown error");
    let cause = value.get("Cause").and_then(Value::as_str).unwrap_or("");
    let message = serde_json::from_str::<Value>(cause).ok().and_then(|cause| {
        cause
            .get("errorMessage")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    match message {
        Some(message) => format!("{error}: {message}"),
        None if cause.is_empty() => error.to_owned(),
        None => format!("{error}: {cause}"),
    }
}

#[cfg(test)]
mod tests;
