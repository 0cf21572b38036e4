//! End to end, against moto through the real SDK: the grace clocks in their one state tag
//! (`access-key-remediator:state` = `<AccessKeyId>=<RFC 3339> …`) and IAM's 50 tags per user,
//! a user renamed under the function, a clock dated in the future, an exemption tag spelt in
//! another case, and the per-key markers of the first format folded into the state tag. Each
//! test checks what moto holds afterwards (keys, tags, the state tag's entries), read
//! in-process, not just what the report says.
//!
//! The emulator answers TagUser past 50 tags with LimitExceeded, as IAM does; moto alone
//! would not.

use std::collections::BTreeMap;
use std::time::{Duration as StdDuration, Instant};

use access_key_remediator::handler::handle;
use access_key_remediator::report::{Action, KeyReport, Report};
use access_key_remediator::settings::Settings;
use access_key_remediator::startup;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::support::audit::{PER_KEY_MARKER_PREFIX, STATE_TAG, grace_clocks, is_marker_tag};
use crate::support::faults::FaultProxy;
use crate::support::{
    Emulator, UserState, compliance_event, fixture, invocation, keys_of, sdk_config_for, writes,
};

/// What the report says of a key deactivated where no clock can be recorded.
const NO_TAG_SLOT: &str = "no tag slot for the grace clock (50 of 50 tags used): the key will \
                           not be deleted until one is free";

async fn event(aws: &Emulator, user_id: &str) -> Report {
    let remediator = aws.remediator(Settings::default());
    handle(&remediator, invocation(compliance_event(user_id)))
        .await
        .expect("the event succeeds")
}

async fn sweep(aws: &Emulator) -> Report {
    let remediator = aws.remediator(Settings::default());
    handle(&remediator, invocation(fixture("scheduled-sweep.json")))
        .await
        .expect("the sweep succeeds")
}

fn key<'r>(report: &'r Report, key_id: &str) -> &'r KeyReport {
    keys_of(report)
        .find(|k| k.access_key_id == *key_id)
        .unwrap_or_else(|| panic!("{key_id} is not in the report: {report:?}"))
}

/// `count` tags of the user's own, as a seed's `tags`.
fn own_tags(count: usize) -> BTreeMap<String, String> {
    (0..count)
        .map(|n| (format!("cost-centre-{n:02}"), format!("cc-{n}")))
        .collect()
}

/// One user as moto holds it now, read in-process (no API call).
fn state_of(aws: &mut Emulator, user: &str) -> UserState {
    let mut users = aws.account_state();
    users
        .remove(user)
        .unwrap_or_else(|| panic!("moto has no user {user}: {users:?}"))
}

/// The state tag's entries, key id → instant; panics on an entry that is not one.
fn state_entries(tags: &BTreeMap<String, String>) -> BTreeMap<String, OffsetDateTime> {
    let Some(state) = tags.get(STATE_TAG) else {
        return BTreeMap::new();
    };
    state
        .split(' ')
        .map(|entry| {
            let (id, at) = entry
                .split_once('=')
                .unwrap_or_else(|| panic!("{state:?}: {entry:?} is no <key>=<time> entry"));
            let at = OffsetDateTime::parse(at, &Rfc3339)
                .unwrap_or_else(|e| panic!("{state:?}: {at:?} is no RFC 3339 instant: {e}"));
            (id.to_owned(), at)
        })
        .collect()
}

