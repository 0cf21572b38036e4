//! The Security Hub trigger: a FAILED IAM.3 or IAM.8 finding remediates its user, and the
//! finding is then closed (RESOLVED) or marked NOTIFIED with BatchUpdateFindings, read back
//! from the emulator's Security Hub.

use access_key_remediator::domain::policy::{Mode, Policy};
use access_key_remediator::handler::HandlerError;
use access_key_remediator::remediate::outcome::RemediationError;
use access_key_remediator::report::{Action, Outcome, Report, SourceKind};
use access_key_remediator::settings::Settings;
use serde_json::{Value, json};

use super::{actions, call_map, calls_between, run};
use crate::support::triggers::finding_of;
use crate::support::{Emulator, fixture, settings, writes};

const ALICE_ID: &str = "AIDAZ4ALICEEXAMPLE001";

/// alice as the sample finding names her: an over-age key and a young one.
pub(super) fn seed_alice(aws: &mut Emulator, keys: Value) -> Vec<String> {
    aws.seed(
        json!([{ "name": "alice", "path": "/engineering/", "userId": ALICE_ID, "keys": keys }]),
    )
    .remove("alice")
    .unwrap()
    .keys
}

fn finding_id(event: &Value) -> String {
    finding_of(event)["Id"].as_str().unwrap().to_owned()
}

fn update_of(report: &Report) -> &access_key_remediator::report::FindingUpdateReport {
    let source = report
        .source
        .as_ref()
        .expect("the report names the finding");
    assert_eq!(source.kind, SourceKind::SecurityHub);
    source.finding_update.as_ref().expect("a planned update")
}

#[tokio::test]
async fn an_iam3_finding_deactivates_the_over_age_key_and_resolves_the_finding() {
    let mut aws = Emulator::start();
    let keys = seed_alice(
        &mut aws,
        json!([{ "ageDays": 120, "lastUsedDaysAgo": 2 }, { "ageDays": 10, "lastUsedDaysAgo": 1 }]),
    );
    let event = fixture("security-hub-iam3.json");
    aws.import_finding(&event);
    let remediator = aws.remediator(Settings::default());

    let report = run(&remediator, event.clone()).await.unwrap();

    assert_eq!(
        actions(&report),
        [
            (keys[0].clone(), Action::Deactivated),
            (keys[1].clone(), Action::Kept)
        ]
        .into()
    );
    assert_eq!(aws.key_states("alice").await[&keys[0]], "Inactive");
    let update = update_of(&report);
    assert_eq!((update.status, update.written), (Some("RESOLVED"), true));
    let updates = aws.finding_updates();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert!(updates[0].found);
    assert_eq!(
        updates[0].account, "123456789012",
        "in the finding's account"
    );
    assert_eq!(updates[0].id, finding_id(&event));
    assert_eq!(updates[0].product_arn, finding_of(&event)["ProductArn"]);
    assert_eq!(updates[0].workflow_status.as_deref(), Some("RESOLVED"));
    assert_eq!(
        updates[0].updated_by.as_deref(),
        Some("access-key-remediator")
    );
    let note = updates[0].note.clone().unwrap();
    assert!(note.contains(&format!("{} inactive", keys[0])), "{note}");
    assert!(!note.contains(&keys[1]), "the kept key is not news: {note}");
    let held = aws.security_hub_finding(&finding_id(&event));
    assert_eq!(held["Workflow"]["Status"], "RESOLVED");
    assert_eq!(held["Note"]["UpdatedBy"], "access-key-remediator");
    assert_eq!(held["Note"]["Text"], note.as_str());
    // One event's cost: the user by name, its keys, last uses and tags, two IAM writes, and
    // the finding's update.
    assert_eq!(
        report.api_calls,
        call_map(&[
            ("BatchUpdateFindings", 1),
            ("GetAccessKeyLastUsed", 2),
            ("GetUser", 1),
            ("ListAccessKeys", 1),
            ("ListUserTags", 1),
            ("TagUser", 1),
            ("UpdateAccessKey", 1),
        ])
    );

    // Lambda delivers the same event again: no IAM write, no error, the same words.
    let again = run(&remediator, event).await.unwrap();
    assert_eq!(actions(&again)[&keys[0]], Action::Pending);
    assert_eq!(writes(&again.api_calls), 0);
    assert_eq!(aws.key_writes().len(), 1, "one UpdateAccessKey in all");
    assert_eq!(update_of(&again).note.as_deref(), Some(note.as_str()));
}

