//! The operator's plan against moto seeded with the demo account: the decisions a sweep would
//! make, and no write, as the emulator counts them. Then the binary as a shell runs it: the
//! plan through the standard credential chain, and the bare binary outside Lambda.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use access_key_remediator::plan::plan_account;
use access_key_remediator::report::{Action, Report};
use access_key_remediator::settings::Settings;
use indicatif::ProgressBar;
use serde_json::{Value, json};

use crate::support::{Emulator, SeededUser, keys_of, project_path, writes};

/// Seeds tests/emulator/demo-account.json, as `make demo` and `make plan` do.
fn seed_demo_account(aws: &mut Emulator) -> BTreeMap<String, SeededUser> {
    let path = project_path("tests/emulator/demo-account.json");
    let mut seed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    seed["op"] = json!("seed");
    let answer = aws.command(seed);
    serde_json::from_value::<BTreeMap<String, Value>>(answer["users"].clone())
        .unwrap()
        .into_iter()
        .map(|(name, user)| {
            let keys = user["keys"].as_array().unwrap().iter();
            let keys = keys.map(|key| key.as_str().unwrap().to_owned()).collect();
            let user_id = user["userId"].as_str().unwrap().to_owned();
            (name, SeededUser { user_id, keys })
        })
        .collect()
}

/// (user, key, action) of every key in the report.
fn decisions(report: &Report) -> Vec<(String, String, Action)> {
    report
        .users
        .iter()
        .flat_map(|user| {
            let name = &user.user_name;
            user.keys
                .iter()
                .map(move |key| (name.clone(), key.access_key_id.to_string(), key.action))
        })
        .collect()
}

/// The demo's decisions in the default mode (delete): alice's 120-day key deactivated, bob
/// exempt, carol's key past its grace period deleted and her 95-day key deactivated.
fn expected(users: &BTreeMap<String, SeededUser>) -> Vec<(String, String, Action)> {
    let key = |user: &str, n: usize, action| (user.to_owned(), users[user].keys[n].clone(), action);
    vec![
        key("alice", 0, Action::WouldDeactivate),
        key("alice", 1, Action::Kept),
        key("bob", 0, Action::Exempt),
        key("carol", 0, Action::WouldDelete),
        key("carol", 1, Action::WouldDeactivate),
    ]
}

fn calls_since(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(action, count)| (action.clone(), count - before.get(action).unwrap_or(&0)))
        .filter(|(_, count)| *count > 0)
        .collect()
}

#[tokio::test]
async fn the_plan_of_the_demo_account_lists_its_decisions_and_makes_no_write() {
    let mut aws = Emulator::start();
    let users = seed_demo_account(&mut aws);
    let (state_before, calls_before) = (aws.account_state(), aws.calls());

    let planned = plan_account(
        &Settings::default(),
        aws.sdk_config(),
        &ProgressBar::hidden(),
    )
    .await
    .expect("the plan runs");

    let made = calls_since(&calls_before, &aws.calls());
    assert_eq!(
        writes(&made),
        0,
        "write calls reached the emulator: {made:?}"
    );
    assert_eq!(aws.account_state(), state_before);
    assert_eq!(decisions(&planned.report), expected(&users));
    assert_eq!(planned.failed_reads, 0);
    // What the plan reports it cost is what the emulator served.
    assert_eq!(planned.report.api_calls, made);
    assert_eq!(
        made["ListAccessKeys"], 3,
        "only the three nominees are read"
    );
    assert!(keys_of(&planned.report).all(|key| !key.reason.is_empty()));
}

fn run_binary(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_access-key-remediator"));
    command
        .args(args)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("AWS_PROFILE")
        .envs(env.iter().copied());
    command.output().expect("the binary runs")
}

#[test]
fn the_bare_binary_outside_lambda_says_how_to_use_it_instead_of_panicking() {
    let bare = run_binary(&[], &[]);
    let stderr = String::from_utf8_lossy(&bare.stderr);
    assert_eq!(bare.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Usage:"), "{stderr}");
    assert!(stderr.contains("plan"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let help = run_binary(&["--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("plan"));

    let unknown = run_binary(&["plan", "--apply"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn a_setting_the_function_would_refuse_stops_the_plan_naming_it() {
    let refused = run_binary(&["plan"], &[("REMEDIATION_MODE", "nuke")]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("REMEDIATION_MODE"), "{stderr}");
}

#[test]
fn bootstrap_plan_json_through_the_standard_chain_prints_the_report_and_writes_nothing() {
    let mut aws = Emulator::start();
    let users = seed_demo_account(&mut aws);
    let calls_before = aws.calls();
    let endpoint = aws.endpoint.clone();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "plan"),
        ("AWS_SECRET_ACCESS_KEY", "plan"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ("AWS_REGION", "eu-west-1"),
    ];
    let planned = run_binary(&["plan", "--json", "--region", "us-east-1"], &env);
    let stderr = String::from_utf8_lossy(&planned.stderr);
    assert_eq!(planned.status.code(), Some(0), "{stderr}");

    let report: Value = serde_json::from_slice(&planned.stdout).expect("stdout is the JSON report");
    let actions: Vec<(&str, &str)> = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|user| {
            user["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |key| (user, key))
        })
        .map(|(user, key)| {
            (
                user["userName"].as_str().unwrap(),
                key["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("alice", "would-deactivate"),
            ("alice", "kept"),
            ("bob", "exempt"),
            ("carol", "would-delete"),
            ("carol", "would-deactivate"),
        ]
    );
    assert_eq!(
        report["users"][0]["keys"][0]["accessKeyId"],
        json!(users["alice"].keys[0])
    );
    let made = calls_since(&calls_before, &aws.calls());
    assert_eq!(writes(&made), 0, "{made:?}");
    assert_eq!(report["apiCalls"], json!(made));
}
