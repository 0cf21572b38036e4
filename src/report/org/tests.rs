//! The summary's totals from what the Map returns, in every shape Step Functions may hand back
//! a failed item in, and the org-level metric line.

use serde_json::{Value, json};

use super::{ORG_METRICS, OrgSummary, SweepRun};

fn run(results: Option<Value>, stopped: Option<Value>) -> SweepRun {
    let mut run = json!({
        "accounts": [
            {"account": "111111111111", "mode": "delete"},
            {"account": "222222222222", "mode": "report"},
            {"account": "333333333333", "mode": "deactivate"},
        ],
        "discovery": {"discovered": 5, "calls": 9,
                      "skipped": [{"account": "444444444444", "reason": "excluded"},
                                  {"account": "555555555555", "reason": "notActive", "state": "SUSPENDED"}]},
    });
    if let Some(results) = results {
        run["results"] = results;
    }
    if let Some(stopped) = stopped {
        run["stopped"] = stopped;
    }
    serde_json::from_value(run).expect("a run")
}

fn answer(account: &str, mode: &str, actions: Value, calls: u64) -> Value {
    json!({"account": account, "mode": mode, "users": 3, "actions": actions, "deferredUsers": 0, "calls": calls})
}

#[test]
fn totals_add_up_over_the_swept_accounts() {
    let results = json!([
        answer("111111111111", "delete", json!({"deactivated": 2, "deleted": 1}), 20),
        answer("222222222222", "report", json!({"would-deactivate": 4}), 7),
        {"account": "333333333333", "mode": "deactivate", "askedMode": "delete", "users": 0, "actions": {"deactivated": 1}, "deferredUsers": 2, "calls": 3},
    ]);
    let summary = OrgSummary::of(&run(Some(results), None));
    assert_eq!(
        (summary.discovered, summary.planned, summary.swept),
        (5, 3, 3)
    );
    assert!(summary.failed.is_empty() && summary.deferred.is_empty() && !summary.stopped);
    assert_eq!(summary.actions["deactivated"], 3);
    assert_eq!(summary.actions["deleted"], 1);
    assert_eq!(summary.actions["would-deactivate"], 4);
    assert_eq!(summary.modes["deactivate"], 1);
    assert_eq!(
        (
            summary.lowered_by_ceiling,
            summary.accounts_with_deferred_users
        ),
        (1, 1)
    );
    assert_eq!(
        summary.calls,
        9 + 20 + 7 + 3,
        "discovery's calls and every account's"
    );
    assert_eq!(summary.skipped.as_array().map(Vec::len), Some(2));
}

#[test]
fn a_failed_item_is_failed_whatever_shape_step_functions_keeps_of_it() {
    let cause =
        json!({"errorType": "AccountSweepFailed", "errorMessage": "account 333333333333: denied"})
            .to_string();
    let results = json!([
        answer("111111111111", "delete", json!({}), 5),
        null,
        {"Error": "AccountSweepFailed", "Cause": cause},
    ]);
    let summary = OrgSummary::of(&run(Some(results), None));
    assert_eq!(summary.swept, 1);
    let failed: Vec<(&str, &str)> = summary
        .failed
        .iter()
        .map(|failed| (failed.account.as_str(), failed.error.as_str()))
        .collect();
    assert_eq!(failed[0].0, "222222222222");
    assert!(failed[0].1.contains("child execution"), "{}", failed[0].1);
    assert_eq!(
        failed[1],
        (
            "333333333333",
            "AccountSweepFailed: account 333333333333: denied"
        )
    );
}

#[test]
fn a_stopped_run_counts_every_account_without_a_result_as_deferred() {
    let stopped =
        json!({"Error": "States.ExceedToleratedFailureThreshold", "Cause": "too many failed"});
    let summary = OrgSummary::of(&run(None, Some(stopped)));
    assert!(summary.stopped);
    assert_eq!(summary.swept, 0);
    assert_eq!(summary.deferred.len(), 3);
    assert_eq!(
        summary.stopped_by.as_deref(),
        Some("States.ExceedToleratedFailureThreshold: too many failed")
    );
}

#[test]
fn the_metric_line_counts_accounts_under_the_org_sweep_trigger() {
    let results = json!([answer("111111111111", "delete", json!({}), 1), null, null]);
    let summary = OrgSummary::of(&run(Some(results), None));
    let line: Value = serde_json::from_str(&summary.metric_line(1_700_000_000_000)).expect("json");
    let metrics = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(metrics["Dimensions"], json!([["Trigger"]]));
    let names: Vec<&str> = metrics["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ORG_METRICS);
    assert_eq!(line["Trigger"], "org-sweep");
    let counts: Vec<u64> = ORG_METRICS
        .iter()
        .map(|name| line[*name].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [5, 1, 2, 2, 0]);
}
