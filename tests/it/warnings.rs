//! Warnings before action through the pipeline: the daily sweep finds an Active key within
//! WARN_BEFORE_DAYS of its limit and warns once, the warning recorded in the user's state tag;
//! the sweeps after it warn no more. Against the in-memory IAM (every write counted), and once
//! end to end against moto through the real SDK.

use access_key_remediator::aws::accounts::AccountClients;
use access_key_remediator::aws::api_calls::ApiCallCounter;
use access_key_remediator::aws::fake::{
    ErrorKind, FakeFindings, FakeIam, FakeInventory, Fault, Write,
};
use access_key_remediator::domain::marker::STATE_TAG_KEY;
use access_key_remediator::domain::policy::{Mode, Policy};
use access_key_remediator::domain::user::KeyStatus;
use access_key_remediator::handler::handle;
use access_key_remediator::remediate::Remediator;
use access_key_remediator::report::{Action, Report};
use access_key_remediator::settings::Settings;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::support::audit::STATE_TAG;
use crate::support::{Emulator, fixture, invocation, keys_of, settings};

const ERIN_ID: &str = "AIDAZ4ERINEXAMPLE0005";
/// 86 days old: 4 days from the 90-day age limit, inside the 7-day window.
const NEAR_KEY: &str = "AKIAZ4ERINNEARKEY0001";
const YOUNG_KEY: &str = "AKIAZ4ERINYOUNGKEY002";
const ROTATED_KEY: &str = "AKIAZ4ERINROTATED0003";
const FRANK_ID: &str = "AIDAZ4FRANKEXAMPLE006";
const OVER_KEY: &str = "AKIAZ4FRANKOVERKEY001";

fn days_ago(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - Duration::days(days)
}

/// erin: a key near the age limit, used yesterday, and a young one.
fn erin(iam: &FakeIam) {
    iam.add_user("erin", ERIN_ID);
    iam.add_key(
        "erin",
        NEAR_KEY,
        KeyStatus::Active,
        days_ago(86),
        Some(days_ago(1)),
    );
    iam.add_key("erin", YOUNG_KEY, KeyStatus::Active, days_ago(10), None);
}

/// frank: one key over the age limit, to be deactivated.
fn frank(iam: &FakeIam) {
    iam.add_user("frank", FRANK_ID);
    iam.add_key(
        "frank",
        OVER_KEY,
        KeyStatus::Active,
        days_ago(120),
        Some(days_ago(1)),
    );
}

struct Account {
    iam: FakeIam,
    remediator: Remediator<FakeIam, FakeInventory, FakeFindings>,
}

impl Account {
    fn new(settings: Settings, seed: &[fn(&FakeIam)]) -> Account {
        let calls = ApiCallCounter::default();
        let iam = FakeIam::new().with_api_calls(calls.clone());
        for seed in seed {
            seed(&iam);
        }
        let clients = AccountClients {
            iam: iam.clone(),
            inventory: iam.inventory().with_api_calls(calls.clone()),
            findings: FakeFindings::default().with_api_calls(calls.clone()),
        };
        let remediator = Remediator::new(settings, clients).with_api_call_counter(calls);
        Account { iam, remediator }
    }

    async fn sweep(&self) -> Report {
        handle(
            &self.remediator,
            invocation(fixture("scheduled-sweep.json")),
        )
        .await
        .expect("the sweep succeeds")
    }

    /// Every TagUser of the state tag so far, as (user, value).
    fn state_writes(&self) -> Vec<(String, String)> {
        self.iam
            .writes()
            .into_iter()
            .filter_map(|write| match write {
                Write::Tagged { user, key, value } if key == STATE_TAG_KEY => Some((user, value)),
                _ => None,
            })
            .collect()
    }
}

fn action_of(report: &Report, key_id: &str) -> Option<(Action, String)> {
    keys_of(report)
        .find(|k| k.access_key_id == *key_id)
        .map(|k| (k.action, k.reason.clone()))
}

#[tokio::test]
async fn three_sweeps_in_a_row_warn_exactly_once() {
    let account = Account::new(Settings::default(), &[erin]);

    let mut warned = Vec::new();
    let mut actions = Vec::new();
    for _ in 0..3 {
        let report = account.sweep().await;
        warned.push(report.summary.count(Action::Warned));
        actions.push(action_of(&report, NEAR_KEY).expect("erin is nominated").0);
    }

    assert_eq!(warned, [1, 0, 0]);
    assert_eq!(actions, [Action::Warned, Action::Kept, Action::Kept]);
    // One write in all: the warning's record, alone in the state tag. No key was touched.
    let writes = account.state_writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(account.iam.writes().len(), 1, "{:?}", account.iam.writes());
    let (user, value) = &writes[0];
    assert_eq!(user, "erin");
    assert!(
        value.starts_with(&format!("warned:{NEAR_KEY}=")) && !value.contains(' '),
        "{value}"
    );
    assert!(
        account
            .iam
            .keys("erin")
            .iter()
            .all(|k| k.status == KeyStatus::Active)
    );
    let kept = account.sweep().await;
    let (_, reason) = action_of(&kept, NEAR_KEY).unwrap();
    assert!(reason.contains("; warned at "), "{reason}");
}

