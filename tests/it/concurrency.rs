//! Concurrency and re-delivery with real processes: the function binary runs as separate
//! processes, each with its own Lambda Runtime API (tests/emulator/runtime_api.py), all
//! against one moto. Events are handed to the processes at the same instant, and the race
//! is repeated (CONCURRENCY_REPEATS, default 10; `make soak` runs more) because who wins it
//! depends on timing. Each repetition must end in the state of a single, or sequential,
//! delivery, with every invocation succeeding and every key write allowed by the rules
//! (judged by the emulator at the moment each write applied).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::audit::{NormalState, Seeded, wrong_key_writes};
use crate::support::lambda::{Answer, FunctionProcesses};
use crate::support::{Emulator, compliance_event, fixture, sweep_account};

fn repeats() -> usize {
    std::env::var("CONCURRENCY_REPEATS")
        .ok()
        .map(|n| n.parse().expect("CONCURRENCY_REPEATS is a number"))
        .unwrap_or(10)
}

/// A user with two keys (IAM's limit) an event acts on, and a marker left from a key deleted
/// by hand, both markers in the first, per-key format: one deactivation, one deletion, the
/// state tag written with the deactivated key's clock, and the two per-key tags removed.
fn event_user() -> Value {
    json!([{ "name": "lee", "tags": {
            "team": "payments",
            "access-key-remediator:deactivated:AKIAGONEBYHAND000001": "2026-01-05T10:00:00Z" },
        "keys": [
            { "ageDays": 120, "lastUsedDaysAgo": 1 },
            { "ageDays": 200, "status": "Inactive", "lastUsedDaysAgo": 40, "markerDaysAgo": 30 },
        ] }])
}

/// The report's action per key label, for every user in it.
fn actions(report: &Value, seeded: &Seeded) -> BTreeMap<String, String> {
    report["users"]
        .as_array()
        .expect("users")
        .iter()
        .flat_map(|user| user["keys"].as_array().expect("keys"))
        .map(|key| {
            (
                seeded.label(key["accessKeyId"].as_str().expect("key id")),
                key["action"].as_str().expect("action").to_owned(),
            )
        })
        .collect()
}