#[tokio::test]
async fn our_own_update_coming_back_as_an_imported_event_is_ignored_at_no_cost() {
    let mut aws = Emulator::start();
    seed_alice(&mut aws, json!([{ "ageDays": 120 }]));
    let event = fixture("security-hub-iam3.json");
    aws.import_finding(&event);
    let remediator = aws.remediator(Settings::default());
    run(&remediator, event.clone()).await.unwrap();
    // Security Hub sends the finding again, as BatchUpdateFindings left it.
    let mut echo = event;
    echo["detail"]["findings"][0] = aws.security_hub_finding(&finding_id(&echo));
    let before = aws.calls();

    let report = run(&remediator, echo).await.unwrap();

    assert_eq!(report.outcome, Outcome::Ignored);
    assert!(report.reason.unwrap().contains("RESOLVED"));
    assert!(report.api_calls.is_empty());
    assert_eq!(aws.calls(), before);
}

#[tokio::test]
async fn an_iam8_finding_acts_on_an_idle_key_when_max_key_idle_days_is_set() {
    let mut aws = Emulator::start();
    let dave = aws
        .seed(json!([{ "name": "dave", "userId": "AIDAZ4DAVEEXAMPLE0004",
            "keys": [{ "ageDays": 80, "lastUsedDaysAgo": 60 }, { "ageDays": 30, "lastUsedDaysAgo": 1 }] }]))
        .remove("dave")
        .unwrap();
    let event = fixture("security-hub-iam8.json");
    aws.import_finding(&event);

    let without_idle = run(&aws.remediator(Settings::default()), event.clone())
        .await
        .unwrap();

    assert!(
        actions(&without_idle).values().all(|a| *a == Action::Kept),
        "{without_idle:?}"
    );
    let left = update_of(&without_idle);
    assert!(!left.written && left.status.is_none());
    assert!(
        left.reason.as_deref().unwrap().contains("limits"),
        "{left:?}"
    );
    assert!(aws.finding_updates().is_empty());

    let idle = Settings {
        policy: Policy {
            max_key_idle_days: Some(45),
            ..Policy::default()
        },
        ..Settings::default()
    };
    let report = run(&aws.remediator(idle), event.clone()).await.unwrap();

    assert_eq!(actions(&report)[&dave.keys[0]], Action::Deactivated);
    assert_eq!(actions(&report)[&dave.keys[1]], Action::Kept);
    assert_eq!(aws.key_states("dave").await[&dave.keys[0]], "Inactive");
    assert_eq!(update_of(&report).status, Some("RESOLVED"));
    let held = aws.security_hub_finding(&finding_id(&event));
    assert_eq!(held["Workflow"]["Status"], "RESOLVED");
}

#[tokio::test]
async fn a_finding_naming_the_user_by_its_arn_alone_is_acted_on() {
    let mut aws = Emulator::start();
    let keys = seed_alice(&mut aws, json!([{ "ageDays": 120 }]));
    // No Details: the user is the last segment of the ARN, its path dropped.
    let event = with_finding(|f| {
        f["Resources"][0].as_object_mut().unwrap().remove("Details");
    });
    aws.import_finding(&event);

    let report = run(&aws.remediator(Settings::default()), event)
        .await
        .unwrap();

    assert_eq!(report.users[0].user_name, "alice");
    assert_eq!(actions(&report)[&keys[0]], Action::Deactivated);
    assert_eq!(update_of(&report).status, Some("RESOLVED"));
}

/// The sample IAM.3 event with its finding changed by `change`.
pub(super) fn with_finding(change: impl FnOnce(&mut Value)) -> Value {
    let mut event = fixture("security-hub-iam3.json");
    change(&mut event["detail"]["findings"][0]);
    event
}

#[tokio::test]
async fn report_mode_writes_neither_to_iam_nor_to_the_finding() {
    let mut aws = Emulator::start();
    let keys = seed_alice(&mut aws, json!([{ "ageDays": 120 }]));
    let event = fixture("security-hub-iam3.json");
    aws.import_finding(&event);

    let report = run(&aws.remediator(settings(Mode::Report)), event.clone())
        .await
        .unwrap();

    assert_eq!(actions(&report)[&keys[0]], Action::WouldDeactivate);
    let update = update_of(&report);
    assert!(!update.written);
    assert!(
        update.status.is_some() && update.note.is_some(),
        "{update:?}"
    );
    assert!(
        update.reason.as_deref().unwrap().contains("report"),
        "{update:?}"
    );
    assert_eq!(writes(&aws.calls()), 0);
    assert!(!aws.calls().contains_key("BatchUpdateFindings"));
    assert!(aws.finding_updates().is_empty());
    let held = aws.security_hub_finding(&finding_id(&event));
    assert_eq!(held["Workflow"]["Status"], "NEW");
}

