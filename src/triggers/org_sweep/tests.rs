//! The state machine's payloads: each step recognised, anything else with a `remediator` key
//! refused naming the field, and everything without one left to the event triggers.

use serde_json::json;

use super::{Step, classify_step};
use crate::domain::policy::Mode;
use crate::triggers::IntakeError;

fn refused_at(payload: serde_json::Value) -> String {
    match classify_step(&payload) {
        Some(Err(IntakeError::Malformed { path, .. })) => path,
        other => panic!("{payload} was not refused: {other:?}"),
    }
}

#[test]
fn payloads_without_the_step_key_are_not_steps() {
    for payload in [
        json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
        json!([1, 2]),
        json!("discover-accounts"),
        json!(null),
    ] {
        assert!(classify_step(&payload).is_none(), "{payload}");
    }
}

#[test]
fn each_step_is_recognised() {
    assert!(matches!(
        classify_step(&json!({"remediator": "discover-accounts", "execution": "x"})),
        Some(Ok(Step::Discover { execution: Some(_) }))
    ));
    let step = classify_step(
        &json!({"remediator": "sweep-account", "account": "111122223333", "mode": "deactivate"}),
    );
    let Some(Ok(Step::SweepAccount { account, mode })) = step else {
        panic!("not a sweep of one account: {step:?}");
    };
    assert_eq!((account.as_str(), mode), ("111122223333", Mode::Deactivate));
    let run = json!({"accounts": [{"account": "111122223333", "mode": "report"}], "discovery": {}, "results": [null]});
    let Some(Ok(Step::Summarise(run))) =
        classify_step(&json!({"remediator": "summarise-sweep", "run": run}))
    else {
        panic!("not a summary");
    };
    assert_eq!(run.accounts.len(), 1);
    assert_eq!(
        run.results
            .as_ref()
            .and_then(|results| results.as_array())
            .map(Vec::len),
        Some(1)
    );
    assert!(run.stopped.is_none());
}

#[test]
fn malformed_steps_are_refused_naming_the_field() {
    let cases = [
        (json!({"remediator": "sweep-everything"}), "remediator"),
        (json!({"remediator": 7}), "remediator"),
        (
            json!({"remediator": "sweep-account", "mode": "delete"}),
            "account",
        ),
        (
            json!({"remediator": "sweep-account", "account": "12345", "mode": "delete"}),
            "account",
        ),
        (
            json!({"remediator": "sweep-account", "account": "111122223333"}),
            "mode",
        ),
        // A mode is never guessed: not even a different case of a real one.
        (
            json!({"remediator": "sweep-account", "account": "111122223333", "mode": "Delete"}),
            "mode",
        ),
        (json!({"remediator": "summarise-sweep"}), "run"),
        (
            json!({"remediator": "summarise-sweep", "run": {"accounts": "all"}}),
            "run.accounts",
        ),
    ];
    for (payload, path) in cases {
        assert_eq!(refused_at(payload.clone()), path, "{payload}");
    }
}
