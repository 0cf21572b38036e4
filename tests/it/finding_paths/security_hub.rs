//! Closing the loop on a Security Hub finding: after remediating its user, BatchUpdateFindings
//! sets RESOLVED when no key of the user is left active and over the limits, NOTIFIED when one
//! still is (the cap reached), and nothing for an exempt user, a user within the limits, or a
//! failed call. Report mode writes nothing, not even to Security Hub.

use access_key_remediator::aws::fake::FakeIam;
use access_key_remediator::aws::{FindingUpdate, WorkflowStatus};
use access_key_remediator::domain::policy::{Mode, Policy};
use access_key_remediator::domain::user::KeyStatus;
use access_key_remediator::report::{FindingUpdateReport, Report, SourceKind};
use access_key_remediator::settings::Settings;
use serde_json::json;

use super::{
    Account, Fakes, HOME, MEMBER, MEMBER_ROLE, OLD_KEY, PRODUCT_ARN, alice_with_key,
    deactivation_of, exempt, finding_id, inactive_pending, no_user, over_age_active,
    security_hub_event, settings, two_over_age_keys, within_limits,
};

/// The finding update the report shows.
pub(super) fn finding_update(report: &Report) -> &FindingUpdateReport {
    let source = report
        .source
        .as_ref()
        .expect("the report names its finding");
    assert_eq!(source.kind, SourceKind::SecurityHub);
    source
        .finding_update
        .as_ref()
        .expect("a finding update, written or not")
}

/// What the finding comes to.
#[derive(Clone)]
struct Expected {
    writes: Vec<String>,
    status: Option<&'static str>,
    written: bool,
    /// Each in the note (when there is a status) or the reason (when there is none).
    says: &'static [&'static str],
}

fn resolved(writes: Vec<String>, says: &'static [&'static str]) -> Expected {
    Expected {
        writes,
        status: RESOLVED,
        written: true,
        says,
    }
}

fn notified(writes: Vec<String>, says: &'static [&'static str]) -> Expected {
    Expected {
        writes,
        status: NOTIFIED,
        written: true,
        says,
    }
}

/// Report mode: the update the report shows, not written.
fn planned(status: Option<&'static str>, says: &'static [&'static str]) -> Expected {
    Expected {
        writes: Vec::new(),
        status,
        written: false,
        says,
    }
}

/// No update, for the reason `says`.
fn left(says: &'static [&'static str]) -> Expected {
    planned(None, says)
}

/// One user state, and what comes of it in delete and deactivate mode (`acting`: the two do
/// the same before any deletion is due) and in report mode.
struct Row {
    state: &'static str,
    seed: fn(&FakeIam),
    cap: Option<u32>,
    acting: Expected,
    report: Expected,
}

pub(super) const RESOLVED: Option<&str> = Some("RESOLVED");
pub(super) const NOTIFIED: Option<&str> = Some("NOTIFIED");
// The note says where each key stands, the same for a key deactivated now and one pending
// since, so that a re-delivered event writes the same note.
const OLD_DEACTIVATED: &str = "AKIAZ4ALICEOLDKEY0001 inactive";
const OLD_WOULD: &str = "AKIAZ4ALICEOLDKEY0001 still active";
const NEWER_DEFERRED: &str = "AKIAZ4ALICENEWKEY0002 still active";
const OLD_PENDING: &str = "AKIAZ4ALICEOLDKEY0001 inactive";
const REPORT_MODE: &str = "REMEDIATION_MODE=report writes nothing";
const NOT_OVER: &str = "no key is over this function's limits";
const EXEMPT: &str = "the user is exempt";
const GONE: &str = "the user no longer exists";