#[tokio::test]
async fn when_the_action_cap_defers_a_key_the_finding_is_notified_not_resolved() {
    let mut aws = Emulator::start();
    let keys = seed_alice(&mut aws, json!([{ "ageDays": 300 }, { "ageDays": 200 }]));
    let event = fixture("security-hub-iam3.json");
    aws.import_finding(&event);
    let capped = Settings {
        policy: Policy {
            max_actions_per_invocation: 1,
            ..Policy::default()
        },
        ..Settings::default()
    };

    let remediator = aws.remediator(capped);

    let report = run(&remediator, event.clone()).await.unwrap();

    let done = actions(&report);
    assert_eq!(
        done.values().filter(|a| **a == Action::Deactivated).count(),
        1
    );
    assert_eq!(done.values().filter(|a| **a == Action::Deferred).count(), 1);
    let states = aws.key_states("alice").await;
    assert_eq!(
        keys.iter().filter(|k| states[*k] == "Active").count(),
        1,
        "{states:?}"
    );
    assert_eq!(update_of(&report).status, Some("NOTIFIED"));
    let held = aws.security_hub_finding(&finding_id(&event));
    assert_eq!(held["Workflow"]["Status"], "NOTIFIED");
    let note = held["Note"]["Text"].as_str().unwrap();
    assert!(
        note.contains(" inactive") && note.contains(" still active"),
        "{note}"
    );

    // The NOTIFIED finding comes back as an Imported event: the deferred key's turn now.
    let mut echo = event;
    echo["detail"]["findings"][0] = held;
    let report = run(&remediator, echo).await.unwrap();

    assert_eq!(
        actions(&report)
            .values()
            .filter(|a| **a == Action::Deactivated)
            .count(),
        1
    );
    assert!(
        aws.key_states("alice")
            .await
            .values()
            .all(|s| s == "Inactive")
    );
    assert_eq!(update_of(&report).status, Some("RESOLVED"));
}

#[tokio::test]
async fn a_failed_finding_update_fails_the_invocation_and_its_retry_does_not_remediate_again() {
    let mut aws = Emulator::start();
    let keys = seed_alice(&mut aws, json!([{ "ageDays": 120 }]));
    // Not imported: Security Hub answers FindingNotFound.
    let event = fixture("security-hub-iam3.json");
    let remediator = aws.remediator(Settings::default());

    let error = run(&remediator, event.clone()).await.unwrap_err();

    assert!(
        matches!(
            error,
            HandlerError::Remediation(RemediationError::FindingUpdate { .. })
        ),
        "{error:?}"
    );
    let message = access_key_remediator::remediate::outcome::error_chain(&error);
    assert!(message.contains("FindingNotFound"), "{message}");
    assert_eq!(aws.key_states("alice").await[&keys[0]], "Inactive");

    // Lambda retries the event, and the finding is there now.
    aws.import_finding(&event);
    let before = aws.calls();
    let retry = run(&remediator, event).await.unwrap();

    assert_eq!(actions(&retry)[&keys[0]], Action::Pending);
    assert_eq!(writes(&calls_between(&before, &aws.calls())), 0);
    assert_eq!(update_of(&retry).status, Some("RESOLVED"));
    assert!(update_of(&retry).written);
}

#[tokio::test]
async fn an_exempt_users_finding_is_left_to_the_security_team_and_a_deleted_users_resolved() {
    let mut aws = Emulator::start();
    aws.seed(
        json!([{ "name": "alice", "path": "/engineering/", "userId": ALICE_ID,
        "tags": { "access-key-remediator:exempt": "true" }, "keys": [{ "ageDays": 400 }] }]),
    );
    let event = fixture("security-hub-iam3.json");
    aws.import_finding(&event);
    let remediator = aws.remediator(Settings::default());

    let exempt = run(&remediator, event.clone()).await.unwrap();

    assert!(exempt.users[0].exempt);
    let left = update_of(&exempt);
    assert!(!left.written && left.status.is_none(), "{left:?}");
    assert!(
        left.reason.as_deref().unwrap().contains("exempt"),
        "{left:?}"
    );
    assert!(aws.finding_updates().is_empty());
    assert_eq!(writes(&aws.calls()), 0);

    let iam = aws.iam();
    for key in aws.key_states("alice").await.keys() {
        let delete = iam
            .delete_access_key()
            .user_name("alice")
            .access_key_id(key);
        delete.send().await.unwrap();
    }
    iam.untag_user()
        .user_name("alice")
        .tag_keys("access-key-remediator:exempt")
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name("alice").send().await.unwrap();

    let gone = run(&remediator, event.clone()).await.unwrap();

    assert_eq!(gone.outcome, Outcome::UserNotFound);
    assert_eq!(update_of(&gone).status, Some("RESOLVED"));
    let held = aws.security_hub_finding(&finding_id(&event));
    assert_eq!(held["Workflow"]["Status"], "RESOLVED");
    assert!(
        held["Note"]["Text"]
            .as_str()
            .unwrap()
            .contains("no longer exists")
    );
}
