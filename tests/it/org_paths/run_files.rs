//! The run's files in S3: discovery writes the Map's items to SWEEP_BUCKET and answers a
//! pointer; the summary reads the items and the ResultWriter's manifest and result files back
//! and totals them as it totals inline results. The result files are written here as
//! Step Functions writes them (docs/design.md, "How far the Map goes").

use std::sync::Arc;

use access_key_remediator::aws::fake::FakeRunStore;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};

use super::summary::organisation;
use super::{HOME, Org, TEAM_A};

const BUCKET: &str = "org-sweep-runs";
const RESULTS: &str = "org-sweep/results/run-1";

fn with_bucket(store: &FakeRunStore) -> Org {
    let mut org = organisation(|settings| settings.sweep_bucket = Some(BUCKET.to_owned()));
    org.remediator = org.remediator.with_run_store(Arc::new(store.clone()));
    org
}

/// One child execution as a ResultWriter file lists it.
fn child(input: &Value, outcome: Result<Value, Diagnostic>) -> Value {
    let mut child = json!({
        "ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:org-sweep/AccountSweeps:x",
        "Input": input.to_string(),
        "InputDetails": {"Included": true},
        "Name": "x",
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
    });
    match outcome {
        Ok(answer) => {
            child["Status"] = json!("SUCCEEDED");
            child["Output"] = json!(answer.to_string());
        }
        Err(error) => {
            let cause = json!({"errorType": error.error_type, "errorMessage": error.error_message});
            child["Status"] = json!("FAILED");
            child["Error"] = json!(error.error_type);
            child["Cause"] = json!(cause.to_string());
        }
    }
    child
}

/// Runs each item discovery wrote, and writes what a ResultWriter would; the run's state.
async fn run_with_written_results(org: &Org, store: &FakeRunStore) -> Value {
    let mut run = org.discover().await;
    let items = &run["items"];
    let written = store.objects();
    let body = &written[&(BUCKET.to_owned(), items["key"].as_str().unwrap().to_owned())];
    let planned: Vec<Value> = serde_json::from_slice(body).expect("the items are a JSON array");
    let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
    for item in planned {
        let input = json!({"remediator": "sweep-account", "account": item["account"], "mode": item["mode"]});
        let outcome = org.step(input.clone()).await;
        match outcome {
            Ok(_) => succeeded.push(child(&input, outcome)),
            Err(_) => failed.push(child(&input, outcome)),
        }
    }
    let manifest = json!({
        "DestinationBucket": BUCKET,
        "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:org-sweep/AccountSweeps:run-1",
        "ResultFiles": {
            "FAILED": [{"Key": format!("{RESULTS}/FAILED_0.json"), "Size": 1}],
            "PENDING": [],
            "SUCCEEDED": [{"Key": format!("{RESULTS}/SUCCEEDED_0.json"), "Size": 1}],
        },
    });
    for (name, body) in [
        ("SUCCEEDED_0.json", json!(succeeded)),
        ("FAILED_0.json", json!(failed)),
        ("manifest.json", manifest),
    ] {
        store.put(BUCKET, &format!("{RESULTS}/{name}"), body.to_string());
    }
    run["results"] = json!({
        "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:org-sweep/AccountSweeps:run-1",
        "ResultWriterDetails": {"Bucket": BUCKET, "Key": format!("{RESULTS}/manifest.json")},
    });
    run
}

#[tokio::test]
async fn discovery_writes_the_items_to_the_bucket_and_answers_where() {
    let store = FakeRunStore::new();
    let org = with_bucket(&store);

    let answer = org
        .step(json!({"remediator": "discover-accounts", "execution": "run-7"}))
        .await
        .expect("discovered");

    assert_eq!(
        answer["accounts"],
        json!([]),
        "no item travels in the state"
    );
    assert_eq!(answer["planned"], 5);
    let key = "org-sweep/run-7/accounts.json";
    assert_eq!(answer["items"], json!({"bucket": BUCKET, "key": key}));
    let written = store.objects();
    let items: Value =
        serde_json::from_slice(&written[&(BUCKET.to_owned(), key.to_owned())]).unwrap();
    assert_eq!(items.as_array().map(Vec::len), Some(5));
    assert_eq!(items[0], json!({"account": HOME, "mode": "delete"}));
    assert_eq!(store.calls().get("PutObject"), Some(&1));
}

#[tokio::test]
async fn the_summary_reads_the_written_results_and_totals_them_as_inline_ones() {
    let store = FakeRunStore::new();
    let org = with_bucket(&store);
    let run = run_with_written_results(&org, &store).await;

    let summary = org
        .step(json!({"remediator": "summarise-sweep", "run": run}))
        .await
        .expect("summarised");

    assert_eq!(
        (summary["planned"].as_u64(), summary["swept"].as_u64()),
        (Some(5), Some(4))
    );
    assert_eq!(summary["failed"][0]["account"], TEAM_A);
    let error = summary["failed"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("AccountSweepFailed: account {TEAM_A}: ")),
        "{error}"
    );
    assert_eq!(summary["actions"], json!({"deactivated": 6, "pending": 3}));
    assert_eq!(summary["deferred"], json!([]));
    // The items, the manifest and its two files.
    assert_eq!(store.calls().get("GetObject"), Some(&4));
}

#[tokio::test]
async fn a_result_file_gone_fails_the_summary_rather_than_counting_accounts_wrong() {
    let store = FakeRunStore::new();
    let org = with_bucket(&store);
    let mut run = run_with_written_results(&org, &store).await;
    run["results"]["ResultWriterDetails"]["Key"] = json!(format!("{RESULTS}/gone.json"));

    let error = org
        .step(json!({"remediator": "summarise-sweep", "run": run}))
        .await
        .expect_err("no summary from missing files");

    assert_eq!(error.error_type, "SweepResultsUnavailable");
    assert!(
        error.error_message.contains("gone.json"),
        "{}",
        error.error_message
    );
}