#[tokio::test]
async fn the_warned_key_rotated_by_its_owner_needs_nothing_more() {
    let account = Account::new(Settings::default(), &[erin]);
    account.sweep().await;
    assert_eq!(account.state_writes().len(), 1);

    // The owner rotates: a new key, the warned one deleted (the user made again without it,
    // tags kept, so no write of the function's is recorded).
    let tags = account.iam.tags("erin");
    account.iam.delete_user("erin");
    account.iam.add_user("erin", ERIN_ID);
    account
        .iam
        .add_key("erin", YOUNG_KEY, KeyStatus::Active, days_ago(10), None)
        .add_key("erin", ROTATED_KEY, KeyStatus::Active, days_ago(0), None);
    for (key, value) in &tags {
        account.iam.set_tag("erin", key, value);
    }

    for _ in 0..2 {
        let report = account.sweep().await;
        assert!(
            report.users.is_empty(),
            "nobody to look at: {:?}",
            report.users
        );
        assert_eq!(report.summary.count(Action::Warned), 0);
    }
    assert_eq!(
        account.iam.writes().len(),
        1,
        "only the first warning's record"
    );
}

#[tokio::test]
async fn warnings_do_not_spend_the_action_cap_and_come_after_deactivations() {
    let capped = Settings {
        policy: Policy {
            max_actions_per_invocation: 1,
            ..Policy::default()
        },
        sweep_concurrency: 1,
        ..Settings::default()
    };
    let account = Account::new(capped, &[erin, frank]);

    let report = account.sweep().await;

    assert_eq!(action_of(&report, OVER_KEY).unwrap().0, Action::Deactivated);
    assert_eq!(action_of(&report, NEAR_KEY).unwrap().0, Action::Warned);
    // frank's deactivation came first: the sweep takes over-limit users before warnings.
    let writes = account.iam.writes();
    assert!(
        matches!(&writes[0], Write::Deactivated { user, .. } if user == "frank"),
        "{writes:?}"
    );
}

#[tokio::test]
async fn report_mode_previews_the_warning_and_records_nothing() {
    let account = Account::new(settings(Mode::Report), &[erin]);

    for _ in 0..3 {
        let report = account.sweep().await;
        assert_eq!(action_of(&report, NEAR_KEY).unwrap().0, Action::WouldWarn);
        assert_eq!(report.summary.count(Action::Warned), 0);
    }
    assert!(
        account.iam.writes().is_empty(),
        "{:?}",
        account.iam.writes()
    );
    assert!(account.iam.tags("erin").is_empty());
}

#[tokio::test]
async fn a_warning_whose_record_failed_is_sent_by_the_next_sweep() {
    let account = Account::new(Settings::default(), &[erin]);
    account
        .iam
        .fail(Fault::on("TagUser", ErrorKind::AccessDenied).once());

    let refused = handle(
        &account.remediator,
        invocation(fixture("scheduled-sweep.json")),
    )
    .await;
    assert!(refused.is_err(), "a failed write fails the invocation");
    assert!(account.iam.writes().is_empty());

    let report = account.sweep().await;
    assert_eq!(action_of(&report, NEAR_KEY).unwrap().0, Action::Warned);
    assert_eq!(account.state_writes().len(), 1);
}

#[tokio::test]
async fn a_refused_record_reports_the_key_failed_not_warned() {
    let account = Account::new(Settings::default(), &[erin]);
    account
        .iam
        .fail(Fault::on("TagUser", ErrorKind::AccessDenied));
    let work = access_key_remediator::triggers::classify(fixture("scheduled-sweep.json"))
        .expect("a sweep");

    let outcome = account
        .remediator
        .run(work, None, crate::support::home())
        .await
        .expect("the pipeline's report");

    let (action, reason) = action_of(&outcome.report, NEAR_KEY).unwrap();
    assert_eq!(action, Action::Failed);
    assert!(
        reason.contains("not warned: recording the warning failed"),
        "{reason}"
    );
    assert_eq!(outcome.report.summary.count(Action::Warned), 0);
    assert!(outcome.failure.is_some());
    assert!(account.iam.writes().is_empty());
}

/// End to end: moto's IAM, its credential report and the real SDK stack.
#[tokio::test]
async fn three_sweeps_against_the_emulator_warn_once() {
    let mut aws = Emulator::start();
    let users = aws.seed(json!([
        { "name": "erin", "keys": [{ "ageDays": 86, "lastUsedDaysAgo": 1 }, { "ageDays": 10 }] },
        { "name": "young", "keys": [{ "ageDays": 30 }] },
    ]));
    let near = &users["erin"].keys[0];
    let remediator = aws.remediator(Settings::default());

    let mut warned = Vec::new();
    for _ in 0..3 {
        let report = handle(&remediator, invocation(fixture("scheduled-sweep.json")))
            .await
            .expect("the sweep succeeds");
        warned.push(report.summary.count(Action::Warned));
    }

    assert_eq!(warned, [1, 0, 0]);
    let calls = aws.calls();
    assert_eq!(
        calls.get("TagUser"),
        Some(&1),
        "counted at the server: {calls:?}"
    );
    assert_eq!(calls.get("UpdateAccessKey"), None);
    let tags = aws.tags("erin").await;
    let state = tags.get(STATE_TAG).expect("the state tag");
    assert!(state.starts_with(&format!("warned:{near}=")), "{state}");
    assert!(aws.key_states("erin").await.values().all(|s| s == "Active"));
}