fn rows() -> Vec<Row> {
    vec![
        Row {
            state: "one over age",
            seed: over_age_active,
            cap: None,
            acting: resolved(deactivation_of(OLD_KEY), &[OLD_DEACTIVATED]),
            report: planned(NOTIFIED, &[OLD_WOULD]),
        },
        Row {
            state: "two over age, cap 1",
            seed: two_over_age_keys,
            cap: Some(1),
            acting: notified(deactivation_of(OLD_KEY), &[OLD_DEACTIVATED, NEWER_DEFERRED]),
            report: planned(NOTIFIED, &[OLD_WOULD, NEWER_DEFERRED]),
        },
        // Inactive in its grace period: no key is left active and over the limits.
        Row {
            state: "inactive, pending",
            seed: inactive_pending,
            cap: None,
            acting: resolved(Vec::new(), &[OLD_PENDING]),
            report: planned(RESOLVED, &[OLD_PENDING]),
        },
        Row {
            state: "within limits",
            seed: within_limits,
            cap: None,
            acting: left(&[NOT_OVER]),
            report: left(&[NOT_OVER]),
        },
        Row {
            state: "exempt",
            seed: exempt,
            cap: None,
            acting: left(&[EXEMPT]),
            report: left(&[EXEMPT]),
        },
        Row {
            state: "user gone",
            seed: no_user,
            cap: None,
            acting: resolved(Vec::new(), &[GONE]),
            report: planned(RESOLVED, &[GONE]),
        },
    ]
}

#[tokio::test]
async fn a_finding_is_resolved_notified_or_left_by_what_is_left_of_the_users_keys() {
    let cases = rows().into_iter().flat_map(|row| {
        let Row {
            state,
            seed,
            cap,
            acting,
            report,
        } = row;
        [
            (state, seed, cap, Mode::Delete, acting.clone()),
            (state, seed, cap, Mode::Deactivate, acting),
            (state, seed, cap, Mode::Report, report),
        ]
    });
    for (state, seed, cap, mode, expected) in cases {
        let case = format!("{state}, {}", mode.as_str());
        let account = Account::new(settings(mode, cap), Fakes::seeded(seed));

        let report = account
            .invoke(security_hub_event(HOME))
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));

        assert_finding_came_to(&case, mode, &account, &report, &expected);
    }
}

/// The report, the IAM writes and the update sent, against one row of the table.
fn assert_finding_came_to(
    case: &str,
    mode: Mode,
    account: &Account,
    report: &Report,
    expected: &Expected,
) {
    assert_eq!(account.home.writes(), expected.writes, "{case}");
    let source = report.source.as_ref().expect("a source");
    assert_eq!(source.id, finding_id(HOME), "{case}");
    assert_eq!(source.subject.as_deref(), Some("IAM.3"), "{case}");
    let update = finding_update(report);
    assert_eq!(update.status, expected.status, "{case}");
    assert_eq!(update.written, expected.written, "{case}");
    let told = match expected.status {
        Some(_) => update.note.clone().expect("a status comes with a note"),
        None => update
            .reason
            .clone()
            .expect("no status comes with a reason"),
    };
    for says in expected.says {
        assert!(told.contains(says), "{case}: {says:?} in {told:?}");
    }
    if mode == Mode::Report && expected.status.is_some() {
        let reason = update.reason.as_deref().unwrap_or_default();
        assert!(reason.contains(REPORT_MODE), "{case}: {reason}");
    }
    let sent = account.home.findings.updates();
    let batch_updates = account.calls_of("BatchUpdateFindings");
    if expected.written {
        let status = match expected.status {
            RESOLVED => WorkflowStatus::Resolved,
            _ => WorkflowStatus::Notified,
        };
        let wanted = FindingUpdate {
            finding_id: finding_id(HOME),
            product_arn: PRODUCT_ARN.to_owned(),
            status,
            note: told.clone(),
        };
        assert_eq!(sent, [wanted], "{case}");
        assert!(told.starts_with("access-key-remediator"), "{case}: {told}");
        assert_eq!(batch_updates, 1, "{case}");
    } else {
        assert_eq!(sent, [], "{case}");
        assert_eq!(batch_updates, 0, "{case}");
    }
}