fn report_of<'a>(answer: &'a Option<Answer>, who: &str) -> &'a Value {
    match answer {
        Some(Answer::Report(report)) => report,
        Some(Answer::Error(error)) => panic!("{who} did not succeed: {error}"),
        None => panic!("{who} did not succeed: no answer"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_event_delivered_to_three_processes_at_once_ends_as_one_delivery_and_all_succeed() {
    let mut aws = Emulator::start();
    let mut functions = FunctionProcesses::start(3, &aws.endpoint, "three-deliveries");

    let seeded = Seeded::seed(&mut aws, &event_user(), 5);
    let event = compliance_event(&seeded.user_ids["lee"]);
    let single = functions.invoke_one(0, event);
    let single_actions = actions(
        single.report().expect("a single delivery succeeds"),
        &seeded,
    );
    assert_eq!(
        single_actions,
        BTreeMap::from([
            ("lee#0".to_owned(), "deactivated".to_owned()),
            ("lee#1".to_owned(), "deleted".to_owned()),
        ])
    );
    let single_state: NormalState = seeded.state(&mut aws);
    assert!(wrong_key_writes(&mut aws).is_empty());

    let repeats = repeats();
    let mut overlapping = 0;
    let mut widest_spread_ms: f64 = 0.0;
    // How many UpdateAccessKey calls reached moto in a repetition → in how many repetitions.
    let mut update_calls = BTreeMap::new();
    for repetition in 1..=repeats {
        let seeded = Seeded::seed(&mut aws, &event_user(), 5);
        let event = compliance_event(&seeded.user_ids["lee"]);
        let answers =
            functions.invoke_at_once(&[Some(event.clone()), Some(event.clone()), Some(event)]);
        widest_spread_ms = widest_spread_ms.max(functions.last_release_spread_ms);

        let reports: Vec<&Value> = answers
            .iter()
            .enumerate()
            .map(|(n, answer)| report_of(answer, &format!("repetition {repetition}, process {n}")))
            .collect();
        assert_eq!(
            seeded.state(&mut aws),
            single_state,
            "repetition {repetition}: three deliveries end unlike one: {reports:?}"
        );
        let wrong = wrong_key_writes(&mut aws);
        assert!(wrong.is_empty(), "repetition {repetition}: {wrong:?}");
        // The race is real when more than one process did the same write.
        let deactivations = reports
            .iter()
            .filter(|report| actions(report, &seeded)["lee#0"] == "deactivated")
            .count();
        if deactivations > 1 {
            overlapping += 1;
        }
        *update_calls
            .entry(aws.calls().get("UpdateAccessKey").copied().unwrap_or(0))
            .or_insert(0) += 1;
    }
    println!(
        "three processes, one event, {repeats} repetitions (events handed out within \
         {widest_spread_ms:.2} ms of each other): all {} invocations succeeded, every final \
         state equal to one delivery's, 0 wrong key writes; in {overlapping} repetitions \
         two or more processes deactivated the same key; repetitions by the number of \
         UpdateAccessKey calls that reached moto: {update_calls:?}",
        repeats * 3
    );
}

/// Accounts a sweep and an event both act on: the event's user is also nominated by the
/// credential report.
fn shared_account() -> Value {
    let mut users = vec![json!({ "name": "alice", "keys": [
        { "ageDays": 120, "lastUsedDaysAgo": 2 },
        { "ageDays": 200, "status": "Inactive", "lastUsedDaysAgo": 40, "markerDaysAgo": 20 }] })];
    users.extend(sweep_account());
    Value::Array(users)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_and_a_sweep_at_the_same_time_end_as_when_run_one_after_the_other() {
    let mut aws = Emulator::start();
    let mut functions = FunctionProcesses::start(2, &aws.endpoint, "event-and-sweep");
    let sweep = fixture("scheduled-sweep.json");

    // One after the other, in both orders: the same end.
    let seeded = Seeded::seed(&mut aws, &shared_account(), 10);
    let event = compliance_event(&seeded.user_ids["alice"]);
    assert!(functions.invoke_one(0, event).report().is_some());
    assert!(functions.invoke_one(1, sweep.clone()).report().is_some());
    let sequential = seeded.state(&mut aws);
    assert!(wrong_key_writes(&mut aws).is_empty());

    let seeded = Seeded::seed(&mut aws, &shared_account(), 10);
    let event = compliance_event(&seeded.user_ids["alice"]);
    assert!(functions.invoke_one(1, sweep.clone()).report().is_some());
    assert!(functions.invoke_one(0, event).report().is_some());
    assert_eq!(
        seeded.state(&mut aws),
        sequential,
        "the order does not matter"
    );
    assert_eq!(sequential["alice"].keys.len(), 1, "{sequential:?}");

    let repeats = repeats();
    let mut both_acted_on_alice = 0;
    let mut widest_spread_ms: f64 = 0.0;
    for repetition in 1..=repeats {
        let seeded = Seeded::seed(&mut aws, &shared_account(), 10);
        let event = compliance_event(&seeded.user_ids["alice"]);
        // moto answers the first GenerateCredentialReport with STARTED, so the sweep would
        // wait 0.5 s and mostly find the event done. In every other repetition the report
        // is ready, and the sweep reaches alice while the event is still at work on her.
        if repetition % 2 == 1 {
            aws.iam()
                .generate_credential_report()
                .send()
                .await
                .expect("GenerateCredentialReport");
        }
        let answers = functions.invoke_at_once(&[Some(event), Some(sweep.clone())]);
        widest_spread_ms = widest_spread_ms.max(functions.last_release_spread_ms);

        let event_report = report_of(&answers[0], &format!("repetition {repetition}, the event"));
        let sweep_report = report_of(&answers[1], &format!("repetition {repetition}, the sweep"));
        assert_eq!(
            seeded.state(&mut aws),
            sequential,
            "repetition {repetition}: {event_report} {sweep_report}"
        );
        let wrong = wrong_key_writes(&mut aws);
        assert!(wrong.is_empty(), "repetition {repetition}: {wrong:?}");
        let sweep_on_alice = actions(sweep_report, &seeded);
        if actions(event_report, &seeded)["alice#0"] == "deactivated"
            && sweep_on_alice.get("alice#0").map(String::as_str) == Some("deactivated")
        {
            both_acted_on_alice += 1;
        }
    }
    println!(
        "an event and a sweep at once, {repeats} repetitions (handed out within \
         {widest_spread_ms:.2} ms of each other): all {} invocations succeeded, \
         every final state equal to the sequential one, 0 wrong key writes; in \
         {both_acted_on_alice} repetitions both deactivated the same key",
        repeats * 2
    );
}
