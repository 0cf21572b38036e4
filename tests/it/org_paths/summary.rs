//! The summary step, end to end through `handler::respond`: a run built as the state machine
//! builds it, from a real discovery answer and each account's real answer or Lambda error
//! (in Step Functions' `{"Error", "Cause"}` form), totalled into the summary, with one
//! org-level metric line beside the accounts' own.

use access_key_remediator::aws::fake::{ErrorKind, FakeIam, Fault};
use access_key_remediator::domain::org::AccountState;
use access_key_remediator::domain::policy::Mode;
use access_key_remediator::settings::OrgSettings;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};

use super::{
    DEV, DEV_A, Fakes, HOME, Org, PROD, PROD_A, PROD_B, TEAM_A, member_iam, org_settings, tree,
};

const SUSPENDED: &str = "240000000001";

/// What Step Functions keeps of a failed Lambda invocation.
fn step_error(error: &Diagnostic) -> Value {
    let cause = json!({ "errorType": error.error_type, "errorMessage": error.error_message });
    json!({ "Error": error.error_type, "Cause": cause.to_string() })
}

/// PROD (tagged deactivate) with PROD_A and PROD_B, two over-age users and one past its grace
/// period each; TEAM_A below it, whose credential report fails; DEV_A, whose role's ceiling is
/// deactivate; HOME with no user; and a suspended account.
pub(super) fn organisation(change: impl FnOnce(&mut OrgSettings)) -> Org {
    let tree =
        tree()
            .with_tag(PROD, "deactivate")
            .with_account(SUSPENDED, DEV, AccountState::Suspended);
    let failing = FakeIam::new();
    failing.fail(Fault::on("GetCredentialReport", ErrorKind::ServiceFailure));
    let members = vec![
        (PROD_A, Fakes::of(member_iam(Some("delete")))),
        (PROD_B, Fakes::of(member_iam(Some("delete")))),
        (DEV_A, Fakes::of(member_iam(Some("deactivate")))),
        (TEAM_A, Fakes::of(failing)),
    ];
    let settings = org_settings(Mode::Delete, change);
    Org::with_accounts(settings, tree, Fakes::default(), members)
}

/// Discovery, then each planned account in turn, as the state machine's state at the end.
async fn run_of(org: &Org) -> Value {
    let mut run = org.discover().await;
    let mut results = Vec::new();
    for item in run["accounts"].as_array().unwrap().clone() {
        let (account, mode) = (item["account"].as_str(), item["mode"].as_str());
        let result = org.sweep(account.unwrap(), mode.unwrap()).await;
        results.push(result.unwrap_or_else(|error| step_error(&error)));
    }
    run["results"] = Value::Array(results);
    run
}

/// The org-level metric lines emitted.
fn org_lines(org: &Org) -> Vec<Value> {
    let lines = org.metric_lines().into_iter();
    lines
        .filter(|line| line["Trigger"] == "org-sweep")
        .collect()
}

#[tokio::test]
async fn the_summary_totals_a_run_of_real_answers() {
    let org = organisation(|_| {});
    let run = run_of(&org).await;
    let discovery_calls = run["discovery"]["calls"].as_u64().unwrap();
    let results = run["results"].as_array().unwrap();
    let account_calls: u64 = results.iter().filter_map(|r| r["calls"].as_u64()).sum();

    let summary = org
        .step(json!({ "remediator": "summarise-sweep", "run": run }))
        .await
        .expect("the run is summarised");

    let failed_message = format!("AccountSweepFailed: account {TEAM_A}: ");
    let error = summary["failed"][0]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with(&failed_message), "{error}");
    assert!(error.contains("GetCredentialReport"), "{error}");
    let mut summary = summary;
    summary["failed"][0]["error"] = json!("checked above");
    assert_eq!(
        summary,
        json!({
            "discovered": 6,
            "planned": 5,
            "swept": 4,
            "skipped": [{ "account": SUSPENDED, "reason": "notActive", "state": "SUSPENDED" }],
            "failed": [{ "account": TEAM_A, "error": "checked above" }],
            "deferred": [],
            "accountsWithDeferredUsers": 0,
            // PROD_A, PROD_B and DEV_A: two deactivated and one pending each.
            "actions": { "deactivated": 6, "pending": 3 },
            // HOME in the stack's delete; PROD's by its tag; DEV_A by its role's ceiling.
            "modes": { "deactivate": 3, "delete": 1 },
            "loweredByCeiling": 1,
            "stopped": false,
            "calls": discovery_calls + account_calls,
        })
    );

    let lines = org_lines(&org);
    assert_eq!(lines.len(), 1, "one org-level line: {lines:?}");
    let line = &lines[0];
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "AccessKeyRemediator");
    assert_eq!(directive["Dimensions"], json!([["Trigger"]]));
    let counts = [
        ("accounts-discovered", 6),
        ("accounts-swept", 4),
        ("accounts-skipped", 1),
        ("accounts-failed", 1),
        ("accounts-deferred", 0),
    ];
    let named: Vec<Value> = counts
        .iter()
        .map(|(name, _)| json!({ "Name": name, "Unit": "Count" }))
        .collect();
    assert_eq!(directive["Metrics"], json!(named));
    for (name, count) in counts {
        assert_eq!(line[name], count, "{name}");
    }
    // Beside it, each account swept printed its own line, as any sweep does.
    let account_lines = org.metric_lines().len() - 1;
    assert_eq!(account_lines, 4);
}

#[tokio::test]
async fn a_run_the_tolerance_stopped_defers_every_account_it_has_no_result_for() {
    let org = organisation(|_| {});
    let mut run = org.discover().await;
    run["stopped"] = json!({
        "Error": "States.ExceedToleratedFailureThreshold",
        "Cause": "The specified tolerated failure threshold was exceeded",
    });

    let summary = org
        .step(json!({ "remediator": "summarise-sweep", "run": run }))
        .await
        .expect("the run is summarised");

    assert_eq!(summary["stopped"], true);
    assert_eq!(
        summary["stoppedBy"],
        "States.ExceedToleratedFailureThreshold: The specified tolerated failure threshold was \
         exceeded"
    );
    assert_eq!(summary["swept"], 0);
    assert_eq!(
        summary["deferred"],
        json!([HOME, PROD_A, PROD_B, DEV_A, TEAM_A])
    );
    let lines = org_lines(&org);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["accounts-deferred"], 5);
    assert_eq!(lines[0]["Stopped"], true);
}

#[tokio::test]
async fn a_null_result_is_a_failed_account_whose_error_is_in_its_child_execution() {
    let org = organisation(|_| {});
    let mut run = org.discover().await;
    let planned = run["accounts"].as_array().unwrap().len();
    let mut results = vec![Value::Null; planned];
    results[0] = org.sweep(HOME, "delete").await.expect("swept");
    run["results"] = Value::Array(results);

    let summary = org
        .step(json!({ "remediator": "summarise-sweep", "run": run }))
        .await
        .expect("summarised");

    assert_eq!(summary["swept"], 1);
    let failed = summary["failed"].as_array().unwrap();
    assert_eq!(failed.len(), planned - 1);
    assert_eq!(failed[0]["account"], PROD_A);
    let error = failed[0]["error"].as_str().unwrap();
    assert!(error.contains("child execution"), "{error}");
}