/// The note is what an auditor reads in Security Hub: in deactivate mode no key is ever
/// deleted, so the note must not say one will be.
#[tokio::test]
async fn in_deactivate_mode_the_note_does_not_promise_a_deletion() {
    let account = Account::new(
        settings(Mode::Deactivate, None),
        Fakes::seeded(over_age_active),
    );

    account.invoke(security_hub_event(HOME)).await.unwrap();

    let sent = account.home.findings.updates();
    assert_eq!(sent.len(), 1);
    assert!(
        !sent[0].note.contains("deleted"),
        "deactivate mode never deletes: {}",
        sent[0].note
    );
}

/// IAM.8 maps to the idle rule: with MAX_KEY_IDLE_DAYS set, a key idle past it is acted on
/// though it is young enough for the age rule.
#[tokio::test]
async fn an_unused_credentials_finding_is_decided_by_the_idle_limit() {
    let idle = |iam: &FakeIam| alice_with_key(iam, OLD_KEY, KeyStatus::Active, 200, Some(120));
    let settings = Settings {
        policy: Policy {
            max_key_age_days: 365,
            max_key_idle_days: Some(90),
            ..Policy::default()
        },
        ..Settings::default()
    };
    let account = Account::new(settings, Fakes::seeded(idle));
    let mut event = security_hub_event(HOME);
    let finding = &mut event["detail"]["findings"][0];
    finding["GeneratorId"] = json!("security-control/IAM.8");
    finding["Compliance"]["SecurityControlId"] = json!("IAM.8");

    let report = account.invoke(event).await.unwrap();

    let source = report.source.as_ref().unwrap();
    assert_eq!(source.subject.as_deref(), Some("IAM.8"));
    assert_eq!(account.home.writes(), deactivation_of(OLD_KEY));
    assert_eq!(finding_update(&report).status, RESOLVED);
}

/// With MAX_KEY_IDLE_DAYS unset, an IAM.8 finding holds keys to IAM.8's own 90 days of
/// disuse; the same key under IAM.3 is young enough to keep.
#[tokio::test]
async fn an_unused_credentials_finding_uses_iam8s_90_days_when_the_idle_rule_is_off() {
    for (control, expected) in [("IAM.8", deactivation_of(OLD_KEY)), ("IAM.3", Vec::new())] {
        let idle = |iam: &FakeIam| alice_with_key(iam, OLD_KEY, KeyStatus::Active, 80, Some(91));
        let account = Account::new(Settings::default(), Fakes::seeded(idle));
        let mut event = security_hub_event(HOME);
        let finding = &mut event["detail"]["findings"][0];
        finding["GeneratorId"] = json!(format!("security-control/{control}"));
        finding["Compliance"]["SecurityControlId"] = json!(control);

        let report = account.invoke(event).await.unwrap();

        assert_eq!(account.home.writes(), expected, "{control}");
        let update = finding_update(&report);
        if control == "IAM.8" {
            let note = update.note.clone().unwrap_or_default();
            assert!(note.contains("or unused for 90 days"), "{note}");
        }
    }
}

/// The finding lives in the user's account, and is updated there, through the member role.
#[tokio::test]
async fn a_member_accounts_finding_is_updated_in_that_account() {
    let account = Account::organisation(
        Settings::default(),
        Fakes::seeded(over_age_active),
        Fakes::seeded(over_age_active),
    );

    let report = account.invoke(security_hub_event(MEMBER)).await.unwrap();

    assert_eq!(report.account.as_ref().map(|a| a.as_str()), Some(MEMBER));
    assert_eq!(account.member.writes(), deactivation_of(OLD_KEY));
    assert_eq!(account.home.writes(), Vec::<String>::new());
    let updates = account.member.findings.updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].finding_id, finding_id(MEMBER));
    assert_eq!(account.home.findings.updates(), []);
    assert_eq!(
        *account.roles.lock().unwrap(),
        [format!("arn:aws:iam::{MEMBER}:role/{MEMBER_ROLE}")]
    );
}
