//! The plan as an operator reads it in a terminal: one row per key decided, then what the
//! sweep would do in all, and what the plan cost in AWS calls and time.

use std::fmt::Write;
use std::time::Duration;

use tabled::settings::Style;
use tabled::{Table, Tabled};

use crate::report::{Action, KeyReport, Report};

#[derive(Tabled)]
struct Row {
    user: String,
    key: String,
    age: String,
    #[tabled(rename = "last use")]
    last_use: String,
    action: &'static str,
    reason: String,
}

fn row(user: &str, key: &KeyReport) -> Row {
    Row {
        user: user.to_owned(),
        key: key.access_key_id.to_string(),
        age: format!("{} d", key.age_days),
        last_use: key
            .last_used_date
            .map_or_else(|| "never".to_owned(), |used| used.date().to_string()),
        action: key.action.as_str(),
        reason: key.reason.clone(),
    }
}

/// The table, then the totals: the actions, the warnings, the AWS calls per operation, the
/// time taken.
pub fn render(report: &Report, elapsed: Duration) -> String {
    let rows: Vec<Row> = report
        .users
        .iter()
        .flat_map(|user| user.keys.iter().map(|key| row(&user.user_name, key)))
        .collect();
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("No user has a key over a limit: a sweep would do nothing.\n");
    } else {
        let mut table = Table::new(&rows);
        table.with(Style::sharp());
        let _ = writeln!(out, "{table}");
    }
    let actions: Vec<String> = Action::ALL
        .iter()
        .filter_map(|&action| {
            let count = report.summary.count(action);
            (count > 0).then(|| format!("{count} {}", action.as_str()))
        })
        .collect();
    let _ = writeln!(
        out,
        "REMEDIATION_MODE={}: {} keys of {} nominated users{}{}. Nothing was written.",
        report.mode.as_str(),
        rows.len(),
        report.users.len(),
        if actions.is_empty() { "" } else { ": " },
        actions.join(", ")
    );
    for warning in &report.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    let total: u64 = report.api_calls.values().sum();
    let per_operation: Vec<String> = report
        .api_calls
        .iter()
        .map(|(operation, count)| format!("{operation} {count}"))
        .collect();
    let _ = write!(
        out,
        "AWS calls: {total} ({}), in {:.1} s",
        per_operation.join(", "),
        elapsed.as_secs_f64()
    );
    out
}
