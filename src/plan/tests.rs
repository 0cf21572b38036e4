use std::time::Duration as Elapsed;

use indicatif::ProgressBar;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::cli::{Invocation, PlanArgs, invocation_from};
use super::*;
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::fake::{ErrorKind, FakeIam, Fault};
use crate::domain::marker::STATE_TAG_KEY;
use crate::domain::policy::{Mode, Policy};
use crate::domain::user::KeyStatus;

fn parsed(args: &[&str]) -> Invocation {
    invocation_from(std::iter::once("bootstrap").chain(args.iter().copied()))
}

fn refused_with(args: &[&str]) -> (clap::error::ErrorKind, i32) {
    match parsed(args) {
        Invocation::Refused(error) => (error.kind(), error.exit_code()),
        other => panic!("{args:?} was not refused: {other:?}"),
    }
}

#[test]
fn plan_takes_a_profile_a_region_and_json() {
    let Invocation::Plan(args) = parsed(&[
        "plan",
        "--profile",
        "audit",
        "--region",
        "eu-west-1",
        "--json",
    ]) else {
        panic!("not a plan");
    };
    let expected = PlanArgs {
        profile: Some("audit".to_owned()),
        region: Some("eu-west-1".to_owned()),
        json: true,
    };
    assert_eq!(args, expected);
}

#[test]
fn a_bare_plan_leaves_profile_and_region_to_the_standard_chain() {
    let Invocation::Plan(args) = parsed(&["plan"]) else {
        panic!("not a plan");
    };
    assert_eq!(
        args,
        PlanArgs {
            profile: None,
            region: None,
            json: false
        }
    );
}

#[test]
fn no_arguments_outside_lambda_print_the_help_and_fail_with_usage_status() {
    use clap::error::ErrorKind::*;
    assert_eq!(
        refused_with(&[]),
        (DisplayHelpOnMissingArgumentOrSubcommand, 2)
    );
}

#[test]
fn help_succeeds_and_unknown_arguments_fail_with_usage_status() {
    use clap::error::ErrorKind::*;
    assert_eq!(refused_with(&["--help"]), (DisplayHelp, 0));
    assert_eq!(refused_with(&["plan", "--help"]), (DisplayHelp, 0));
    assert_eq!(refused_with(&["deploy"]), (InvalidSubcommand, 2));
    assert_eq!(refused_with(&["plan", "--force"]), (UnknownArgument, 2));
    assert_eq!(refused_with(&["plan", "--profile"]), (InvalidValue, 2));
}

fn days_ago(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - Duration::days(days)
}

/// One user of each kind a plan meets: over age and Active, past its grace period, Inactive
/// without a clock, exempt, and young.
fn account() -> FakeIam {
    let iam = FakeIam::new();
    let active = KeyStatus::Active;
    iam.add_user("old", "AIDAOLD0000000000001").add_key(
        "old",
        "AKIAOLD0000000000001",
        active,
        days_ago(120),
        None,
    );
    iam.add_key("old", "AKIAOLD0000000000002", active, days_ago(10), None);
    iam.add_user("past-grace", "AIDAPASTGRACE0000001").add_key(
        "past-grace",
        "AKIAPASTGRACE0000001",
        KeyStatus::Inactive,
        days_ago(200),
        Some(days_ago(40)),
    );
    let clock = days_ago(20).replace_nanosecond(0).unwrap();
    let clock = format!("AKIAPASTGRACE0000001={}", clock.format(&Rfc3339).unwrap());
    iam.set_tag("past-grace", STATE_TAG_KEY, &clock);
    iam.add_user("unmarked", "AIDAUNMARKED00000001").add_key(
        "unmarked",
        "AKIAUNMARKED00000001",
        KeyStatus::Inactive,
        days_ago(150),
        None,
    );
    iam.add_user("exempt", "AIDAEXEMPT0000000001")
        .add_key(
            "exempt",
            "AKIAEXEMPT0000000001",
            active,
            days_ago(500),
            None,
        )
        .set_tag("exempt", "access-key-remediator:exempt", "true");
    iam.add_user("young", "AIDAYOUNG00000000001").add_key(
        "young",
        "AKIAYOUNG00000000001",
        active,
        days_ago(30),
        None,
    );
    iam
}

fn settings_in(mode: Mode, max_actions: u32) -> Settings {
    Settings {
        policy: Policy {
            mode,
            max_actions_per_invocation: max_actions,
            ..Policy::default()
        },
        ..Settings::default()
    }
}

/// (user, key, action) of every key the plan decided, in report order.
fn decisions(report: &Report) -> Vec<(String, String, &'static str)> {
    report
        .users
        .iter()
        .flat_map(|user| {
            user.keys.iter().map(|key| {
                let id = key.access_key_id.to_string();
                (user.user_name.clone(), id, key.action.as_str())
            })
        })
        .collect()
}

/// The first key of `user` in the report.
fn key_of<'r>(report: &'r Report, user: &str) -> &'r KeyReport {
    let found = report.users.iter().find(|u| u.user_name == user);
    &found.expect("the user is in the report").keys[0]
}

