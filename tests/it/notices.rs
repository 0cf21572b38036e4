//! Owner notices through the pipeline, against the in-memory fakes: one per user warned,
//! deactivated or deleted, none in report mode, a failed send counted and never failing the
//! invocation, CloudTrail read within LookupEvents' 2 a second. End to end through moto's SNS
//! and SES: `notices/moto.rs`.

mod moto;

use std::time::{Duration, Instant};

use access_key_remediator::aws::accounts::AccountClients;
use access_key_remediator::aws::api_calls::ApiCallCounter;
use access_key_remediator::aws::fake::{FakeFindings, FakeIam, FakeInventory};
use access_key_remediator::aws::{KeyActivity, error_chain};
use access_key_remediator::domain::ids::AccessKeyId;
use access_key_remediator::domain::notice::{KeyCall, NoticeAction};
use access_key_remediator::domain::policy::{Mode, Policy};
use access_key_remediator::domain::user::KeyStatus;
use access_key_remediator::handler::handle;
use access_key_remediator::remediate::Remediator;
use access_key_remediator::report::{Action, Report};
use access_key_remediator::settings::{NoticeSettings, Settings};
use time::OffsetDateTime;

use crate::support::{fixture, invocation, keys_of};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:access-key-notices";
const ALICE_KEY: &str = "AKIAALICE00000000001";

fn days_ago(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::days(days)
}

fn notice_settings(mode: Mode, ses_from: Option<&str>) -> Settings {
    Settings {
        policy: Policy {
            mode,
            ..Policy::default()
        },
        notices: NoticeSettings {
            topic_arn: Some(TOPIC.to_owned()),
            ses_from: ses_from.map(str::to_owned),
            ..NoticeSettings::default()
        },
        ..Settings::default()
    }
}

/// alice (owner tag) and bob@example.com are over age, carol near it (warned), dave young,
/// erin exempt.
fn seed(iam: &FakeIam) {
    let (active, inactive) = (KeyStatus::Active, KeyStatus::Inactive);
    iam.add_user("alice", "AIDAALICE00000000001")
        .add_key("alice", ALICE_KEY, active, days_ago(120), Some(days_ago(2)))
        .set_tag("alice", "Owner", "team-a@example.com");
    iam.add_user("bob@example.com", "AIDABOB0000000000001")
        .add_key(
            "bob@example.com",
            "AKIABOB0000000000001",
            active,
            days_ago(100),
            None,
        );
    iam.add_user("carol", "AIDACAROL00000000001").add_key(
        "carol",
        "AKIACAROL00000000001",
        active,
        days_ago(86),
        Some(days_ago(1)),
    );
    iam.add_user("dave", "AIDADAVE000000000001")
        .add_key("dave", "AKIADAVE000000000001", active, days_ago(10), None)
        .add_key("dave", "AKIADAVE000000000002", inactive, days_ago(20), None);
    iam.add_user("erin", "AIDAERIN000000000001")
        .add_key("erin", "AKIAERIN000000000001", active, days_ago(400), None)
        .set_tag("erin", "access-key-remediator:exempt", "true");
}

fn alice_trail() -> Vec<KeyCall> {
    vec![KeyCall {
        at: days_ago(2),
        event_name: "ListBuckets".into(),
        event_source: Some("s3.amazonaws.com".into()),
        source_ip: Some("198.51.100.23".into()),
        user_agent: Some("aws-sdk-java/1.12.600".into()),
    }]
}

struct Account {
    iam: FakeIam,
    findings: FakeFindings,
    calls: ApiCallCounter,
    remediator: Remediator<FakeIam, FakeInventory, FakeFindings>,
}

fn account(settings: Settings, findings: FakeFindings, seed: fn(&FakeIam)) -> Account {
    let calls = ApiCallCounter::default();
    let iam = FakeIam::new().with_api_calls(calls.clone());
    seed(&iam);
    let findings = findings.with_api_calls(calls.clone());
    let clients = AccountClients {
        iam: iam.clone(),
        inventory: iam.inventory(),
        findings: findings.clone(),
    };
    let remediator = Remediator::new(settings, clients).with_api_call_counter(calls.clone());
    Account {
        iam,
        findings,
        calls,
        remediator,
    }
}

