//! End to end: the scheduled sweep against moto, through the real SDK. The credential report
//! nominates users; each goes through the same read, policy and apply as an event.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use access_key_remediator::domain::policy::Policy;
use access_key_remediator::handler::handle;
use access_key_remediator::report::{Action, Report, Trigger};
use access_key_remediator::settings::Settings;
use serde_json::{Value, json};

use crate::support::audit::{STATE_TAG, is_marker_tag};
use crate::support::{
    Emulator, SeededUser, compliance_event, fixture, invocation, keys_of, sweep_account, writes,
};

async fn sweep(aws: &Emulator, settings: Settings) -> Report {
    sweep_with_deadline(aws, settings, 0).await
}

/// A sweep whose context carries this deadline (epoch milliseconds; 0, none).
async fn sweep_with_deadline(aws: &Emulator, settings: Settings, deadline_ms: u64) -> Report {
    let remediator = aws.remediator(settings);
    let mut event = invocation(fixture("scheduled-sweep.json"));
    event.context.deadline = deadline_ms;
    handle(&remediator, event)
        .await
        .expect("the sweep succeeds")
}

fn action_of(report: &Report, key_id: &str) -> Action {
    keys_of(report)
        .find(|k| k.access_key_id == *key_id)
        .unwrap_or_else(|| panic!("{key_id} is not in the report"))
        .action
}

/// An account with one user of each kind a sweep meets, and young filler users.
fn seed_account(aws: &mut Emulator) -> BTreeMap<String, SeededUser> {
    let seeded = aws.seed(Value::Array(sweep_account()));
    aws.command(json!({ "op": "seed", "fillerUsers": 20 }));
    seeded
}

#[tokio::test]
async fn a_sweep_finishes_pending_deletions_marks_and_deactivates_and_leaves_the_rest_alone() {
    let mut aws = Emulator::start();
    let users = seed_account(&mut aws);

    let report = sweep(&aws, Settings::default()).await;

    assert_eq!(report.trigger, Trigger::Sweep);
    assert_eq!(
        action_of(&report, &users["past-grace"].keys[0]),
        Action::Deleted
    );
    assert!(aws.key_states("past-grace").await.is_empty());
    assert!(
        aws.tags("past-grace").await.is_empty(),
        "its marker is gone too"
    );

    assert_eq!(
        action_of(&report, &users["unmarked"].keys[0]),
        Action::Marked
    );
    let unmarked_tags = aws.tags("unmarked").await;
    let state = unmarked_tags.get(STATE_TAG).map(String::as_str);
    assert!(
        state.is_some_and(|state| state.starts_with(&format!("{}=", users["unmarked"].keys[0]))),
        "its grace clock is in the state tag: {unmarked_tags:?}"
    );

    let no_event = &users["no-event-came"];
    assert_eq!(action_of(&report, &no_event.keys[0]), Action::Deactivated);
    assert_eq!(
        aws.key_states("no-event-came").await[&no_event.keys[0]],
        "Inactive"
    );
    assert_eq!(
        aws.key_states("no-event-came").await[&no_event.keys[1]],
        "Active"
    );

    // Only users the credential report nominates are read at all.
    let swept: Vec<&str> = report.users.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(swept, ["past-grace", "unmarked", "no-event-came", "exempt"]);
    assert_eq!(action_of(&report, &users["exempt"].keys[0]), Action::Exempt);
    assert_eq!(
        aws.key_states("exempt").await[&users["exempt"].keys[0]],
        "Active"
    );
    assert_eq!(
        aws.key_states("young").await[&users["young"].keys[0]],
        "Active"
    );
}

#[tokio::test]
async fn a_sweep_waits_for_a_credential_report_that_is_not_yet_ready() {
    let mut aws = Emulator::start();
    seed_account(&mut aws);

    let report = sweep(&aws, Settings::default()).await;

    // moto answers STARTED to the first request and COMPLETE to the next, as IAM does
    // for an account with no recent report.
    assert_eq!(report.api_calls.get("GenerateCredentialReport"), Some(&2));
    assert_eq!(report.api_calls.get("GetCredentialReport"), Some(&1));
    assert_eq!(
        aws.calls().get("GenerateCredentialReport"),
        Some(&2),
        "counted at the server too"
    );
}

#[tokio::test]
async fn a_sweep_stops_at_the_action_cap_and_reports_the_rest_deferred() {
    let mut aws = Emulator::start();
    let users = aws.seed(json!([
        { "name": "a-oldest", "keys": [{ "ageDays": 300 }] },
        { "name": "b-older", "keys": [{ "ageDays": 200 }] },
        { "name": "c-old", "keys": [{ "ageDays": 100 }] },
    ]));
    let capped = Settings {
        policy: Policy {
            max_actions_per_invocation: 2,
            ..Policy::default()
        },
        sweep_concurrency: 1,
        ..Settings::default()
    };

    let report = sweep(&aws, capped).await;

    assert_eq!(report.summary.count(Action::Deactivated), 2);
    assert_eq!(report.summary.count(Action::Deferred), 1);
    assert_eq!(
        action_of(&report, &users["c-old"].keys[0]),
        Action::Deferred
    );
    assert_eq!(
        aws.key_states("c-old").await[&users["c-old"].keys[0]],
        "Active"
    );
}