fn decided(user: &str, key: &str, action: &'static str) -> (String, String, &'static str) {
    (user.to_owned(), key.to_owned(), action)
}

#[tokio::test]
async fn the_plan_shows_what_the_configured_mode_would_do_and_writes_nothing() {
    let iam = account();
    let planned = plan_with(&iam, &settings_in(Mode::Delete, 50), &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(
        decisions(&planned.report),
        [
            decided("exempt", "AKIAEXEMPT0000000001", "exempt"),
            decided("old", "AKIAOLD0000000000001", "would-deactivate"),
            decided("old", "AKIAOLD0000000000002", "kept"),
            decided("past-grace", "AKIAPASTGRACE0000001", "would-delete"),
            decided("unmarked", "AKIAUNMARKED00000001", "pending"),
        ]
    );
    let unmarked = &key_of(&planned.report, "unmarked").reason;
    assert!(
        unmarked.ends_with("would start the grace clock"),
        "{unmarked}"
    );
    assert_eq!(planned.report.mode, Mode::Delete);
    assert_eq!(planned.failed_reads, 0);
    assert_eq!(iam.writes(), []);
}

#[tokio::test]
async fn a_mode_that_never_deletes_is_planned_as_such() {
    let planned = plan_with(
        &account(),
        &settings_in(Mode::Deactivate, 50),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    let past_grace = key_of(&planned.report, "past-grace");
    assert_eq!(past_grace.action, Action::Pending);
    assert!(
        past_grace.reason.contains("never deletes"),
        "{}",
        past_grace.reason
    );
}

#[tokio::test]
async fn the_action_budget_goes_where_the_sweep_would_spend_it() {
    let iam = account();
    // Over age since 210 days ago: the longest overdue Active key, so the sweep takes it
    // first, though the report lists it after `old`.
    iam.add_user("older", "AIDAOLDER00000000001").add_key(
        "older",
        "AKIAOLDER00000000001",
        KeyStatus::Active,
        days_ago(300),
        None,
    );
    let planned = plan_with(&iam, &settings_in(Mode::Delete, 1), &ProgressBar::hidden())
        .await
        .unwrap();
    let actions: Vec<_> = decisions(&planned.report)
        .into_iter()
        .filter(|(_, _, action)| *action != "kept" && *action != "exempt")
        .collect();
    assert_eq!(
        actions,
        [
            decided("old", "AKIAOLD0000000000001", "deferred"),
            decided("older", "AKIAOLDER00000000001", "would-deactivate"),
            decided("past-grace", "AKIAPASTGRACE0000001", "deferred"),
            decided("unmarked", "AKIAUNMARKED00000001", "pending"),
        ]
    );
}

#[tokio::test]
async fn a_user_that_cannot_be_read_is_named_and_the_others_are_still_planned() {
    let iam = account();
    iam.fail(Fault::on("ListAccessKeys", ErrorKind::AccessDenied).for_user("old"));
    let planned = plan_with(&iam, &settings_in(Mode::Delete, 50), &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(planned.failed_reads, 1);
    assert_eq!(planned.report.warnings.len(), 1);
    assert!(
        planned.report.warnings[0].starts_with("old: not read: IAM ListAccessKeys failed"),
        "{:?}",
        planned.report.warnings
    );
    let users: Vec<&str> = planned
        .report
        .users
        .iter()
        .map(|u| u.user_name.as_str())
        .collect();
    assert_eq!(users, ["exempt", "past-grace", "unmarked"]);
}

#[tokio::test]
async fn a_credential_report_that_cannot_be_had_fails_the_plan() {
    let iam = account();
    iam.fail(Fault::on(
        "GenerateCredentialReport",
        ErrorKind::AccessDenied,
    ));
    let failed = plan_with(&iam, &settings_in(Mode::Delete, 50), &ProgressBar::hidden()).await;
    assert!(matches!(failed, Err(PlanError::CredentialReport(_))));
}

#[tokio::test]
async fn the_table_has_a_row_per_key_then_the_totals_and_the_calls() {
    let counter = ApiCallCounter::default();
    let iam = account().with_api_calls(counter.clone());
    let mut planned = plan_with(&iam, &settings_in(Mode::Delete, 50), &ProgressBar::hidden())
        .await
        .unwrap();
    planned.report.api_calls = counter.snapshot();
    let table = table::render(&planned.report, Elapsed::from_millis(1500));
    let lines: Vec<&str> = table.lines().collect();
    let row = lines
        .iter()
        .find(|line| line.contains("AKIAOLD0000000000001"))
        .expect("a row for old's key");
    for cell in ["old", "120 d", "never", "would-deactivate", "over"] {
        assert!(row.contains(cell), "{cell} missing from {row}");
    }
    let calls: u64 = counter.snapshot().values().sum();
    assert!(
        table.contains(
            "REMEDIATION_MODE=delete: 5 keys of 4 nominated users: 1 pending, 1 kept, \
             1 exempt, 1 would-deactivate, 1 would-delete. Nothing was written."
        ),
        "{table}"
    );
    let last = lines.last().unwrap();
    assert!(last.starts_with(&format!("AWS calls: {calls} (")), "{last}");
    assert!(last.ends_with("in 1.5 s"), "{last}");
}