async fn sweep(account: &Account) -> Report {
    let event = invocation(fixture("scheduled-sweep.json"));
    handle(&account.remediator, event)
        .await
        .expect("the sweep succeeds")
}

#[tokio::test]
async fn one_notice_per_user_acted_on_or_warned_with_its_attributes_and_an_email_to_each_owner() {
    let findings = FakeFindings::default().with_trail(ALICE_KEY, alice_trail());
    let settings = notice_settings(Mode::Delete, Some("security@example.com"));
    let aws = account(settings, findings, seed);

    let report = sweep(&aws).await;

    let published = aws.findings.published();
    let mut told: Vec<(&str, Vec<NoticeAction>, Option<&str>)> = published
        .iter()
        .map(|(topic, notice)| {
            assert_eq!(topic, TOPIC);
            let attributes = &notice.attributes;
            assert_eq!(attributes.account, "123456789012");
            let owner = attributes.owner.as_deref();
            (attributes.user.as_str(), attributes.actions.clone(), owner)
        })
        .collect();
    told.sort();
    assert_eq!(
        told,
        vec![
            (
                "alice",
                vec![NoticeAction::Deactivated],
                Some("team-a@example.com")
            ),
            (
                "bob@example.com",
                vec![NoticeAction::Deactivated],
                Some("bob@example.com")
            ),
            ("carol", vec![NoticeAction::Warned], None),
        ]
    );
    let text_of = |user: &str| {
        let found = published.iter().find(|(_, n)| n.attributes.user == user);
        found.expect("a notice").1.text.clone()
    };
    let alice = text_of("alice");
    for fact in [
        "198.51.100.23",
        "aws-sdk-java/1.12.600",
        "ListBuckets",
        "s3 in us-east-1",
    ] {
        assert!(alice.contains(fact), "{fact:?} missing:\n{alice}");
    }
    assert!(text_of("bob@example.com").contains("no recent calls found"));

    let mut emailed: Vec<String> = aws.findings.emails().into_iter().map(|e| e.to).collect();
    emailed.sort();
    assert_eq!(emailed, ["bob@example.com", "team-a@example.com"]);

    assert_eq!((report.notices_sent, report.notices_failed), (3, 0));
    for user in &report.users {
        let expected = ["alice", "bob@example.com", "carol"].contains(&user.user_name.as_str());
        let notice = user.notice.as_ref();
        assert_eq!(
            notice.is_some_and(|n| n.sent),
            expected,
            "{}",
            user.user_name
        );
        assert!(notice.is_none_or(|n| n.message_id.is_some()));
    }
}

#[tokio::test]
async fn report_mode_sends_no_notice_and_reads_no_trail() {
    let aws = account(
        notice_settings(Mode::Report, Some("security@example.com")),
        FakeFindings::default(),
        seed,
    );

    let report = sweep(&aws).await;

    assert!(keys_of(&report).any(|key| key.action == Action::WouldDeactivate));
    assert!(aws.findings.published().is_empty());
    assert!(aws.findings.emails().is_empty());
    let calls = aws.calls.snapshot();
    for operation in ["LookupEvents", "Publish", "SendEmail"] {
        assert!(!calls.contains_key(operation), "{operation}: {calls:?}");
    }
    assert!(report.users.iter().all(|user| user.notice.is_none()));
}

#[tokio::test]
async fn a_failed_publish_is_counted_and_neither_undoes_nor_fails_the_remediation() {
    let findings = FakeFindings::default()
        .failing("Publish", "InternalErrorException")
        .failing("SendEmail", "MessageRejected");
    let aws = account(
        notice_settings(Mode::Delete, Some("security@example.com")),
        findings,
        seed,
    );

    let report = sweep(&aws).await;

    let alice = aws.iam.keys("alice");
    assert_eq!(
        alice[0].status,
        KeyStatus::Inactive,
        "deactivated all the same"
    );
    assert_eq!((report.notices_sent, report.notices_failed), (0, 3));
    let notice = report
        .users
        .iter()
        .find(|u| u.user_name == "alice")
        .unwrap();
    let notice = notice.notice.as_ref().expect("the notice was tried");
    assert!(!notice.sent && notice.message_id.is_none());
    assert!(
        notice
            .error
            .as_deref()
            .unwrap()
            .contains("InternalErrorException")
    );
    let email = notice.email.as_ref().expect("the email was tried");
    assert!(!email.sent && email.error.as_deref().unwrap().contains("MessageRejected"));

    let metrics = report.metric_lines(0);
    let line: serde_json::Value = serde_json::from_str(&metrics[0]).unwrap();
    assert_eq!(line["notices-failed"], 3, "{line}");
    assert_eq!(line["notices-sent"], 0, "{line}");
}

