//! The organisation: 200 accounts in 3 OUs. `rollout` is tagged `deactivate`;
//! `production` has no tag (the stack's `delete` applies), except one account tagged `report`,
//! one whose member role's ceiling is `deactivate`, one whose AssumeRole is denied, one
//! SUSPENDED and one PENDING_CLOSURE; `sandbox` is excluded. One execution sweeps every
//! included account in its own mode, the denied account fails alone, the two not ACTIVE are
//! skipped with their state, and nothing in the excluded OU is touched or even assumed into.

use serde_json::json;

use super::{World, accounts, left_by};

const ROLLOUT: u64 = 100_000_000_000;
const PRODUCTION: u64 = 200_000_000_000;
const SANDBOX: u64 = 300_000_000_000;

#[test]
fn one_execution_sweeps_every_included_account_in_its_own_mode() {
    let mut world = World::start();
    let tagged_report = format!("{:012}", PRODUCTION + 1);
    let lowered = format!("{:012}", PRODUCTION + 2);
    let denied = format!("{:012}", PRODUCTION + 3);
    let suspended = format!("{:012}", PRODUCTION + 4);
    let closing = format!("{:012}", PRODUCTION + 5);
    let mut members = accounts(ROLLOUT, 80, "rollout");
    members.extend(accounts(PRODUCTION, 80, "production"));
    members.extend(accounts(SANDBOX, 40, "sandbox"));
    for account in &mut members {
        if account["id"] == tagged_report {
            account["tags"] = json!({"access-key-remediator:mode": "report"});
        }
        if account["id"] == lowered {
            account["memberRole"] = json!({"name": super::MEMBER_ROLE, "ceiling": "deactivate"});
        }
        if account["id"] == suspended {
            account["state"] = json!("SUSPENDED");
        }
        if account["id"] == closing {
            account["state"] = json!("PENDING_CLOSURE");
        }
    }
    let organisation = world.organise(
        json!([
            {"name": "rollout", "parent": "root", "tags": {"access-key-remediator:mode": "deactivate"}},
            {"name": "production", "parent": "root"},
            {"name": "sandbox", "parent": "root"},
        ]),
        members,
    );
    world
        .aws
        .command(json!({"op": "deny_assume_role", "account": denied}));
    let sandbox = organisation["units"]["sandbox"]
        .as_str()
        .unwrap()
        .to_owned();
    world.functions(
        8,
        &[("SWEEP_EXCLUDE", &sandbox), ("MAP_MAX_CONCURRENCY", "8")],
        "org-sweep-organisation",
    );

    let run = world.run();
    eprintln!(
        "200 accounts (160 included, and the management account) swept in {:.1} s",
        run.took.as_secs_f64()
    );

    assert_eq!(run.status, "SUCCEEDED", "{run:?}");
    let summary = run.summary.expect("the summary step answered");
    // The 160 included, and the management account, which is in the organisation too; of
    // them, the suspended and the closing account are skipped.
    assert_eq!(
        summary["discovered"], 161,
        "the excluded OU is not walked: {summary}"
    );
    assert_eq!(summary["planned"], 159);
    assert_eq!(summary["swept"], 158);
    assert_eq!(
        summary["skipped"],
        json!([
            {"account": suspended, "reason": "notActive", "state": "SUSPENDED"},
            {"account": closing, "reason": "notActive", "state": "PENDING_CLOSURE"},
        ])
    );
    assert_eq!(summary["failed"].as_array().unwrap().len(), 1, "{summary}");
    assert_eq!(summary["failed"][0]["account"], denied.as_str());
    assert_eq!(summary["stopped"], false);
    assert_eq!(summary["deferred"], json!([]));
    assert_eq!(
        summary["modes"],
        json!({"deactivate": 81, "delete": 76, "report": 1})
    );
    assert_eq!(summary["loweredByCeiling"], 1);
    // Every included account's stale key deactivated, but for the report-tagged one; pending
    // keys deleted only where the mode is delete.
    assert_eq!(summary["actions"]["deactivated"], 156);
    assert_eq!(summary["actions"]["deleted"], 75);

    for n in 0..80 {
        let account = format!("{:012}", ROLLOUT + n);
        assert_eq!(world.keys_of(&account), left_by("deactivate"), "{account}");
    }
    for n in 0..80 {
        let account = format!("{:012}", PRODUCTION + n);
        let expected = match account.as_str() {
            id if id == tagged_report => "report",
            id if id == lowered => "deactivate",
            id if id == denied || id == suspended || id == closing => "untouched",
            _ => "delete",
        };
        assert_eq!(
            world.keys_of(&account),
            left_by(expected),
            "{account} ({expected})"
        );
    }
    for n in 0..40 {
        let account = format!("{:012}", SANDBOX + n);
        assert_eq!(world.keys_of(&account), left_by("untouched"), "{account}");
        let assumed = world
            .aws
            .command(json!({"op": "assumed_roles", "account": account}));
        assert_eq!(
            assumed["roles"],
            json!([]),
            "nothing assumed a role in {account}"
        );
    }

    // Each included account was invoked exactly once (none retried past its failure), with
    // the mode its tags give.
    let invocations = world.invocations();
    let sweeps: Vec<_> = invocations
        .iter()
        .filter(|invocation| invocation["payload"]["remediator"] == "sweep-account")
        .collect();
    assert_eq!(sweeps.len(), 159);
    let lowered_answer = sweeps
        .iter()
        .find(|invocation| invocation["payload"]["account"] == lowered.as_str())
        .expect("the lowered account was swept");
    assert_eq!(lowered_answer["payload"]["mode"], "delete");
    assert_eq!(lowered_answer["answer"]["mode"], "deactivate");
    assert_eq!(lowered_answer["answer"]["askedMode"], "delete");
    // Step Functions carries at most 256 KiB between states: the items and the results are
    // in S3 (ItemReader, ResultWriter), so the summary's input holds pointers and counts,
    // however many accounts there are.
    let summarise = invocations
        .iter()
        .find(|invocation| invocation["payload"]["remediator"] == "summarise-sweep")
        .expect("the summary step was invoked");
    let state_bytes = summarise["payload"].to_string().len();
    eprintln!("the summary's input: {state_bytes} bytes for 159 accounts");
    assert!(
        state_bytes < 4_096,
        "{state_bytes} bytes: {}",
        summarise["payload"]
    );
    let objects = world
        .aws
        .command(json!({"op": "s3_objects", "bucket": super::SWEEP_BUCKET}));
    let objects = objects["objects"].as_object().unwrap();
    let items = objects
        .iter()
        .find(|(key, _)| key.ends_with("/accounts.json"))
        .map(|(_, items)| items.as_array().unwrap().len());
    assert_eq!(items, Some(159), "discovery wrote the Map's items");
    let children = |file: &str| -> usize {
        let files = objects.iter().filter(|(key, _)| key.ends_with(file));
        files
            .map(|(_, entries)| entries.as_array().unwrap().len())
            .sum()
    };
    assert_eq!(
        (children("SUCCEEDED_0.json"), children("FAILED_0.json")),
        (158, 1)
    );
    // The failed account's error comes back from the ResultWriter's file.
    let error = summary["failed"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("AccountSweepFailed: account "), "{error}");
    let denied_answer = sweeps
        .iter()
        .find(|invocation| invocation["payload"]["account"] == denied.as_str())
        .expect("the denied account was invoked");
    assert_eq!(denied_answer["outcome"], "error");
    assert_eq!(denied_answer["answer"]["errorType"], "AccountSweepFailed");
}
