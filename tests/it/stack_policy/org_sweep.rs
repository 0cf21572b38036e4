//! The organisation sweep's state machine in template.yaml: it exists only with
//! SweepOrganization on, and its definition, as Step Functions gets it, is the one the
//! function's payloads and docs/deploy.md expect, its items and results in the sweep bucket
//! (the stack around it: `org_stack`; the bucket and who may use it: `org_bucket`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value as Json, json};
use yaml_serde::Value;

use crate::support::cloudformation::{Deployment, Template, org_sweep_definition};
use crate::support::python;

const FUNCTION_ARN: &str =
    "arn:aws:lambda:eu-west-1:111111111111:function:remediator-RemediatorFunction-EXAMPLE";
const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
/// What the definition's `${SweepBucket}` stands for here.
pub(super) const BUCKET: &str = "remediator-orgsweepbucket-example";
pub(super) const MACHINE: &str = "OrgSweepStateMachine";
/// Everything the stack creates for the organisation sweep, and only with it.
const SWEEP_RESOURCES: [&str; 8] = [
    MACHINE,
    "OrgSweepBucket",
    "OrgSweepBucketPolicy",
    "OrgSweepStateMachineRole",
    "OrgSweepLogGroup",
    "OrgSweepRule",
    "OrgSweepRuleRole",
    "OrgSweepFailedAlarm",
];
/// Lambda's own errors, the only ones retried: throttling (reserved concurrency) and service
/// faults. The function's AccountSweepFailed and DiscoveryFailed are not among them.
const RETRIED: [&str; 5] = [
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
];
pub(super) fn central() -> Template {
    Template::load("template.yaml")
}

pub(super) fn created(deployment: &Deployment) -> BTreeMap<String, Value> {
    deployment.resources().into_iter().collect()
}

#[test]
fn the_state_machine_and_what_serves_it_exist_only_with_sweep_organization_on() {
    let template = central();
    for (sweep_organization, expected) in [("off", false), ("on", true)] {
        let resources = created(&template.deploy(&[("SweepOrganization", sweep_organization)]));
        for id in SWEEP_RESOURCES {
            assert_eq!(
                resources.contains_key(id),
                expected,
                "{id} with SweepOrganization={sweep_organization}"
            );
        }
    }
    let machine = template.resource(MACHINE);
    assert_eq!(
        machine["Type"].as_str(),
        Some("AWS::Serverless::StateMachine")
    );
    assert_eq!(machine["Properties"]["Type"].as_str(), Some("STANDARD"));
}

/// Every state of a definition, nested ones (the Map's processor) included, by name.
fn all_states(definition: &Json) -> BTreeMap<String, Json> {
    let mut states = BTreeMap::new();
    for (name, state) in definition["States"].as_object().expect("States") {
        if let Some(processor) = state.get("ItemProcessor") {
            states.extend(all_states(processor));
        }
        states.insert(name.clone(), state.clone());
    }
    states
}

#[test]
fn the_definition_is_json_with_the_contracts_states_in_order() {
    let definition = org_sweep_definition(FUNCTION_ARN, BUCKET);
    let text = definition.to_string();
    assert!(!text.contains("${"), "a substitution is left: {text}");
    assert_eq!(definition["StartAt"], "Discover");
    let top: BTreeSet<&str> = definition["States"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        top,
        BTreeSet::from([
            "Discover",
            "SweepAccounts",
            "Summarise",
            "Stopped",
            "ToleranceExceeded",
            "Done"
        ])
    );
    let states = &definition["States"];
    let discover = &states["Discover"];
    assert_eq!(
        discover["Parameters"]["Payload"],
        json!({"remediator": "discover-accounts", "execution.$": "$$.Execution.Name"})
    );
    // Pointers and counts: the accounts themselves stay in the bucket.
    assert_eq!(
        discover["ResultSelector"],
        json!({
            "items.$": "$.Payload.items",
            "planned.$": "$.Payload.planned",
            "maxConcurrency.$": "$.Payload.maxConcurrency",
            "toleratedFailurePercentage.$": "$.Payload.toleratedFailurePercentage",
            "discovery.$": "$.Payload.discovery",
        })
    );
    assert_eq!(discover["ResultPath"], "$");
    assert_eq!(discover["Next"], "SweepAccounts");

    let summarise = &states["Summarise"];
    assert_eq!(
        summarise["Parameters"]["Payload"],
        json!({"remediator": "summarise-sweep", "run.$": "$"})
    );
    assert_eq!(summarise["OutputPath"], "$.Payload");
    assert_eq!(summarise["Next"], "Stopped");

    let stopped = &states["Stopped"];
    assert_eq!(stopped["Type"], "Choice");
    assert_eq!(
        stopped["Choices"],
        json!([{"Variable": "$.stopped", "BooleanEquals": true, "Next": "ToleranceExceeded"}])
    );
    assert_eq!(stopped["Default"], "Done");
    assert_eq!(states["ToleranceExceeded"]["Type"], "Fail");
    assert_eq!(states["ToleranceExceeded"]["Error"], "ToleranceExceeded");
    assert!(states["ToleranceExceeded"]["Cause"].as_str().unwrap().len() > 20);
    assert_eq!(states["Done"]["Type"], "Succeed");
}

