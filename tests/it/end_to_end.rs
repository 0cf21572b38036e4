//! End to end: the handler, its real SDK clients and HTTP stack, against moto started by each
//! test. State is read back through IAM; what was called is counted by the emulator itself.

use std::collections::BTreeMap;

use access_key_remediator::domain::policy::{Mode, Policy};
use access_key_remediator::handler::{HandlerError, handle};
use access_key_remediator::remediate::outcome::{RemediationError, error_chain};
use access_key_remediator::report::{Action, Outcome, Report};
use access_key_remediator::settings::Settings;
use serde_json::{Value, json};

use crate::support::audit::{STATE_TAG, grace_clocks, is_marker_tag};
use crate::support::{Emulator, compliance_event, fixture, invocation, keys_of, settings, writes};

async fn run(
    emulator: &Emulator,
    settings: Settings,
    payload: Value,
) -> Result<Report, HandlerError> {
    let remediator = emulator.remediator(settings);
    handle(&remediator, invocation(payload)).await
}

fn actions(report: &Report) -> BTreeMap<String, String> {
    keys_of(report)
        .map(|k| {
            let action = serde_json::to_value(k.action).unwrap();
            (
                k.access_key_id.to_string(),
                action.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// How long ago the key's grace clock was written, read from its entry in the user's state
/// tag (`<AccessKeyId>=<RFC 3339>`, space-separated), the one format the function writes.
fn marker_age_seconds(tags: &BTreeMap<String, String>, key_id: &str) -> i64 {
    let state = tags
        .get(STATE_TAG)
        .unwrap_or_else(|| panic!("no state tag: {tags:?}"));
    let value = state
        .split(' ')
        .find_map(|entry| entry.strip_prefix(&format!("{key_id}=")))
        .unwrap_or_else(|| panic!("no clock for {key_id} in {state:?}"));
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .expect("marker is RFC 3339");
    (time::OffsetDateTime::now_utc() - at).whole_seconds()
}

#[tokio::test]
async fn an_over_age_active_key_is_deactivated_and_marked_while_the_young_key_is_kept() {
    let mut aws = Emulator::start();
    let alice = aws
        .seed(json!([{ "name": "alice", "path": "/engineering/",
        "keys": [{ "ageDays": 120, "lastUsedDaysAgo": 2 }, { "ageDays": 10 }] }]))
        .remove("alice")
        .unwrap();
    let (old, young) = (&alice.keys[0], &alice.keys[1]);

    let report = run(&aws, Settings::default(), compliance_event(&alice.user_id))
        .await
        .unwrap();

    assert_eq!(report.outcome, Outcome::Remediated);
    assert_eq!(
        actions(&report),
        BTreeMap::from([
            (old.clone(), "deactivated".into()),
            (young.clone(), "kept".into())
        ])
    );
    let states = aws.key_states("alice").await;
    assert_eq!(states[old], "Inactive");
    assert_eq!(states[young], "Active");
    let tags = aws.tags("alice").await;
    assert!(
        (0..120).contains(&marker_age_seconds(&tags, old)),
        "{tags:?}"
    );
    assert!(
        !grace_clocks(&tags).contains_key(young.as_str()),
        "{tags:?}"
    );
    assert_eq!(report.summary.count(Action::Deactivated), 1);
}

#[tokio::test]
async fn an_inactive_key_past_its_grace_period_is_deleted_and_its_marker_removed() {
    let mut aws = Emulator::start();
    let carol = aws.seed(json!([{ "name": "carol", "tags": { "team": "data" },
        "keys": [{ "ageDays": 200, "status": "Inactive", "lastUsedDaysAgo": 45, "markerDaysAgo": 20 }] }]))
        .remove("carol")
        .unwrap();

    let report = run(&aws, Settings::default(), compliance_event(&carol.user_id))
        .await
        .unwrap();

    assert_eq!(actions(&report)[&carol.keys[0]], "deleted");
    assert!(aws.key_states("carol").await.is_empty());
    assert_eq!(
        aws.tags("carol").await,
        BTreeMap::from([("team".to_owned(), "data".to_owned())]),
        "the marker goes, other tags stay"
    );
}

#[tokio::test]
async fn an_inactive_over_age_key_without_a_marker_is_marked_not_deleted() {
    let mut aws = Emulator::start();
    let dave = aws
        .seed(json!([{ "name": "dave",
        "keys": [{ "ageDays": 300, "status": "Inactive" }] }]))
        .remove("dave")
        .unwrap();

    let report = run(&aws, Settings::default(), compliance_event(&dave.user_id))
        .await
        .unwrap();

    assert_eq!(actions(&report)[&dave.keys[0]], "marked");
    assert_eq!(aws.key_states("dave").await[&dave.keys[0]], "Inactive");
    assert!((0..120).contains(&marker_age_seconds(&aws.tags("dave").await, &dave.keys[0])));
}

#[tokio::test]
async fn a_key_inside_its_grace_period_is_pending_and_untouched() {
    let mut aws = Emulator::start();
    let erin = aws
        .seed(json!([{ "name": "erin",
        "keys": [{ "ageDays": 150, "status": "Inactive" }] }]))
        .remove("erin")
        .unwrap();
    // The clock as the function writes it today. (The seed's `markerDaysAgo` writes the
    // per-key format, which the function would fold into this one: see clocks.rs.)
    let five_days_ago = time::OffsetDateTime::now_utc() - time::Duration::days(5);
    aws.set_clocks("erin", &[(&erin.keys[0], five_days_ago)])
        .await;
    let tags_before = aws.tags("erin").await;
    let writes_before = writes(&aws.calls());

    let report = run(&aws, Settings::default(), compliance_event(&erin.user_id))
        .await
        .unwrap();

    assert_eq!(actions(&report)[&erin.keys[0]], "pending");
    assert_eq!(aws.key_states("erin").await[&erin.keys[0]], "Inactive");
    assert_eq!(aws.tags("erin").await, tags_before);
    assert_eq!(writes(&aws.calls()), writes_before);
}

#[tokio::test]
async fn an_exempt_user_is_not_touched_at_all() {
    let mut aws = Emulator::start();
    let bob = aws.seed(json!([{ "name": "bob",
        "tags": { "access-key-remediator:exempt": "true" },
        "keys": [{ "ageDays": 400 }, { "ageDays": 300, "status": "Inactive", "markerDaysAgo": 60 }] }]))
        .remove("bob")
        .unwrap();

    let report = run(&aws, Settings::default(), compliance_event(&bob.user_id))
        .await
        .unwrap();

    assert!(report.users[0].exempt);
    assert!(
        actions(&report).values().all(|a| a == "exempt"),
        "{report:?}"
    );
    assert_eq!(writes(&aws.calls()), 0);
    let states = aws.key_states("bob").await;
    assert_eq!(states[&bob.keys[0]], "Active");
    assert_eq!(states[&bob.keys[1]], "Inactive");
}

#[tokio::test]
async fn an_exemption_whose_date_has_passed_no_longer_protects_the_user() {
    let mut aws = Emulator::start();
    let frank = aws
        .seed(json!([{ "name": "frank",
        "tags": { "access-key-remediator:exempt": "2026-01-31" },
        "keys": [{ "ageDays": 400 }] }]))
        .remove("frank")
        .unwrap();

    let report = run(&aws, Settings::default(), compliance_event(&frank.user_id))
        .await
        .unwrap();

    assert!(!report.users[0].exempt);
    assert_eq!(actions(&report)[&frank.keys[0]], "deactivated");
    assert_eq!(aws.key_states("frank").await[&frank.keys[0]], "Inactive");
}

#[tokio::test]
async fn report_mode_previews_every_action_and_makes_no_iam_write() {
    let mut aws = Emulator::start();
    let seeded = aws.seed(json!([{ "name": "gina",
        "keys": [{ "ageDays": 120 }, { "ageDays": 200, "status": "Inactive", "markerDaysAgo": 30 }] }]));
    let gina = &seeded["gina"];
    let states_before = aws.key_states("gina").await;
    let tags_before = aws.tags("gina").await;

    let report = run(
        &aws,
        settings(Mode::Report),
        compliance_event(&gina.user_id),
    )
    .await
    .unwrap();

    assert_eq!(
        actions(&report),
        BTreeMap::from([
            (gina.keys[0].clone(), "would-deactivate".into()),
            (gina.keys[1].clone(), "would-delete".into()),
        ])
    );
    assert_eq!(writes(&aws.calls()), 0, "{:?}", aws.calls());
    assert_eq!(aws.key_states("gina").await, states_before);
    assert_eq!(aws.tags("gina").await, tags_before);
}

#[tokio::test]
async fn deactivate_mode_deactivates_but_never_deletes() {
    let mut aws = Emulator::start();
    let seeded = aws.seed(json!([{ "name": "hank",
        "keys": [{ "ageDays": 120 }, { "ageDays": 200, "status": "Inactive", "markerDaysAgo": 30 }] }]));
    let hank = &seeded["hank"];

    let report = run(
        &aws,
        settings(Mode::Deactivate),
        compliance_event(&hank.user_id),
    )
    .await
    .unwrap();

    assert_eq!(actions(&report)[&hank.keys[0]], "deactivated");
    assert_eq!(actions(&report)[&hank.keys[1]], "pending");
    assert_eq!(aws.key_states("hank").await.len(), 2);
    assert_eq!(aws.calls().get("DeleteAccessKey"), None);
}

#[tokio::test]
async fn an_idle_young_key_is_deactivated_when_the_idle_rule_is_on() {
    let mut aws = Emulator::start();
    let ivy = aws.seed(json!([{ "name": "ivy",
        "keys": [{ "ageDays": 70, "lastUsedDaysAgo": 65 }, { "ageDays": 5, "lastUsedDaysAgo": 1 }] }]))
        .remove("ivy")
        .unwrap();
    let idle = Settings {
        policy: Policy {
            max_key_idle_days: Some(60),
            ..Policy::default()
        },
        ..Settings::default()
    };

    let report = run(&aws, idle, compliance_event(&ivy.user_id))
        .await
        .unwrap();

    assert_eq!(actions(&report)[&ivy.keys[0]], "deactivated");
    assert_eq!(actions(&report)[&ivy.keys[1]], "kept");
    assert!(report.users[0].keys[0].reason.contains("idle"));
}

#[tokio::test]
async fn actions_past_the_cap_are_deferred_and_left_alone() {
    let mut aws = Emulator::start();
    let jack = aws
        .seed(json!([{ "name": "jack",
        "keys": [{ "ageDays": 300 }, { "ageDays": 200 }] }]))
        .remove("jack")
        .unwrap();
    let capped = Settings {
        policy: Policy {
            max_actions_per_invocation: 1,
            ..Policy::default()
        },
        ..Settings::default()
    };

    let report = run(&aws, capped, compliance_event(&jack.user_id))
        .await
        .unwrap();

    assert_eq!(
        actions(&report)[&jack.keys[0]],
        "deactivated",
        "oldest first"
    );
    assert_eq!(actions(&report)[&jack.keys[1]], "deferred");
    assert_eq!(aws.key_states("jack").await[&jack.keys[1]], "Active");
}

#[tokio::test]
async fn the_same_event_delivered_twice_changes_nothing_the_second_time() {
    let mut aws = Emulator::start();
    let kim = aws.seed(json!([{ "name": "kim",
        "keys": [{ "ageDays": 120 }, { "ageDays": 200, "status": "Inactive", "markerDaysAgo": 30 }] }]))
        .remove("kim")
        .unwrap();
    let event = compliance_event(&kim.user_id);

    let first = run(&aws, Settings::default(), event.clone()).await.unwrap();
    let states = aws.key_states("kim").await;
    let tags = aws.tags("kim").await;
    let writes_after_first = writes(&aws.calls());

    let second = run(&aws, Settings::default(), event).await.unwrap();

    assert_eq!(actions(&first)[&kim.keys[0]], "deactivated");
    assert_eq!(actions(&first)[&kim.keys[1]], "deleted");
    assert_eq!(actions(&second)[&kim.keys[0]], "pending");
    assert_eq!(aws.key_states("kim").await, states);
    assert_eq!(aws.tags("kim").await, tags);
    assert_eq!(
        writes(&aws.calls()),
        writes_after_first,
        "no write on re-delivery"
    );
}

#[tokio::test]
async fn concurrent_deliveries_of_one_event_all_succeed_and_end_in_the_single_delivery_state() {
    let mut aws = Emulator::start();
    let seeded = aws.seed(json!([{ "name": "lee",
        "keys": [{ "ageDays": 120 }, { "ageDays": 200, "status": "Inactive", "markerDaysAgo": 30 }] }]));
    let lee = &seeded["lee"];
    let remediators: Vec<_> = (0..3)
        .map(|_| aws.remediator(Settings::default()))
        .collect();
    let event = compliance_event(&lee.user_id);

    let results = futures::future::join_all(
        remediators
            .iter()
            .map(|r| handle(r, invocation(event.clone()))),
    )
    .await;

    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let states = aws.key_states("lee").await;
    assert_eq!(
        states,
        BTreeMap::from([(lee.keys[0].clone(), "Inactive".to_owned())])
    );
    let tags = aws.tags("lee").await;
    assert_eq!(
        tags.len(),
        1,
        "one tag, the state tag, holding one clock, for the deactivated key: {tags:?}"
    );
    let clocks = grace_clocks(&tags);
    assert!(tags.contains_key(STATE_TAG), "{tags:?}");
    assert_eq!(
        clocks.keys().collect::<Vec<_>>(),
        [&lee.keys[0]],
        "{tags:?}"
    );
}

#[tokio::test]
async fn a_user_deleted_before_the_event_is_handled_is_reported_gone_without_error() {
    let mut aws = Emulator::start();
    let mona = aws
        .seed(json!([{ "name": "mona", "keys": [{ "ageDays": 120 }] }]))
        .remove("mona")
        .unwrap();
    let iam = aws.iam();
    iam.delete_access_key()
        .user_name("mona")
        .access_key_id(&mona.keys[0])
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name("mona").send().await.unwrap();
    let writes_before = writes(&aws.calls());

    let report = run(&aws, Settings::default(), compliance_event(&mona.user_id))
        .await
        .unwrap();

    assert_eq!(report.outcome, Outcome::UserNotFound);
    assert!(report.reason.unwrap().contains(&mona.user_id));
    assert_eq!(writes(&aws.calls()), writes_before);
}

#[tokio::test]
async fn a_malformed_event_is_an_error_naming_the_field_and_calls_no_aws_api() {
    let mut aws = Emulator::start();
    aws.seed(json!([{ "name": "nina", "keys": [{ "ageDays": 120 }] }]));
    let calls_before = aws.calls();

    let error = run(
        &aws,
        Settings::default(),
        fixture("malformed-missing-resource-id.json"),
    )
    .await
    .unwrap_err();

    assert!(error.to_string().contains("detail.resourceId"), "{error}");
    assert_eq!(aws.calls(), calls_before, "no AWS call at all");
    assert_eq!(
        aws.key_states("nina").await.values().next().unwrap(),
        "Active"
    );
}

#[tokio::test]
async fn a_compliance_change_without_an_account_is_refused_and_calls_no_aws_api() {
    let mut aws = Emulator::start();
    let nina = aws
        .seed(json!([{ "name": "nina", "keys": [{ "ageDays": 120 }] }]))
        .remove("nina")
        .unwrap();
    let mut event = compliance_event(&nina.user_id);
    event.as_object_mut().unwrap().remove("account");
    let calls_before = aws.calls();

    let error = run(&aws, Settings::default(), event).await.unwrap_err();

    assert!(matches!(error, HandlerError::Intake(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("malformed event: account"), "{message}");
    assert_eq!(aws.calls(), calls_before, "no AWS call at all");
    assert_eq!(aws.key_states("nina").await[&nina.keys[0]], "Active");
    assert!(!aws.tags("nina").await.keys().any(|tag| is_marker_tag(tag)));
}

#[tokio::test]
async fn events_that_need_no_action_are_reported_ignored_and_call_no_aws_api() {
    let mut aws = Emulator::start();
    let calls_before = aws.calls();
    for name in [
        "compliant-alice.json",
        "other-rule.json",
        "non-user-resource.json",
    ] {
        let report = run(&aws, Settings::default(), fixture(name)).await.unwrap();
        assert_eq!(report.outcome, Outcome::Ignored, "{name}");
        assert!(
            !report.reason.unwrap_or_default().is_empty(),
            "{name} needs a reason"
        );
    }
    // Only another rule's event asks what that rule is, once: Config must say it is not
    // ACCESS_KEYS_ROTATED before its event is ignored.
    let mut expected = calls_before;
    *expected
        .entry("DescribeConfigRules".to_owned())
        .or_default() += 1;
    assert_eq!(aws.calls(), expected);
}

#[tokio::test]
async fn users_with_paths_and_punctuation_in_their_names_are_found_and_remediated() {
    let mut aws = Emulator::start();
    let name = "svc+deploy=ci,bot.o@corp-1";
    let seeded = aws.seed(json!([{ "name": name, "path": "/automation/ci/",
        "keys": [{ "ageDays": 120 }] }]));
    let user = &seeded[name];

    let report = run(&aws, Settings::default(), compliance_event(&user.user_id))
        .await
        .unwrap();

    assert_eq!(report.users[0].user_name, name);
    assert_eq!(aws.key_states(name).await[&user.keys[0]], "Inactive");
}

#[tokio::test]
async fn a_legacy_event_without_evaluation_mode_is_acted_on() {
    let mut aws = Emulator::start();
    let seeded = aws.seed(json!([{ "name": "carol", "userId": "AIDAZ4CAROLEXAMPLE003",
        "keys": [{ "ageDays": 95 }] }]));

    let report = run(
        &aws,
        Settings::default(),
        fixture("non-compliant-carol-legacy.json"),
    )
    .await
    .unwrap();

    assert_eq!(actions(&report)[&seeded["carol"].keys[0]], "deactivated");
}

#[tokio::test]
async fn a_write_iam_refuses_marks_that_key_failed_finishes_the_rest_and_fails_the_invocation() {
    let mut aws = Emulator::start();
    let olga = aws
        .seed(json!([{ "name": "olga", "keys": [{ "ageDays": 300 }, { "ageDays": 200 }] }]))
        .remove("olga")
        .unwrap();
    // AccessDenied is not retryable, so the SDK gives up at once, as it would in AWS.
    aws.command(
        json!({ "op": "fail", "action": "UpdateAccessKey", "times": 1,
        "status": 403, "code": "AccessDenied" }),
    );
    let event = compliance_event(&olga.user_id);

    let error = run(&aws, Settings::default(), event.clone())
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            HandlerError::Remediation(RemediationError::Incomplete { failed: 1, .. })
        ),
        "{error}"
    );
    let message = error_chain(&error);
    assert!(
        message.contains("UpdateAccessKey") && message.contains("AccessDenied"),
        "{message}"
    );
    let states = aws.key_states("olga").await;
    assert_eq!(
        states[&olga.keys[0]], "Active",
        "the refused key is untouched"
    );
    assert_eq!(
        states[&olga.keys[1]], "Inactive",
        "the other key was still deactivated"
    );

    // Lambda retries the event; this time IAM allows it.
    let retry = run(&aws, Settings::default(), event).await.unwrap();
    assert_eq!(actions(&retry)[&olga.keys[0]], "deactivated");
    assert_eq!(actions(&retry)[&olga.keys[1]], "pending");
}
