//! The Access Analyzer trigger: an unused-key finding names its key only through
//! GetFindingV2, and the key is acted on only when IAM's own last-use date agrees with the
//! idle limit (MAX_KEY_IDLE_DAYS, else the analyzer's `unusedAccessAge`).

use access_key_remediator::domain::policy::{Mode, Policy};
use access_key_remediator::handler::HandlerError;
use access_key_remediator::report::{Action, Outcome, SourceKind};
use access_key_remediator::settings::Settings;
use serde_json::{Value, json};

use super::{actions, call_map, run};
use crate::support::triggers::unused_key_event;
use crate::support::{Emulator, SeededUser, keys_of, settings, writes};

const FINDING: &str = "4f2a9c1e-8b3d-4e5f-a6b7-c8d9e0f1a2b3";

/// dave: a key unused for `named_last_used` days, which the finding names, and an over-age
/// key in use, which it does not; the analyzer (unusedAccessAge 90) and its finding.
fn seed_dave(aws: &mut Emulator, named_last_used: u32) -> SeededUser {
    let dave = aws
        .seed(json!([{ "name": "dave", "keys": [
            { "ageDays": 300, "lastUsedDaysAgo": named_last_used },
            { "ageDays": 120, "lastUsedDaysAgo": 1 },
        ] }]))
        .remove("dave")
        .unwrap();
    aws.analyzer(Some(90));
    aws.analyzer_finding(json!({ "id": FINDING, "userName": "dave",
        "accessKeyId": dave.keys[0], "lastAccessedDaysAgo": 200 }));
    dave
}

#[tokio::test]
async fn an_unused_key_finding_deactivates_that_key_alone_by_the_analyzers_unused_access_age() {
    let mut aws = Emulator::start();
    let dave = seed_dave(&mut aws, 200);
    let remediator = aws.remediator(Settings::default());

    let report = run(&remediator, unused_key_event("dave", FINDING))
        .await
        .unwrap();

    let (named, other) = (&dave.keys[0], &dave.keys[1]);
    assert_eq!(
        actions(&report),
        [
            (named.clone(), Action::Deactivated),
            (other.clone(), Action::Kept)
        ]
        .into()
    );
    let kept = keys_of(&report)
        .find(|k| k.access_key_id == **other)
        .unwrap();
    assert!(kept.reason.contains("not the key"), "{}", kept.reason);
    let states = aws.key_states("dave").await;
    assert_eq!(states[named], "Inactive");
    assert_eq!(
        states[other], "Active",
        "over age, but not this event's key"
    );
    let source = report.source.as_ref().unwrap();
    assert_eq!(source.kind, SourceKind::AccessAnalyzer);
    assert_eq!(source.subject.as_deref(), Some(named.as_str()));
    assert!(
        source
            .recognised
            .as_deref()
            .unwrap()
            .contains("over 90 days")
    );
    // One event's cost: the finding and its analyzer's setting, then as for any user by
    // name (the snapshot reads every key's last use, the other key's too).
    assert_eq!(
        report.api_calls,
        call_map(&[
            ("GetAccessKeyLastUsed", 2),
            ("GetAnalyzer", 1),
            ("GetFindingV2", 1),
            ("GetUser", 1),
            ("ListAccessKeys", 1),
            ("ListUserTags", 1),
            ("TagUser", 1),
            ("UpdateAccessKey", 1),
        ])
    );

    // Re-delivered: nothing written, and the analyzer's setting is not asked again.
    let again = run(&remediator, unused_key_event("dave", FINDING))
        .await
        .unwrap();
    assert_eq!(actions(&again)[named], Action::Pending);
    assert_eq!(writes(&again.api_calls), 0);
    assert!(!again.api_calls.contains_key("GetAnalyzer"));
    assert_eq!(aws.key_writes().len(), 1);
}

#[tokio::test]
async fn a_key_our_own_reading_says_was_used_recently_is_kept() {
    let mut aws = Emulator::start();
    let dave = seed_dave(&mut aws, 5);

    let report = run(
        &aws.remediator(Settings::default()),
        unused_key_event("dave", FINDING),
    )
    .await
    .unwrap();

    assert_eq!(actions(&report)[&dave.keys[0]], Action::Kept);
    assert_eq!(writes(&aws.calls()), 0);
    assert_eq!(aws.key_states("dave").await[&dave.keys[0]], "Active");
}