#[test]
fn the_map_is_distributed_takes_its_numbers_from_discovery_and_is_caught_to_summarise() {
    let definition = org_sweep_definition(FUNCTION_ARN, BUCKET);
    let map = &definition["States"]["SweepAccounts"];
    assert_eq!(map["Type"], "Map");
    assert_eq!(
        map["ItemProcessor"]["ProcessorConfig"],
        json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
    );
    // The items and the results are in S3 (the shape: the_map_reads_its_items_…).
    assert!(map.get("ItemsPath").is_none(), "{map}");
    // The Path forms: the numbers come from the discovery answer, as JSON numbers.
    assert_eq!(map["MaxConcurrencyPath"], "$.maxConcurrency");
    assert_eq!(
        map["ToleratedFailurePercentagePath"],
        "$.toleratedFailurePercentage"
    );
    for literal in [
        "MaxConcurrency",
        "ToleratedFailurePercentage",
        "ToleratedFailureCount",
    ] {
        assert!(map.get(literal).is_none(), "{literal} beside its Path");
    }
    assert_eq!(map["Label"], "AccountSweeps");
    assert_eq!(
        map["ItemSelector"],
        json!({
            "remediator": "sweep-account",
            "account.$": "$$.Map.Item.Value.account",
            "mode.$": "$$.Map.Item.Value.mode",
        })
    );
    assert_eq!(map["ResultPath"], "$.results");
    assert_eq!(
        map["Catch"],
        json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.stopped", "Next": "Summarise"}])
    );
    assert_eq!(map["Next"], "Summarise");
    let processor = &map["ItemProcessor"];
    assert_eq!(processor["StartAt"], "SweepAccount");
    let sweep = &processor["States"]["SweepAccount"];
    assert_eq!(sweep["Parameters"]["Payload.$"], "$");
    assert_eq!(sweep["OutputPath"], "$.Payload");
    assert_eq!(sweep["End"], true);
}

#[test]
fn the_map_reads_its_items_from_discoverys_file_and_writes_its_results_to_the_bucket() {
    let definition = org_sweep_definition(FUNCTION_ARN, BUCKET);
    let map = &definition["States"]["SweepAccounts"];
    // One JSON array, at the bucket and key discovery answered (its ResultSelector's items).
    assert_eq!(
        map["ItemReader"],
        json!({
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket.$": "$.items.bucket", "Key.$": "$.items.key"},
        })
    );
    assert_eq!(
        definition["States"]["Discover"]["ResultSelector"]["items.$"],
        "$.Payload.items"
    );
    // Into the stack's own bucket, under the function's prefix, so the summary may read them.
    assert_eq!(
        map["ResultWriter"],
        json!({
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": BUCKET, "Prefix": "org-sweep/results"},
        })
    );
    // The Map's output is then the manifest's location, which Summarise gets in `run`.
    assert_eq!(map["ResultPath"], "$.results");
    assert_eq!(
        definition["States"]["Summarise"]["Parameters"]["Payload"]["run.$"],
        "$"
    );
}

#[test]
fn every_task_invokes_the_function_and_retries_lambdas_errors_never_the_functions() {
    let definition = org_sweep_definition(FUNCTION_ARN, BUCKET);
    let tasks: Vec<(String, Json)> = all_states(&definition)
        .into_iter()
        .filter(|(_, state)| state["Type"] == "Task")
        .collect();
    let names: BTreeSet<&str> = tasks.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["Discover", "SweepAccount", "Summarise"])
    );
    let retry = json!([{
        "ErrorEquals": RETRIED,
        "IntervalSeconds": 2,
        "MaxAttempts": 6,
        "BackoffRate": 2,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL",
    }]);
    for (name, task) in &tasks {
        assert_eq!(task["Resource"], LAMBDA_INVOKE, "{name}");
        assert_eq!(task["Parameters"]["FunctionName"], FUNCTION_ARN, "{name}");
        assert_eq!(task["Retry"], retry, "{name}");
    }
    // Nothing retries a failure of the function itself: an account's AccountSweepFailed
    // counts toward the tolerance, a DiscoveryFailed stops the run.
    for (name, state) in all_states(&definition) {
        for retrier in state["Retry"].as_array().into_iter().flatten() {
            for error in retrier["ErrorEquals"].as_array().unwrap() {
                let error = error.as_str().unwrap();
                assert!(
                    error.starts_with("Lambda."),
                    "{name} retries {error}, which matches the function's own errors"
                );
            }
        }
    }
}

#[test]
fn the_definition_passes_cfn_lint_as_a_plain_state_machine() {
    // cfn-lint does not read an AWS::Serverless::StateMachine's Definition (SAM turns it into
    // a joined string), so it is checked here as CloudFormation's own resource.
    let plain = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"OrgSweep": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "RoleArn": "arn:aws:iam::111111111111:role/org-sweep",
                "Definition": org_sweep_definition(FUNCTION_ARN, BUCKET),
            },
        }},
    });
    let cfn_lint = python().with_file_name("cfn-lint");
    let mut child = Command::new(&cfn_lint)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (make test installs it)", cfn_lint.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(plain.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "cfn-lint: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
