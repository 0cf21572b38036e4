//! The returned report's size: a scheduled sweep of a large account (the in-memory IAM, the
//! real Remediator and handler) returns a report within `Report::MAX_BYTES`, however many
//! users it acted on, and its summary still counts every one of them.
//!
//! Each case seeds two identical accounts: one is swept through `Remediator::run`, whose
//! report is the one the handler gets (before capping), the other through `handler::handle`,
//! whose report is the one Lambda returns. The sizes are printed:
//! `cargo test --test it report_size:: -- --nocapture`.

use access_key_remediator::aws::accounts::AccountClients;
use access_key_remediator::aws::accounts::HomeAccount;
use access_key_remediator::aws::api_calls::ApiCallCounter;
use access_key_remediator::aws::fake::{FakeFindings, FakeIam, FakeInventory};
use access_key_remediator::domain::policy::Policy;
use access_key_remediator::domain::user::KeyStatus;
use access_key_remediator::handler::handle;
use access_key_remediator::remediate::Remediator;
use access_key_remediator::report::{Action, Report};
use access_key_remediator::settings::Settings;
use access_key_remediator::triggers;
use lambda_runtime::{Context, LambdaEvent};
use time::{Duration, OffsetDateTime};

use crate::support::fixture;

/// The function as deployed in the account the fake IAM holds (and the fixture names).
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:access-key-remediator";

/// One in this many users has an Active key over the 90-day limit, as in `make bench`.
const OVER_AGE_ONE_IN: u32 = 10;

/// An account of `users` users with one key each, like `make bench`'s: every tenth (10%) an
/// Active key 91 to 1,000 days old, used in the last 30 days; the rest a young key. Returns
/// the number of over-age users.
fn seed(iam: &FakeIam, users: u32, now: OffsetDateTime) -> u32 {
    let width = users.saturating_sub(1).to_string().len().max(5);
    // A fixed pseudo-random sequence, so the two accounts of a case are alike.
    let mut state: u64 = 1;
    let mut next = |below: u32| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        u32::try_from((state >> 33) % u64::from(below)).expect("below a u32")
    };
    let mut over_age = 0;
    for n in 0..users {
        let name = format!("bench-user-{n:0width$}");
        iam.add_user(&name, &format!("AIDABENCH{n:012}"));
        let (age, used) = if n % OVER_AGE_ONE_IN == OVER_AGE_ONE_IN / 2 {
            over_age += 1;
            (91 + next(910), next(31))
        } else {
            let age = 1 + next(89);
            (age, next(age + 1))
        };
        let days = |d: u32| now - Duration::days(i64::from(d));
        let key = format!("AKIABENCH{n:011}");
        iam.add_key(&name, &key, KeyStatus::Active, days(age), Some(days(used)));
    }
    over_age
}

/// The deployed settings, with a budget for every over-age key, so each is acted on.
fn every_key_acted_on() -> Settings {
    Settings {
        policy: Policy {
            max_actions_per_invocation: u32::MAX,
            // The young keys near the limit would be warned: this test is about deactivations.
            warn_before_days: 0,
            ..Policy::default()
        },
        ..Settings::default()
    }
}

fn remediator(
    users: u32,
    now: OffsetDateTime,
) -> (Remediator<FakeIam, FakeInventory, FakeFindings>, u32) {
    let calls = ApiCallCounter::default();
    let iam = FakeIam::new().with_api_calls(calls.clone());
    let over_age = seed(&iam, users, now);
    let inventory = FakeInventory::empty().with_api_calls(calls.clone());
    let clients = AccountClients {
        iam,
        inventory,
        findings: FakeFindings::default(),
    };
    let remediator = Remediator::new(every_key_acted_on(), clients).with_api_call_counter(calls);
    (remediator, over_age)
}

fn bytes(report: &Report) -> usize {
    serde_json::to_vec(report)
        .expect("a report serializes")
        .len()
}

/// Sweeps two accounts of `users` users: the report before the cap, and as returned.
async fn sweep(users: u32) -> (u32, Report, Report) {
    let now = OffsetDateTime::now_utc();
    let (pipeline, over_age) = remediator(users, now);
    let work = triggers::classify(fixture("scheduled-sweep.json")).expect("a sweep");
    let home = HomeAccount::from_function_arn(FUNCTION_ARN);
    let outcome = pipeline
        .run(work, None, home)
        .await
        .expect("the sweep runs");
    assert!(outcome.failure.is_none(), "{:?}", outcome.failure);

    let (lambda, _) = remediator(users, now);
    let mut context = Context::default();
    context.invoked_function_arn = FUNCTION_ARN.to_owned();
    let event = LambdaEvent::new(fixture("scheduled-sweep.json"), context);
    let returned = handle(&lambda, event).await.expect("the sweep succeeds");
    (over_age, outcome.report, returned)
}

async fn the_report_of_a_sweep_stays_within_the_limit(users: u32) {
    let (over_age, before, after) = sweep(users).await;
    let (before_bytes, after_bytes) = (bytes(&before), bytes(&after));
    println!(
        "report bytes, sweep of {users} users ({over_age} over age, all deactivated): \
         {before_bytes} before the cap, {after_bytes} returned ({} users in it, {} left out)",
        after.users.len(),
        after.omitted_users
    );

    assert!(
        before_bytes > Report::MAX_BYTES,
        "the case must need the cap"
    );
    assert!(after_bytes < 200_000, "{after_bytes} bytes returned");
    // The summary and the call counts are those of the whole sweep.
    assert_eq!(after.summary, before.summary);
    assert_eq!(after.summary.count(Action::Deactivated), over_age);
    let keys: u32 = Action::ALL.iter().map(|a| after.summary.count(*a)).sum();
    assert_eq!(keys, over_age, "one key per nominee, each counted once");
    assert_eq!(after.api_calls, before.api_calls);
    // Whole users, each as the sweep reported it, and a count of the rest.
    assert_eq!(before.users.len(), over_age as usize);
    assert_eq!(after.users.len() + after.omitted_users, over_age as usize);
    assert!(after.users.iter().all(|user| before.users.contains(user)));
    let json: serde_json::Value = serde_json::to_value(&after).expect("JSON");
    assert_eq!(json["omittedUsers"], after.omitted_users);
    assert_eq!(json["trigger"], "sweep");
}

#[tokio::test]
async fn a_sweep_of_10_000_users_returns_a_report_within_the_limit() {
    the_report_of_a_sweep_stays_within_the_limit(10_000).await;
}

/// About 13 s in a debug build on 2 cores (two sweeps of 10,000 nominees each).
#[tokio::test]
async fn a_sweep_of_100_000_users_returns_a_report_within_the_limit() {
    the_report_of_a_sweep_stays_within_the_limit(100_000).await;
}