/// The user's tags without the function's own.
fn own(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let tags = tags.iter().filter(|(key, _)| !is_marker_tag(key));
    tags.map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[track_caller]
fn assert_taken_just_now(at: OffsetDateTime) {
    let age = OffsetDateTime::now_utc() - at;
    assert!(
        (Duration::ZERO..Duration::seconds(120)).contains(&age),
        "the clock {at} was not taken by the run ({age} ago)"
    );
}

fn calls_of(calls: &BTreeMap<String, u64>, action: &str) -> u64 {
    calls.get(action).copied().unwrap_or(0)
}

#[tokio::test]
async fn fifty_tags_of_the_users_own_and_an_old_key_the_key_is_deactivated_and_never_deleted() {
    let mut aws = Emulator::start();
    let full = aws
        .seed(json!([{ "name": "full", "tags": own_tags(50), "keys": [{ "ageDays": 120 }] }]))
        .remove("full")
        .unwrap();
    let key_id = &full.keys[0];

    let report = event(&aws, &full.user_id).await;

    let decided = key(&report, key_id);
    assert_eq!(decided.action, Action::Deactivated);
    assert!(decided.reason.contains(NO_TAG_SLOT), "{}", decided.reason);
    let after_event = state_of(&mut aws, "full");
    assert_eq!(after_event.keys[key_id], "Inactive");
    assert_eq!(after_event.tags, own_tags(50), "the 50 tags, untouched");
    assert_eq!(
        calls_of(&aws.calls(), "TagUser"),
        0,
        "no 51st tag is even tried"
    );

    // The sweeps after it succeed, and delete nothing: there is no clock to wait out.
    for _ in 0..2 {
        let report = sweep(&aws).await;
        let decided = key(&report, key_id);
        assert_eq!(decided.action, Action::Pending);
        assert!(decided.reason.contains(NO_TAG_SLOT), "{}", decided.reason);
        assert_eq!(report.summary.count(Action::Deleted), 0);
    }
    let after_sweeps = state_of(&mut aws, "full");
    assert_eq!(
        after_sweeps, after_event,
        "keys and tags as the event left them"
    );
    let calls = aws.calls();
    assert_eq!(calls_of(&calls, "DeleteAccessKey"), 0);
    assert_eq!(
        writes(&calls),
        1,
        "the one UpdateAccessKey, nothing else: {calls:?}"
    );

    // The emulator would have refused a clock, as IAM does.
    let refused = aws
        .iam()
        .tag_user()
        .user_name("full")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key(STATE_TAG)
                .value(format!("{key_id}=2026-01-01T00:00:00Z"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect_err("a 51st tag");
    use aws_sdk_iam::error::ProvideErrorMetadata;
    assert_eq!(refused.code(), Some("LimitExceeded"));
}

#[tokio::test]
async fn forty_nine_tags_of_the_users_own_and_two_old_keys_the_whole_lifecycle_runs() {
    let mut aws = Emulator::start();
    let user = aws
        .seed(json!([{ "name": "nearly-full", "tags": own_tags(49),
            "keys": [{ "ageDays": 200 }, { "ageDays": 150, "lastUsedDaysAgo": 30 }] }]))
        .remove("nearly-full")
        .unwrap();
    let (first, second) = (&user.keys[0], &user.keys[1]);

    // Deactivated, both clocks in the one free slot.
    let report = event(&aws, &user.user_id).await;
    assert_eq!(key(&report, first).action, Action::Deactivated);
    assert_eq!(key(&report, second).action, Action::Deactivated);
    let state = state_of(&mut aws, "nearly-full");
    assert_eq!(state.keys[first], "Inactive");
    assert_eq!(state.keys[second], "Inactive");
    assert_eq!(state.tags.len(), 50);
    assert_eq!(own(&state.tags), own_tags(49));
    let clocks = state_entries(&state.tags);
    assert_eq!(
        clocks.keys().collect::<Vec<_>>(),
        {
            let mut ids = vec![first, second];
            ids.sort();
            ids
        },
        "{:?}",
        state.tags
    );
    clocks.values().copied().for_each(assert_taken_just_now);
    assert_eq!(calls_of(&aws.calls(), "TagUser"), 1, "one TagUser for both");

    // Within the grace period: nothing changes.
    let report = sweep(&aws).await;
    assert_eq!(key(&report, first).action, Action::Pending);
    assert_eq!(key(&report, second).action, Action::Pending);
    assert_eq!(state_of(&mut aws, "nearly-full"), state);

    // Fifteen days on: the clocks say so.
    let fifteen_days_ago = OffsetDateTime::now_utc() - Duration::days(15);
    aws.set_clocks(
        "nearly-full",
        &[(first, fifteen_days_ago), (second, fifteen_days_ago)],
    )
    .await;
    let report = sweep(&aws).await;

    assert_eq!(key(&report, first).action, Action::Deleted);
    assert_eq!(key(&report, second).action, Action::Deleted);
    let state = state_of(&mut aws, "nearly-full");
    assert!(state.keys.is_empty(), "{:?}", state.keys);
    assert_eq!(
        state.tags,
        own_tags(49),
        "the state tag is gone, the 49 untouched"
    );
    assert_eq!(
        calls_of(&aws.calls(), "UntagUser"),
        1,
        "one UntagUser of the state tag"
    );
}

/// Moto forgets a user's tags when the user is renamed (it keys them by ARN); IAM keeps them.
/// The users renamed here have none, so the difference does not show.
async fn rename(aws: &Emulator, from: &str, to: &str) {
    aws.iam()
        .update_user()
        .user_name(from)
        .new_user_name(to)
        .send()
        .await
        .expect("UpdateUser");
}

#[tokio::test]
async fn a_user_renamed_before_the_event_is_remediated_under_the_new_name() {
    let mut aws = Emulator::start();
    let rita = aws
        .seed(json!([{ "name": "rita", "keys": [{ "ageDays": 120 }] }]))
        .remove("rita")
        .unwrap();
    rename(&aws, "rita", "rita-renamed").await;

    let report = event(&aws, &rita.user_id).await;

    assert_eq!(report.users[0].user_name, "rita-renamed");
    assert_eq!(key(&report, &rita.keys[0]).action, Action::Deactivated);
    let state = state_of(&mut aws, "rita-renamed");
    assert_eq!(state.keys[&rita.keys[0]], "Inactive");
    let clocks = state_entries(&state.tags);
    assert_taken_just_now(clocks[&rita.keys[0]]);
}

/// The rename lands between the function's read of the user and its write: the fault proxy
/// holds the answers back (1 s each), and the test renames the user while the answer to
/// GetAccessKeyLastUsed, the read's last call, is held. UpdateAccessKey then finds no user by
/// the old name; GetUser says the user is gone; the function finds the UserId again, under
/// the new name, and remediates there. The report names the new name, and claims no write
/// for the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_renamed_between_the_read_and_the_write_is_found_again_and_remediated() {
    let mut aws = Emulator::start();
    let rita = aws
        .seed(json!([{ "name": "rita", "keys": [{ "ageDays": 120 }] }]))
        .remove("rita")
        .unwrap();
    let mut proxy = FaultProxy::start(&aws.endpoint);
    proxy.command(json!({
        "op": "configure", "rate": 1.0, "seed": "1", "kinds": ["slow"], "slowSeconds": [1.0, 1.0],
    }));
    let remediator =
        startup::from_sdk_config(Settings::default(), &sdk_config_for(&proxy.endpoint));
    let payload = compliance_event(&rita.user_id);
    let invoked = tokio::spawn(async move { handle(&remediator, invocation(payload)).await });

    let waiting_since = Instant::now();
    while !proxy.stats().requests.contains_key("GetAccessKeyLastUsed") {
        assert!(
            waiting_since.elapsed() < StdDuration::from_secs(60),
            "the function never read the key's last use"
        );
        std::thread::sleep(StdDuration::from_millis(20));
    }
    let calls_before_the_write = aws.calls();
    assert_eq!(
        calls_of(&calls_before_the_write, "UpdateAccessKey"),
        0,
        "still reading"
    );
    rename(&aws, "rita", "rita-renamed").await;
    proxy.configure(0.0, 0, &[]);
    let report = invoked
        .await
        .expect("the invocation's task")
        .expect("a renamed user is no error");

    assert_eq!(report.users.len(), 1, "{report:?}");
    assert_eq!(report.users[0].user_name, "rita-renamed");
    assert_eq!(
        report.users[0].user_id.as_ref().map(|id| id.as_str()),
        Some(rita.user_id.as_str())
    );
    assert_eq!(key(&report, &rita.keys[0]).action, Action::Deactivated);
    let calls = aws.calls();
    assert_eq!(
        calls_of(&calls, "UpdateAccessKey"),
        2,
        "under the old name (NoSuchEntity), then the new: {calls:?}"
    );
    let state = aws.account_state();
    assert!(!state.contains_key("rita"));
    let renamed = &state["rita-renamed"];
    assert_eq!(renamed.keys[&rita.keys[0]], "Inactive");
    assert_taken_just_now(state_entries(&renamed.tags)[&rita.keys[0]]);
}

#[tokio::test]
async fn a_clock_dated_a_year_ahead_restarts_now_and_is_then_waited_on() {
    let mut aws = Emulator::start();
    let fiona = aws
        .seed(json!([{ "name": "fiona", "keys": [{ "ageDays": 150, "status": "Inactive" }] }]))
        .remove("fiona")
        .unwrap();
    let key_id = &fiona.keys[0];
    let a_year_ahead = OffsetDateTime::now_utc() + Duration::days(365);
    aws.set_clocks("fiona", &[(key_id, a_year_ahead)]).await;

    let report = event(&aws, &fiona.user_id).await;

    let decided = key(&report, key_id);
    assert_eq!(decided.action, Action::Marked);
    assert!(
        decided.reason.contains("is in the future"),
        "{}",
        decided.reason
    );
    let state = state_of(&mut aws, "fiona");
    assert_eq!(state.keys[key_id], "Inactive");
    let clocks = state_entries(&state.tags);
    assert_eq!(clocks.len(), 1, "{:?}", state.tags);
    assert_taken_just_now(clocks[key_id]);

    // Not pending forever, nor restarted again: the new clock is waited on.
    let writes_before = writes(&aws.calls());
    let report = event(&aws, &fiona.user_id).await;
    let decided = key(&report, key_id);
    assert_eq!(decided.action, Action::Pending);
    assert!(
        decided
            .reason
            .contains("0 days of the 14-day grace period passed"),
        "{}",
        decided.reason
    );
    assert_eq!(writes(&aws.calls()), writes_before);
    assert_eq!(state_of(&mut aws, "fiona"), state);
}

#[tokio::test]
async fn an_exemption_tag_in_mixed_case_exempts_and_nothing_is_written() {
    let mut aws = Emulator::start();
    let mixed = aws
        .seed(
            json!([{ "name": "mixed", "tags": { "Access-Key-Remediator:Exempt": "true" },
            "keys": [{ "ageDays": 400 },
                     { "ageDays": 300, "status": "Inactive", "markerDaysAgo": 60 }] }]),
        )
        .remove("mixed")
        .unwrap();
    let before = state_of(&mut aws, "mixed");
    let writes_before = writes(&aws.calls());

    let report = event(&aws, &mixed.user_id).await;

    assert!(report.users[0].exempt);
    for key_id in &mixed.keys {
        assert_eq!(key(&report, key_id).action, Action::Exempt);
    }
    assert_eq!(writes(&aws.calls()), writes_before, "{:?}", aws.calls());
    assert_eq!(
        state_of(&mut aws, "mixed"),
        before,
        "keys and tags as they were, the per-key marker not even folded in"
    );
}

#[tokio::test]
async fn per_key_markers_are_folded_into_the_state_tag_their_times_unchanged() {
    let mut aws = Emulator::start();
    let seeded = aws.seed(
        json!([{ "name": "migrating", "tags": { "team": "payments" },
        "keys": [{ "ageDays": 200, "status": "Inactive", "markerDaysAgo": 30 },
                 { "ageDays": 150, "status": "Inactive", "markerDaysAgo": 5 }] }]),
    );
    let user = &seeded["migrating"];
    let (past_grace, inside_grace) = (&user.keys[0], &user.keys[1]);
    let before = state_of(&mut aws, "migrating");
    let per_key = |id: &str| format!("{PER_KEY_MARKER_PREFIX}{id}");
    assert!(
        before.tags.contains_key(&per_key(past_grace))
            && before.tags.contains_key(&per_key(inside_grace)),
        "the seed writes the first format: {:?}",
        before.tags
    );
    let inside_grace_clock = grace_clocks(&before.tags)[inside_grace.as_str()].unwrap();

    let report = event(&aws, &user.user_id).await;

    assert_eq!(key(&report, past_grace).action, Action::Deleted);
    assert_eq!(key(&report, inside_grace).action, Action::Pending);
    let after = state_of(&mut aws, "migrating");
    assert_eq!(
        after.keys,
        BTreeMap::from([(inside_grace.clone(), "Inactive".to_owned())])
    );
    assert_eq!(
        after.tags.keys().collect::<Vec<_>>(),
        [STATE_TAG, "team"],
        "only the state tag is left of ours: {:?}",
        after.tags
    );
    assert_eq!(
        after.tags[STATE_TAG],
        format!("{inside_grace}={}", before.tags[&per_key(inside_grace)]),
        "the clock moved as it was"
    );
    assert_eq!(
        state_entries(&after.tags),
        BTreeMap::from([(inside_grace.clone(), inside_grace_clock)])
    );
    let calls = aws.calls();
    assert_eq!(
        (calls_of(&calls, "TagUser"), calls_of(&calls, "UntagUser")),
        (1, 1),
        "one TagUser of the state tag, one UntagUser of both per-key tags (the seed's are \
         not API calls): {calls:?}"
    );

    // Folded once: the next run writes nothing.
    let writes_before = writes(&aws.calls());
    let report = event(&aws, &user.user_id).await;
    assert_eq!(key(&report, inside_grace).action, Action::Pending);
    assert_eq!(writes(&aws.calls()), writes_before);
    assert_eq!(state_of(&mut aws, "migrating"), after);
}

/// The cases of this file, side by side in one sweep: each user's state in moto after it.
#[tokio::test]
async fn one_sweep_over_every_case_leaves_each_user_as_its_own_run_would() {
    let mut aws = Emulator::start();
    let seeded = aws.seed(Value::Array(vec![
        json!({ "name": "full", "tags": own_tags(50), "keys": [{ "ageDays": 120 }] }),
        json!({ "name": "nearly-full", "tags": own_tags(49),
                "keys": [{ "ageDays": 200 }, { "ageDays": 150 }] }),
        json!({ "name": "mixed", "tags": { "Access-Key-Remediator:Exempt": "true" },
                "keys": [{ "ageDays": 400 }] }),
        json!({ "name": "migrating", "keys": [
            { "ageDays": 200, "status": "Inactive", "markerDaysAgo": 30 },
            { "ageDays": 150, "status": "Inactive", "markerDaysAgo": 5 }] }),
    ]));
    let before = aws.account_state();

    let report = sweep(&aws).await;

    assert_eq!(report.summary.count(Action::Failed), 0, "{report:?}");
    let after = aws.account_state();
    assert_eq!(after["full"].tags, before["full"].tags);
    assert!(after["full"].keys.values().all(|s| s == "Inactive"));
    assert_eq!(own(&after["nearly-full"].tags), own_tags(49));
    assert_eq!(state_entries(&after["nearly-full"].tags).len(), 2);
    assert_eq!(after["mixed"], before["mixed"]);
    let migrating = &seeded["migrating"];
    assert_eq!(
        after["migrating"].keys.keys().collect::<Vec<_>>(),
        [&migrating.keys[1]]
    );
    assert_eq!(
        after["migrating"].tags.keys().collect::<Vec<_>>(),
        [STATE_TAG]
    );
}
