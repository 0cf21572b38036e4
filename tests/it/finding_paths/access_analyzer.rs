//! An Access Analyzer unused-key finding: the function reads the finding (GetFindingV2, in the
//! analyzer's account), which names the key, and acts on that key alone, only when its own
//! reading of the key's last use agrees it has been idle past MAX_KEY_IDLE_DAYS, or else past
//! the analyzer's own `unusedAccessAge` (GetAnalyzer, once per analyzer per container).

use access_key_remediator::aws::UnusedKeyFinding;
use access_key_remediator::aws::fake::FakeIam;
use access_key_remediator::domain::ids::AccessKeyId;
use access_key_remediator::domain::policy::{Mode, Policy};
use access_key_remediator::domain::user::KeyStatus;
use access_key_remediator::report::{Action, Outcome, Report, SourceKind};
use access_key_remediator::settings::Settings;

use super::{
    ANALYZER_FINDING, Account, Fakes, HOME, MEMBER, MEMBER_ROLE, NEWER_KEY, OLD_KEY, actions,
    alice_with_key, analyzer_arn, calls, days_ago, deactivation_of, error_type, settings,
    unused_key_event,
};

const USER_ARN: &str = "arn:aws:iam::123456789012:user/alice";

/// What GetFindingV2 answers for an ACTIVE finding naming `key`, unused for 200 days.
fn names(key: &str) -> UnusedKeyFinding {
    UnusedKeyFinding {
        finding_type: "UnusedIAMUserAccessKey".to_owned(),
        status: "ACTIVE".to_owned(),
        resource: Some(USER_ARN.to_owned()),
        access_key_id: Some(AccessKeyId::parse(key).expect("a valid key id")),
        last_accessed: Some(days_ago(200)),
    }
}

/// alice's key, last used `idle` days ago by IAM's own reading (created 300 days ago).
fn idle_for(iam: &FakeIam, idle: i64) {
    alice_with_key(iam, OLD_KEY, KeyStatus::Active, 300, Some(idle));
}

fn idle_200(iam: &FakeIam) {
    idle_for(iam, 200);
}

/// The home account's analyzer (`unusedAccessAge` 90) with `finding` as ANALYZER_FINDING.
fn analyzer_with(fakes: Fakes, finding: Option<UnusedKeyFinding>) -> Fakes {
    let arn = analyzer_arn(HOME);
    fakes.findings(|findings| {
        let findings = findings.with_analyzer(&arn, 90);
        match finding {
            Some(finding) => findings.with_finding(&arn, ANALYZER_FINDING, finding),
            None => findings,
        }
    })
}

fn event() -> serde_json::Value {
    unused_key_event(HOME, HOME, ANALYZER_FINDING)
}

fn action_of(report: &Report, key: &str) -> (Action, String) {
    let found = crate::support::keys_of(report).find(|k| k.access_key_id == *key);
    let key = found.unwrap_or_else(|| panic!("{key} in {report:?}"));
    (key.action, key.reason.clone())
}

#[tokio::test]
async fn a_finding_that_no_longer_names_an_active_unused_key_is_ignored_after_one_read() {
    let retyped = UnusedKeyFinding {
        finding_type: "UnusedIAMUserPassword".to_owned(),
        access_key_id: None,
        ..names(OLD_KEY)
    };
    let cases = [
        ("gone", None, "the analyzer no longer has the finding"),
        (
            "resolved",
            Some(UnusedKeyFinding {
                status: "RESOLVED".to_owned(),
                ..names(OLD_KEY)
            }),
            "the finding is now RESOLVED, not ACTIVE",
        ),
        (
            "another type",
            Some(retyped),
            "now of type \"UnusedIAMUserPassword\"",
        ),
        (
            "no key",
            Some(UnusedKeyFinding {
                access_key_id: None,
                ..names(OLD_KEY)
            }),
            "the finding names no access key",
        ),
    ];
    for (case, finding, reason) in cases {
        let account = Account::new(
            Settings::default(),
            analyzer_with(Fakes::seeded(idle_200), finding),
        );

        let report = account.invoke(event()).await.expect("ignored is no error");

        assert_eq!(report.outcome, Outcome::Ignored, "{case}");
        let why = report.reason.as_deref().unwrap_or_default();
        assert!(why.contains(reason), "{case}: {why}");
        let source = report
            .source
            .as_ref()
            .expect("the report names the finding");
        assert_eq!(source.kind, SourceKind::AccessAnalyzer, "{case}");
        assert_eq!(source.id, ANALYZER_FINDING, "{case}");
        assert_eq!(
            report.api_calls,
            calls(&[("GetFindingV2", 1)]),
            "{case}: nothing but the finding read"
        );
        assert_eq!(account.home.writes(), Vec::<String>::new(), "{case}");
    }
}