#[tokio::test]
async fn a_failed_lookup_is_said_in_the_notice_which_is_still_sent() {
    let findings = FakeFindings::default().failing("LookupEvents", "AccessDeniedException");
    let aws = account(notice_settings(Mode::Delete, None), findings, seed);

    let report = sweep(&aws).await;

    assert_eq!(report.notices_sent, 3);
    for (_, notice) in aws.findings.published() {
        assert!(
            notice.text.contains("CloudTrail could not be read"),
            "{}",
            notice.text
        );
        assert!(
            notice.text.contains("AccessDeniedException"),
            "{}",
            notice.text
        );
    }
}

#[tokio::test]
async fn without_a_topic_nothing_is_composed_looked_up_or_sent() {
    let aws = account(Settings::default(), FakeFindings::default(), seed);

    let report = sweep(&aws).await;

    assert!(aws.findings.published().is_empty());
    assert!(!aws.calls.snapshot().contains_key("LookupEvents"));
    assert!(report.users.iter().all(|user| user.notice.is_none()));
}

/// Five over-age users, each with one key: five lookups in one account.
fn five_over_age(iam: &FakeIam) {
    for n in 1..=5 {
        let (user, key) = (format!("user{n}"), format!("AKIAFIVE0000000000{n:02}"));
        iam.add_user(&user, &format!("AIDAFIVE0000000000{n:02}"))
            .add_key(&user, &key, KeyStatus::Active, days_ago(200), None);
    }
}

#[tokio::test]
async fn cloudtrail_lookups_keep_to_two_a_second_across_a_sweeps_users() {
    // The fake throttles a third lookup within a second, as CloudTrail does.
    let unlimited = FakeFindings::default();
    let key = AccessKeyId::parse(ALICE_KEY).unwrap();
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(
            unlimited
                .recent_calls(&key, 5)
                .await
                .map_err(|e| error_chain(&e)),
        );
    }
    assert!(
        answers[2]
            .as_ref()
            .is_err_and(|e| e.contains("ThrottlingException")),
        "{answers:?}"
    );

    let aws = account(
        notice_settings(Mode::Delete, None),
        FakeFindings::default(),
        five_over_age,
    );
    let started = Instant::now();
    let report = sweep(&aws).await;
    let took = started.elapsed();
    println!("5 users' CloudTrail lookups in one account took {took:?}");

    assert_eq!(report.notices_sent, 5);
    assert_eq!(
        aws.findings.lookups(),
        (5, 0),
        "five lookups, none throttled"
    );
    // One every half second: the fifth goes 2 s after the first.
    assert!(took >= Duration::from_millis(1950), "took {took:?}");
    for (_, notice) in aws.findings.published() {
        assert!(
            !notice.text.contains("could not be read"),
            "{}",
            notice.text
        );
    }
}

#[tokio::test]
async fn what_a_notice_costs_in_calls() {
    fn alice_only(iam: &FakeIam) {
        iam.add_user("alice", "AIDAALICE00000000001")
            .add_key("alice", ALICE_KEY, KeyStatus::Active, days_ago(120), None)
            .set_tag("alice", "owner", "team-a@example.com");
    }
    let quiet = account(Settings::default(), FakeFindings::default(), alice_only);
    let told = account(
        notice_settings(Mode::Delete, Some("security@example.com")),
        FakeFindings::default(),
        alice_only,
    );
    let (quiet, told) = (sweep(&quiet).await.api_calls, sweep(&told).await.api_calls);
    let mut extra = told.clone();
    extra.retain(|operation, count| quiet.get(operation) != Some(count));
    assert_eq!(
        extra.into_iter().collect::<Vec<_>>(),
        [
            ("LookupEvents".to_owned(), 1),
            ("Publish".to_owned(), 1),
            ("SendEmail".to_owned(), 1)
        ]
    );
}