#[tokio::test]
async fn a_second_sweep_in_a_row_changes_nothing() {
    let mut aws = Emulator::start();
    seed_account(&mut aws);
    sweep(&aws, Settings::default()).await;
    let writes_after_first = writes(&aws.calls());
    let keys_after_first = aws.key_states("no-event-came").await;

    let second = sweep(&aws, Settings::default()).await;

    assert_eq!(
        writes(&aws.calls()),
        writes_after_first,
        "no write the second time"
    );
    assert_eq!(aws.key_states("no-event-came").await, keys_after_first);
    for action in [
        Action::Deactivated,
        Action::Deleted,
        Action::Marked,
        Action::Failed,
    ] {
        assert_eq!(second.summary.count(action), 0, "{action:?}");
    }
    assert_eq!(
        second.summary.count(Action::Pending),
        2,
        "both deactivated and marked keys wait"
    );
}

#[tokio::test]
async fn a_sweep_stays_within_its_call_budget() {
    let mut aws = Emulator::start();
    seed_account(&mut aws);
    // Read in-process, so no API call: which users carry per-key markers (the seed writes
    // that format), which the function folds into the state tag with one more write.
    let with_per_key_markers: Vec<String> = aws
        .account_state()
        .into_iter()
        .filter(|(_, user)| user.tags.keys().any(|tag| is_marker_tag(tag)))
        .map(|(name, _)| name)
        .collect();

    let report = sweep(&aws, Settings::default()).await;

    // Budget: 2 + polls + Σ over candidates of (3 + keys + key writes + clock writes). Per
    // candidate: ListAccessKeys, ListUserTags and, before a deletion, ListAccessKeys again (3);
    // GetAccessKeyLastUsed per key; one UpdateAccessKey or DeleteAccessKey per key deactivated
    // or deleted (and a GetUser for a key found gone); and the grace clocks written once per
    // user, not per key: one TagUser of the state tag (or one UntagUser when no clock is left)
    // when a clock starts or ends, plus one UntagUser of the per-key markers it folds in.
    let polls = report.api_calls["GenerateCredentialReport"];
    let per_candidate: u64 = report
        .users
        .iter()
        .map(|user| {
            let keys = user.keys.len() as u64;
            let count = |actions: &[Action]| {
                user.keys
                    .iter()
                    .filter(|k| actions.contains(&k.action))
                    .count() as u64
            };
            let key_writes =
                count(&[Action::Deactivated, Action::Deleted]) + 2 * count(&[Action::Gone]);
            let clocks_change = count(&[Action::Deactivated, Action::Deleted, Action::Marked]) > 0;
            let folds = with_per_key_markers.contains(&user.user_name);
            let clock_writes = match (clocks_change, folds) {
                (false, _) => 0,
                (true, false) => 1,
                (true, true) => 2,
            };
            3 + keys + key_writes + clock_writes
        })
        .sum();
    assert!(
        report.api_calls.get("TagUser").copied().unwrap_or(0) <= report.users.len() as u64,
        "at most one TagUser per user: {:?}",
        report.api_calls
    );
    let total: u64 = report.api_calls.values().sum();
    assert!(
        total <= 2 + polls + per_candidate,
        "{total} calls > budget {}: {:?}",
        2 + polls + per_candidate,
        report.api_calls
    );
    // The report's own count is what the server saw (the seeding made no API call).
    let at_server: u64 = aws.calls().values().sum();
    assert_eq!(total, at_server);
}

#[tokio::test]
async fn an_event_invocation_reports_its_api_calls_too() {
    let mut aws = Emulator::start();
    let users = aws.seed(json!([{ "name": "alice", "keys": [{ "ageDays": 120 }] }]));
    let remediator = aws.remediator(Settings::default());

    let report = handle(
        &remediator,
        invocation(compliance_event(&users["alice"].user_id)),
    )
    .await
    .unwrap();

    assert_eq!(report.api_calls.get("UpdateAccessKey"), Some(&1));
    assert_eq!(report.api_calls.get("TagUser"), Some(&1));
    assert_eq!(report.api_calls.get("ListAccessKeys"), Some(&1));
    assert_eq!(report.api_calls.get("ListDiscoveredResources"), Some(&1));
}

#[tokio::test]
async fn a_sweep_near_its_deadline_starts_no_user_and_leaves_them_to_the_next_sweep() {
    let mut aws = Emulator::start();
    let users = seed_account(&mut aws);
    let in_five_seconds = SystemTime::now() + Duration::from_secs(5);
    let deadline_ms = in_five_seconds
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;

    let report = sweep_with_deadline(&aws, Settings::default(), deadline_ms).await;

    assert!(report.users.is_empty());
    assert_eq!(
        report.deferred_users,
        ["past-grace", "unmarked", "no-event-came", "exempt"]
    );
    assert_eq!(writes(&aws.calls()), 0);
    assert_eq!(
        aws.key_states("no-event-came").await[&users["no-event-came"].keys[0]],
        "Active"
    );
}

#[tokio::test]
async fn a_deadline_already_past_at_the_start_is_ignored_rather_than_deferring_everything() {
    let mut aws = Emulator::start();
    seed_account(&mut aws);

    // What cargo lambda 1.9's `watch` sends: a duration where Lambda sends an epoch time.
    let report = sweep_with_deadline(&aws, Settings::default(), 600_000).await;

    assert!(report.deferred_users.is_empty());
    assert_eq!(report.users.len(), 4);
}
