//! Each trigger of issue 11 end to end: the handler, its real SDK clients and HTTP stack,
//! against moto with the emulator's Security Hub and Access Analyzer handlers. For each: it
//! acts; it ignores what it should, with a reason; it refuses malformed input naming the field,
//! with no AWS call; re-delivery is harmless; report mode writes nothing. The acting cases pin
//! the AWS calls one event costs (the report's `apiCalls`).

mod access_analyzer;
mod config_rules;
mod security_hub;
mod security_hub_ignored;

use std::collections::BTreeMap;

use access_key_remediator::handler::{HandlerError, handle};
use access_key_remediator::report::{Action, Report};
use access_key_remediator::startup::AwsRemediator;
use serde_json::Value;

use crate::support::{invocation, keys_of};

async fn run(remediator: &AwsRemediator, payload: Value) -> Result<Report, HandlerError> {
    handle(remediator, invocation(payload)).await
}

/// Key id → its action in the report.
fn actions(report: &Report) -> BTreeMap<String, Action> {
    keys_of(report)
        .map(|key| (key.access_key_id.to_string(), key.action))
        .collect()
}

/// The calls made between two readings of the emulator's counts.
fn calls_between(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(action, &count)| {
            let earlier = before.get(action).copied().unwrap_or(0);
            (count > earlier).then(|| (action.clone(), count - earlier))
        })
        .collect()
}

/// A map of call counts, as `apiCalls` holds them.
fn call_map(calls: &[(&str, u64)]) -> BTreeMap<String, u64> {
    calls
        .iter()
        .map(|(action, count)| ((*action).to_owned(), *count))
        .collect()
}
