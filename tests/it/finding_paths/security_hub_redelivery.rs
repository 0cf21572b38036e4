//! A Security Hub finding's event again: Lambda retrying a failed invocation, the same event
//! delivered twice, and our own update coming back as an Imported event. None of them
//! remediates a key twice, and the chain our updates start ends.

use access_key_remediator::aws::WorkflowStatus;
use access_key_remediator::aws::fake::{ErrorKind, Fault};
use access_key_remediator::domain::policy::Mode;
use access_key_remediator::remediate::outcome::RemediationError;
use access_key_remediator::report::{Action, Outcome};
use access_key_remediator::settings::Settings;

use super::security_hub::{NOTIFIED, RESOLVED, finding_update};
use super::{
    Account, Fakes, HOME, NEWER_KEY, OLD_KEY, actions, deactivation_of, error_type,
    over_age_active, security_hub_event, settings, two_over_age_keys, with_workflow,
};

#[tokio::test]
async fn an_iam_failure_leaves_the_finding_for_the_retry_and_fails_the_invocation() {
    let failing = || {
        let fakes = Fakes::seeded(over_age_active);
        fakes
            .iam
            .fail(Fault::on("UpdateAccessKey", ErrorKind::AccessDenied));
        Account::new(Settings::default(), fakes)
    };

    let account = failing();
    let error = account
        .invoke(security_hub_event(HOME))
        .await
        .expect_err("a key could not be deactivated");
    assert_eq!(error_type(error), "RemediationFailed");
    assert_eq!(account.home.findings.updates(), []);
    assert_eq!(account.calls_of("BatchUpdateFindings"), 0);

    let (report, failure) = failing().run(security_hub_event(HOME)).await;
    assert!(
        matches!(failure, Some(RemediationError::Incomplete { .. })),
        "{failure:?}"
    );
    let report = report.expect("a partial report");
    assert_eq!(actions(&report), [(OLD_KEY.to_owned(), Action::Failed)]);
    let update = finding_update(&report);
    assert_eq!((update.status, update.written), (None, false));
    let reason = update.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("a call failed"), "{reason}");
}

#[tokio::test]
async fn a_failed_finding_update_fails_the_invocation_after_the_iam_work_is_done() {
    let failing = || {
        let fakes = Fakes::seeded(over_age_active)
            .findings(|f| f.failing("BatchUpdateFindings", "AccessDeniedException"));
        Account::new(Settings::default(), fakes)
    };

    let account = failing();
    let error = account
        .invoke(security_hub_event(HOME))
        .await
        .expect_err("the finding could not be updated");
    assert_eq!(error_type(error), "FindingUpdateFailed");
    assert_eq!(account.home.writes(), deactivation_of(OLD_KEY));

    // Lambda retries the event: the key is not remediated twice, the update is tried again.
    let error = account
        .invoke(security_hub_event(HOME))
        .await
        .expect_err("the finding still cannot be updated");
    assert_eq!(error_type(error), "FindingUpdateFailed");
    assert_eq!(
        account.home.writes(),
        deactivation_of(OLD_KEY),
        "no new write"
    );
    assert_eq!(account.calls_of("BatchUpdateFindings"), 2);

    let (report, failure) = failing().run(security_hub_event(HOME)).await;
    assert!(
        matches!(failure, Some(RemediationError::FindingUpdate { .. })),
        "{failure:?}"
    );
    let report = report.expect("the report of what was done");
    assert_eq!(report.outcome, Outcome::Remediated);
    assert_eq!(
        actions(&report),
        [(OLD_KEY.to_owned(), Action::Deactivated)]
    );
    let update = finding_update(&report);
    assert_eq!((update.status, update.written), (RESOLVED, false));
    let reason = update.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("AccessDeniedException"), "{reason}");
}

/// Our own NOTIFIED update comes back as an Imported event; when nothing has changed since,
/// writing it again would only send it back once more.
#[tokio::test]
async fn an_update_the_finding_already_has_is_not_written_again() {
    let capped = || settings(Mode::Delete, Some(1));
    let first = Account::new(capped(), Fakes::seeded(two_over_age_keys));
    first.invoke(security_hub_event(HOME)).await.unwrap();
    let [ours] = first
        .home
        .findings
        .updates()
        .try_into()
        .expect("one update");
    assert_eq!(ours.status, WorkflowStatus::Notified);

    let account = Account::new(capped(), Fakes::seeded(two_over_age_keys));
    let echo = with_workflow(security_hub_event(HOME), "NOTIFIED", Some(&ours.note));
    let report = account.invoke(echo).await.unwrap();

    assert_eq!(account.calls_of("BatchUpdateFindings"), 0);
    let update = finding_update(&report);
    assert_eq!((update.status, update.written), (NOTIFIED, false));
    let reason = update.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("already has this status and note"),
        "{reason}"
    );
    assert_eq!(
        account.home.writes(),
        deactivation_of(OLD_KEY),
        "the key is still acted on"
    );

    // Someone else's note on a NOTIFIED finding is no reason to keep ours back.
    let account = Account::new(capped(), Fakes::seeded(two_over_age_keys));
    let triaged = with_workflow(
        security_hub_event(HOME),
        "NOTIFIED",
        Some("ticket SEC-1234"),
    );
    account.invoke(triaged).await.unwrap();
    assert_eq!(account.calls_of("BatchUpdateFindings"), 1);
}

/// The chain our own updates start ends: NOTIFIED comes back and the next key is done; RESOLVED
/// comes back and is not acted on at all.
#[tokio::test]
async fn our_updates_coming_back_finish_the_work_and_then_stop() {
    let account = Account::new(
        settings(Mode::Delete, Some(1)),
        Fakes::seeded(two_over_age_keys),
    );
    account.invoke(security_hub_event(HOME)).await.unwrap();
    let notified = account.home.findings.updates().remove(0);

    let echo = with_workflow(security_hub_event(HOME), "NOTIFIED", Some(&notified.note));
    let report = account.invoke(echo).await.unwrap();
    assert_eq!(
        actions(&report),
        [
            (OLD_KEY.to_owned(), Action::Pending),
            (NEWER_KEY.to_owned(), Action::Deactivated)
        ]
    );
    let updates = account.home.findings.updates();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1].status, WorkflowStatus::Resolved);

    let before = account.calls.snapshot();
    let resolved = with_workflow(security_hub_event(HOME), "RESOLVED", Some(&updates[1].note));
    let report = account.invoke(resolved).await.unwrap();
    assert_eq!(report.outcome, Outcome::Ignored);
    assert_eq!(
        account.calls.since(&before),
        Default::default(),
        "no call at all"
    );
}

#[tokio::test]
async fn a_redelivered_event_makes_no_second_iam_write() {
    let account = Account::new(Settings::default(), Fakes::seeded(over_age_active));

    account.invoke(security_hub_event(HOME)).await.unwrap();
    let again = account.invoke(security_hub_event(HOME)).await.unwrap();

    assert_eq!(account.home.writes(), deactivation_of(OLD_KEY));
    assert_eq!(actions(&again), [(OLD_KEY.to_owned(), Action::Pending)]);
    let updates = account.home.findings.updates();
    assert!(
        updates.iter().all(|u| u.status == WorkflowStatus::Resolved),
        "never reopened: {updates:?}"
    );
    // The note tells where the key stands, not what this delivery did: the same both times.
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert_eq!(updates[0].note, updates[1].note);
}