#[tokio::test]
async fn max_key_idle_days_is_the_limit_when_set_and_the_analyzer_is_not_asked() {
    let mut aws = Emulator::start();
    let dave = seed_dave(&mut aws, 50);
    let idle = Settings {
        policy: Policy {
            max_key_idle_days: Some(45),
            ..Policy::default()
        },
        ..Settings::default()
    };

    let report = run(&aws.remediator(idle), unused_key_event("dave", FINDING))
        .await
        .unwrap();

    assert_eq!(actions(&report)[&dave.keys[0]], Action::Deactivated);
    assert!(!aws.calls().contains_key("GetAnalyzer"));
}

#[tokio::test]
async fn a_finding_gone_or_no_longer_active_is_ignored_with_a_reason_and_no_write() {
    let mut aws = Emulator::start();
    let dave = seed_dave(&mut aws, 200);
    aws.analyzer_finding(json!({ "id": "resolved-finding", "userName": "dave",
        "accessKeyId": dave.keys[0], "status": "RESOLVED" }));
    let remediator = aws.remediator(Settings::default());

    for (finding, says) in [
        ("no-such-finding", "no longer has the finding"),
        ("resolved-finding", "now RESOLVED"),
    ] {
        let report = run(&remediator, unused_key_event("dave", finding))
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Ignored, "{finding}");
        let reason = report.reason.unwrap_or_default();
        assert!(reason.contains(says), "{finding}: {reason}");
        assert_eq!(
            report.api_calls,
            call_map(&[("GetFindingV2", 1)]),
            "{finding}"
        );
    }
    assert_eq!(writes(&aws.calls()), 0);
}

/// The sample event with its detail changed by `change`.
fn with_detail(change: impl FnOnce(&mut Value)) -> Value {
    let mut event = unused_key_event("dave", FINDING);
    change(&mut event["detail"]);
    event
}

#[tokio::test]
async fn other_finding_types_and_statuses_in_the_event_are_ignored_at_no_cost() {
    let mut aws = Emulator::start();
    seed_dave(&mut aws, 200);
    let remediator = aws.remediator(Settings::default());
    let before = aws.calls();

    for (name, event, says) in [
        (
            "password",
            with_detail(|d| d["findingType"] = json!("UnusedIAMUserPassword")),
            "UnusedIAMUserPassword",
        ),
        (
            "archived",
            with_detail(|d| d["status"] = json!("ARCHIVED")),
            "ARCHIVED",
        ),
        (
            "deleted",
            with_detail(|d| d["isDeleted"] = json!(true)),
            "deleted",
        ),
    ] {
        let report = run(&remediator, event).await.unwrap();
        assert_eq!(report.outcome, Outcome::Ignored, "{name}");
        let reason = report.reason.unwrap_or_default();
        assert!(reason.contains(says), "{name}: {reason}");
        assert!(report.api_calls.is_empty(), "{name}");
    }
    assert_eq!(aws.calls(), before, "no AWS call at all");
}

#[tokio::test]
async fn a_malformed_unused_access_event_is_refused_naming_the_field_with_no_aws_call() {
    let mut aws = Emulator::start();
    seed_dave(&mut aws, 200);
    let no_finding = with_detail(|d| {
        d.as_object_mut().unwrap().remove("findingId");
    });
    let mut no_analyzer = unused_key_event("dave", FINDING);
    no_analyzer["resources"] = json!([]);
    let not_a_user = with_detail(|d| d["resource"] = json!("arn:aws:iam::123456789012:role/ci"));
    let remediator = aws.remediator(Settings::default());
    let before = aws.calls();

    for (event, field) in [
        (no_finding, "findingId"),
        (no_analyzer, "resources[0]"),
        (not_a_user, "detail.resource"),
    ] {
        let error = run(&remediator, event).await.unwrap_err();
        assert!(matches!(error, HandlerError::Intake(_)), "{error:?}");
        assert!(error.to_string().contains(field), "{error}");
    }
    assert_eq!(aws.calls(), before, "no AWS call at all");
}

#[tokio::test]
async fn report_mode_reads_the_finding_and_writes_nothing() {
    let mut aws = Emulator::start();
    let dave = seed_dave(&mut aws, 200);

    let report = run(
        &aws.remediator(settings(Mode::Report)),
        unused_key_event("dave", FINDING),
    )
    .await
    .unwrap();

    assert_eq!(actions(&report)[&dave.keys[0]], Action::WouldDeactivate);
    assert_eq!(writes(&aws.calls()), 0);
    assert_eq!(aws.key_states("dave").await[&dave.keys[0]], "Active");
}