#[tokio::test]
async fn only_the_named_key_is_deactivated_when_our_own_reading_finds_it_idle() {
    let seed = |iam: &FakeIam| {
        idle_200(iam);
        // Over age, used yesterday: the age rule's business, not this finding's.
        alice_with_key(iam, NEWER_KEY, KeyStatus::Active, 150, Some(1));
    };
    let account = Account::new(
        Settings::default(),
        analyzer_with(Fakes::seeded(seed), Some(names(OLD_KEY))),
    );

    let report = account
        .invoke(event())
        .await
        .expect("the key is deactivated");

    assert_eq!(account.home.writes(), deactivation_of(OLD_KEY));
    assert_eq!(action_of(&report, OLD_KEY).0, Action::Deactivated);
    let (action, reason) = action_of(&report, NEWER_KEY);
    assert_eq!(action, Action::Kept);
    assert!(
        reason.contains("not the key the unused-access finding names"),
        "{reason}"
    );
    let source = report.source.as_ref().expect("a source");
    assert_eq!(source.subject.as_deref(), Some(OLD_KEY));
    let why = source.recognised.as_deref().unwrap_or_default();
    assert!(
        why.contains("over 90 days"),
        "the analyzer's age is the limit: {why}"
    );
    for read in ["GetFindingV2", "GetAnalyzer", "GetAccessKeyLastUsed"] {
        assert!(
            report.api_calls.contains_key(read),
            "{read} in {:?}",
            report.api_calls
        );
    }
}

/// (IAM's last use in days, MAX_KEY_IDLE_DAYS) → acted on or kept; the analyzer says 200 days
/// unused and its `unusedAccessAge` is 90. Never the analyzer's word alone.
#[tokio::test]
async fn the_idle_limit_is_max_key_idle_days_else_the_analyzers_own_age() {
    let cases = [
        (200, None, Action::Deactivated),
        (5, None, Action::Kept),
        (60, None, Action::Kept),
        (60, Some(30), Action::Deactivated),
        (20, Some(30), Action::Kept),
    ];
    for (idle, max_idle, expected) in cases {
        let case = format!("used {idle} days ago, MAX_KEY_IDLE_DAYS={max_idle:?}");
        let settings = Settings {
            policy: Policy {
                max_key_idle_days: max_idle,
                ..Policy::default()
            },
            ..Settings::default()
        };
        let seed = move |iam: &FakeIam| idle_for(iam, idle);
        let account = Account::new(
            settings,
            analyzer_with(Fakes::seeded(seed), Some(names(OLD_KEY))),
        );

        let report = account
            .invoke(event())
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));

        assert_eq!(action_of(&report, OLD_KEY).0, expected, "{case}");
        let wanted = match expected {
            Action::Deactivated => deactivation_of(OLD_KEY),
            _ => Vec::new(),
        };
        assert_eq!(account.home.writes(), wanted, "{case}");
        let analyzer_calls = u64::from(max_idle.is_none());
        assert_eq!(account.calls_of("GetAnalyzer"), analyzer_calls, "{case}");
    }
}

#[tokio::test]
async fn an_analyzer_without_an_unused_access_age_is_held_to_the_default_of_90_days() {
    for (idle, expected) in [(100, Action::Deactivated), (60, Action::Kept)] {
        let arn = analyzer_arn(HOME);
        let seed = move |iam: &FakeIam| idle_for(iam, idle);
        let fakes = Fakes::seeded(seed)
            .findings(|f| f.with_finding(&arn, ANALYZER_FINDING, names(OLD_KEY)));
        let account = Account::new(Settings::default(), fakes);

        let report = account.invoke(event()).await.unwrap();

        assert_eq!(
            action_of(&report, OLD_KEY).0,
            expected,
            "used {idle} days ago"
        );
    }
}

