//! The organisation sweep end to end: the template's own state machine, run by moto's Step
//! Functions engine, invoking the real function binary (processes polling the emulator's Lambda
//! Runtime API) for discovery, each account and the summary; AWS Organizations, STS and every
//! account's IAM in moto. Nothing in the definition is stripped for moto (see
//! `machine`); what moto lacks, the tolerance of a Distributed Map and Lambda's throttling,
//! the emulator models (step_functions.py, lambda_invoke.py).
//!
//! `organisation` runs the scenario: 200 accounts in 3 OUs. `small` holds the rest:
//! past the tolerance, throttling, and an account added between two runs.

mod organisation;
mod small;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Emulator;
use crate::support::cloudformation::org_sweep_definition;
use crate::support::lambda::PollingFunctions;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:access-key-remediator";
const MEMBER_ROLE: &str = "AccessKeyRemediatorMember";
/// The stack's sweep bucket, for the definition's ResultWriter and the function's SWEEP_BUCKET.
pub(crate) const SWEEP_BUCKET: &str = "org-sweep-test";

/// An emulator with Step Functions, an organisation in it, and function processes.
struct World {
    aws: Emulator,
    functions: Option<PollingFunctions>,
    machines: usize,
}

/// How an execution ended, and what the summary step answered.
#[derive(Debug)]
struct Run {
    status: String,
    error: Option<String>,
    summary: Option<Value>,
    took: Duration,
}

impl World {
    fn start() -> World {
        let mut aws = Emulator::start_with(&["--step-functions"]);
        aws.command(json!({"op": "s3_bucket", "name": SWEEP_BUCKET}));
        World {
            aws,
            functions: None,
            machines: 0,
        }
    }

    /// Adds units and accounts to the organisation (emulator.py's `organization` op), each
    /// account with the member role (ceiling `delete` unless the account says otherwise) and
    /// two users: `stale`, an Active key 200 days old, and `pending`, a key deactivated 20
    /// days ago (past the 14-day grace).
    fn organise(&mut self, units: Value, accounts: Vec<Value>) -> Value {
        let accounts: Vec<Value> = accounts
            .into_iter()
            .map(|mut account| {
                if account.get("memberRole").is_none() {
                    account["memberRole"] = json!({"name": MEMBER_ROLE, "ceiling": "delete"});
                }
                account
            })
            .collect();
        for account in &accounts {
            let id = account["id"].as_str().unwrap();
            self.aws.seed_in(Some(id), json!([
                {"name": "stale", "keys": [{"ageDays": 200}]},
                {"name": "pending", "keys": [{"ageDays": 200, "status": "Inactive", "markerDaysAgo": 20, "lastUsedDaysAgo": 30}]},
            ]));
        }
        self.aws
            .command(json!({"op": "organization", "units": units, "accounts": accounts}))
    }

    /// Starts `count` function processes with these settings besides the template's.
    fn functions(&mut self, count: usize, settings: &[(&str, &str)], test_name: &str) {
        let answer = self.aws.command(json!({"op": "lambda_runtime"}));
        let runtime_api = answer["runtimeApi"].as_str().unwrap().to_owned();
        let mut all = vec![
            ("MEMBER_ROLE_NAME", MEMBER_ROLE),
            ("SWEEP_ORGANIZATION", "on"),
            ("ORG_MODE_TAGS", "on"),
            ("SWEEP_BUCKET", SWEEP_BUCKET),
        ];
        all.extend_from_slice(settings);
        let endpoint = self.aws.endpoint.clone();
        self.functions = Some(PollingFunctions::start(
            count,
            (&runtime_api, &endpoint),
            &all,
            test_name,
        ));
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.aws.command(json!({"op": "lambda_runtime"}))["polling"].as_u64()
            < Some(count as u64)
        {
            assert!(
                Instant::now() < deadline,
                "the function processes never polled"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One execution of a new state machine of the template's definition (moto may fail a
    /// second execution of one machine), run to its end.
    fn run(&mut self) -> Run {
        self.machines += 1;
        let name = format!("org-sweep-{}", self.machines);
        let machine = self
            .aws
            .command(json!({"op": "state_machine", "name": name, "definition": machine()}));
        let started = Instant::now();
        let execution = self
            .aws
            .command(json!({"op": "start_execution", "arn": machine["arn"], "input": {}}));
        let execution_arn = execution["executionArn"].clone();
        loop {
            let state = self
                .aws
                .command(json!({"op": "execution", "executionArn": execution_arn}));
            if state["status"] != "RUNNING" {
                return Run {
                    status: state["status"].as_str().unwrap().to_owned(),
                    error: state["error"].as_str().map(str::to_owned),
                    summary: self.last_summary(),
                    took: started.elapsed(),
                };
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "the execution never ended"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every Invoke the emulator handed on, in the order answered.
    fn invocations(&mut self) -> Vec<Value> {
        let answer = self.aws.command(json!({"op": "invocations"}));
        answer["invocations"].as_array().unwrap().clone()
    }

    /// The summary step's answer in the last run.
    fn last_summary(&mut self) -> Option<Value> {
        self.invocations()
            .into_iter()
            .rev()
            .find(|invocation| invocation["payload"]["remediator"] == "summarise-sweep")
            .map(|invocation| invocation["answer"].clone())
    }

    /// Key statuses by user (`stale`, `pending`) in one account; a deleted key is absent.
    fn keys_of(&mut self, account: &str) -> BTreeMap<String, Vec<String>> {
        self.aws
            .account_state_in(Some(account))
            .into_iter()
            .map(|(user, state)| (user, state.keys.into_values().collect()))
            .collect()
    }
}

/// The template's state machine definition, for our function. Nothing is stripped: moto
/// parses every field the template uses (the Path forms of the concurrency and the tolerance
/// are what let it; see docs/design.md).
fn machine() -> Value {
    org_sweep_definition(FUNCTION_ARN, SWEEP_BUCKET)
}

/// Accounts `first..first + count`, 12 digits each, under `unit`.
fn accounts(first: u64, count: u64, unit: &str) -> Vec<Value> {
    (first..first + count)
        .map(|id| json!({"id": format!("{id:012}"), "name": format!("account-{id}"), "unit": unit}))
        .collect()
}

/// What a sweep in each mode leaves of the two seeded users.
fn left_by(mode: &str) -> BTreeMap<String, Vec<String>> {
    let (stale, pending): (&str, &[&str]) = match mode {
        "untouched" | "report" => ("Active", &["Inactive"]),
        "deactivate" => ("Inactive", &["Inactive"]),
        "delete" => ("Inactive", &[]),
        other => panic!("no mode {other}"),
    };
    BTreeMap::from([
        (
            "pending".to_owned(),
            pending.iter().map(|s| (*s).to_owned()).collect(),
        ),
        ("stale".to_owned(), vec![stale.to_owned()]),
    ])
}
