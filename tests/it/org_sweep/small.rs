//! Smaller organisations for what the big one does not show: the run stops once failures pass
//! the tolerance; a throttled invocation is retried, not counted as a failed account; and an
//! account added to an OU is swept on the next run with no change to the stack.

use serde_json::json;

use super::{World, accounts, left_by};

const FIRST: u64 = 400_000_000_000;

fn ten_accounts(world: &mut World) {
    world.organise(
        json!([{"name": "workloads", "parent": "root"}]),
        accounts(FIRST, 10, "workloads"),
    );
}

#[test]
fn failures_past_the_tolerance_stop_the_run() {
    let mut world = World::start();
    ten_accounts(&mut world);
    // 3 of 11 (the 10 and the management account) is 27%, past the 10% tolerated.
    for n in [0, 1, 2] {
        let account = format!("{:012}", FIRST + n);
        world
            .aws
            .command(json!({"op": "deny_assume_role", "account": account}));
    }
    world.functions(1, &[("MAP_MAX_CONCURRENCY", "1")], "org-sweep-tolerance");

    let run = world.run();

    assert_eq!(run.status, "FAILED", "{run:?}");
    assert_eq!(run.error.as_deref(), Some("ToleranceExceeded"));
    let summary = run.summary.expect("the run is summarised before it fails");
    assert_eq!(summary["stopped"], true);
    assert!(
        summary["stoppedBy"]
            .as_str()
            .unwrap()
            .contains("States.ExceedToleratedFailureThreshold"),
        "{summary}"
    );
    // One at a time, the management account first: the first denied account fails (9%,
    // tolerated), the second takes failures to 18%, and the Map starts nothing after it.
    let sweeps = world
        .invocations()
        .into_iter()
        .filter(|invocation| invocation["payload"]["remediator"] == "sweep-account")
        .count();
    assert_eq!(
        sweeps, 3,
        "the second denied account (18%) passes the tolerance; nothing is started after it"
    );
    for n in 3..10 {
        let account = format!("{:012}", FIRST + n);
        assert_eq!(world.keys_of(&account), left_by("untouched"), "{account}");
    }
}

#[test]
fn a_throttled_invocation_is_retried_not_counted_as_a_failed_account() {
    let mut world = World::start();
    ten_accounts(&mut world);
    // Reserved concurrency 2 beneath a Map of 4: Lambda refuses the rest with 429s, and the
    // state machine's Retry takes them again.
    world
        .aws
        .command(json!({"op": "lambda_concurrency", "limit": 2}));
    world.functions(4, &[("MAP_MAX_CONCURRENCY", "4")], "org-sweep-throttled");

    let run = world.run();

    assert_eq!(run.status, "SUCCEEDED", "{run:?}");
    let summary = run.summary.unwrap();
    assert_eq!(
        (
            summary["swept"].as_u64(),
            summary["failed"].as_array().map(Vec::len)
        ),
        (Some(11), Some(0)),
        "{summary}"
    );
    let invocations = world.invocations();
    let throttled = invocations
        .iter()
        .filter(|invocation| invocation["outcome"] == "throttled")
        .count();
    assert!(
        throttled > 0,
        "the limit throttled nothing: the test shows nothing"
    );
    for n in 0..10 {
        let account = format!("{:012}", FIRST + n);
        assert_eq!(world.keys_of(&account), left_by("delete"), "{account}");
    }
}

#[test]
fn an_account_added_to_an_ou_is_swept_on_the_next_run() {
    let mut world = World::start();
    ten_accounts(&mut world);
    world.functions(2, &[("MAP_MAX_CONCURRENCY", "2")], "org-sweep-added");
    let first = world.run();
    assert_eq!(first.status, "SUCCEEDED", "{first:?}");
    // The management account (123456789012) is in the organisation too, and swept in place.
    assert_eq!(first.summary.unwrap()["swept"], 11);

    let added = format!("{:012}", FIRST + 10);
    world.organise(json!([]), accounts(FIRST + 10, 1, "workloads"));
    let second = world.run();

    assert_eq!(second.status, "SUCCEEDED", "{second:?}");
    assert_eq!(second.summary.unwrap()["swept"], 12);
    assert_eq!(world.keys_of(&added), left_by("delete"));
}