#[tokio::test]
async fn the_analyzers_age_is_read_once_per_analyzer_per_container() {
    let arn = analyzer_arn(HOME);
    let seed = |iam: &FakeIam| {
        idle_200(iam);
        alice_with_key(iam, NEWER_KEY, KeyStatus::Active, 250, Some(150));
    };
    let fakes = Fakes::seeded(seed).findings(|f| {
        f.with_analyzer(&arn, 90)
            .with_finding(&arn, ANALYZER_FINDING, names(OLD_KEY))
            .with_finding(&arn, "second-finding", names(NEWER_KEY))
    });
    let account = Account::new(Settings::default(), fakes);

    let first = account.invoke(event()).await.unwrap();
    let second = account
        .invoke(unused_key_event(HOME, HOME, "second-finding"))
        .await
        .unwrap();

    assert_eq!(first.api_calls.get("GetAnalyzer"), Some(&1));
    assert_eq!(
        second.api_calls.get("GetAnalyzer"),
        None,
        "{:?}",
        second.api_calls
    );
    assert_eq!(account.calls_of("GetAnalyzer"), 1);
    assert_eq!(
        actions(&second),
        [
            (OLD_KEY.to_owned(), Action::Kept),
            (NEWER_KEY.to_owned(), Action::Deactivated),
        ],
        "the second finding's key, by the age read for the first"
    );
}

#[tokio::test]
async fn an_unreadable_finding_fails_the_invocation_before_any_iam_call() {
    for (failing, calls_made) in [
        ("GetFindingV2", calls(&[("GetFindingV2", 1)])),
        (
            "GetAnalyzer",
            calls(&[("GetFindingV2", 1), ("GetAnalyzer", 1)]),
        ),
    ] {
        let fakes = analyzer_with(Fakes::seeded(idle_200), Some(names(OLD_KEY)))
            .findings(|f| f.failing(failing, "AccessDeniedException"));
        let account = Account::new(Settings::default(), fakes);

        let error = account
            .invoke(event())
            .await
            .expect_err("nothing to act on");

        assert_eq!(error_type(error), "ReadFindingFailed", "{failing}");
        assert_eq!(account.calls.snapshot(), calls_made, "{failing}");
        assert_eq!(account.home.writes(), Vec::<String>::new(), "{failing}");
    }
}

#[tokio::test]
async fn report_mode_reads_and_writes_nothing() {
    let account = Account::new(
        settings(Mode::Report, None),
        analyzer_with(Fakes::seeded(idle_200), Some(names(OLD_KEY))),
    );

    let report = account.invoke(event()).await.unwrap();

    assert_eq!(action_of(&report, OLD_KEY).0, Action::WouldDeactivate);
    assert_eq!(account.home.writes(), Vec::<String>::new());
}

/// An organisation's analyzer in the home account reports a member account's user: the finding
/// is read at home, the key acted on in the member account.
#[tokio::test]
async fn the_finding_is_read_in_the_analyzers_account_and_the_key_acted_on_in_the_users() {
    let home = analyzer_with(Fakes::seeded(|_| {}), Some(names(OLD_KEY)));
    let account = Account::organisation(Settings::default(), home, Fakes::seeded(idle_200));

    let report = account
        .invoke(unused_key_event(HOME, MEMBER, ANALYZER_FINDING))
        .await
        .expect("acted on in the member account");

    assert_eq!(report.account.as_ref().map(|a| a.as_str()), Some(MEMBER));
    assert_eq!(action_of(&report, OLD_KEY).0, Action::Deactivated);
    assert_eq!(account.member.writes(), deactivation_of(OLD_KEY));
    assert_eq!(account.home.writes(), Vec::<String>::new());
    assert_eq!(
        *account.roles.lock().unwrap(),
        [format!("arn:aws:iam::{MEMBER}:role/{MEMBER_ROLE}")]
    );
}

/// A member account's own analyzer: the finding and the key are both read there.
#[tokio::test]
async fn a_member_accounts_own_analyzer_is_read_through_the_member_role() {
    let arn = analyzer_arn(MEMBER);
    let member = Fakes::seeded(idle_200).findings(|f| {
        f.with_analyzer(&arn, 90)
            .with_finding(&arn, ANALYZER_FINDING, names(OLD_KEY))
    });
    let account = Account::organisation(Settings::default(), Fakes::default(), member);

    let report = account
        .invoke(unused_key_event(MEMBER, MEMBER, ANALYZER_FINDING))
        .await
        .expect("acted on in the member account");

    assert_eq!(action_of(&report, OLD_KEY).0, Action::Deactivated);
    assert_eq!(account.member.writes(), deactivation_of(OLD_KEY));
}
