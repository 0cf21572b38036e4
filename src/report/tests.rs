//! The report's shape: its metric lines, its size cap, and one spelling per value.

use super::*;
use crate::domain::ids::AccessKeyId;
use crate::domain::user::KeyStatus;
use serde_json::Value;
use time::OffsetDateTime;

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn key(action: Action) -> KeyReport {
    KeyReport {
        access_key_id: AccessKeyId::parse("AKIAEXAMPLEKEY000001").unwrap(),
        status: KeyStatus::Active,
        create_date: OffsetDateTime::UNIX_EPOCH,
        last_used_date: None,
        age_days: 200,
        action,
        reason: "over age".into(),
    }
}

fn account_report(account: &str, actions: &[Action]) -> Report {
    let user = UserReport {
        user_name: "bob".into(),
        user_id: None,
        exempt: false,
        no_tag_slot: false,
        keys: actions.iter().map(|a| key(*a)).collect(),
        notice: None,
    };
    Report::new(
        Trigger::Sweep,
        Mode::Delete,
        Some(self::account(account)),
        vec![user],
    )
}

fn parse(lines: Vec<String>) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_metric_line_is_an_emf_document_counting_every_action_by_account_and_trigger() {
    let report = account_report("123456789012", &[Action::Deactivated, Action::Kept]);

    let lines = parse(report.metric_lines(1_795_000_000_000));

    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(line["_aws"]["Timestamp"], 1_795_000_000_000u64);
    assert_eq!(directive["Namespace"], METRIC_NAMESPACE);
    assert_eq!(
        directive["Dimensions"],
        serde_json::json!([["Account", "Trigger"]])
    );
    let names: Vec<&str> = directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), Action::ALL.len() + 3);
    // Users whose tags are all their own are counted apart: no clock could be recorded.
    // So are owner notices, sent and failed.
    for name in [
        NO_TAG_SLOT_METRIC,
        NOTICES_SENT_METRIC,
        NOTICES_FAILED_METRIC,
    ] {
        assert!(names.contains(&name), "{name}");
        assert_eq!(line[name], 0, "{name}");
    }
    for action in Action::ALL {
        // EMF requires every named metric to be a member of the document's root.
        let expected = u64::from(report.summary.count(action));
        assert_eq!(line[action.as_str()], expected, "{}", action.as_str());
        assert!(names.contains(&action.as_str()));
    }
    assert_eq!(
        (line["Account"].as_str(), line["Trigger"].as_str()),
        (Some("123456789012"), Some("sweep"))
    );
}

#[test]
fn a_sweep_of_listed_accounts_totals_them_and_gives_each_its_own_metric_line() {
    let report = Report::of_accounts(
        Mode::Delete,
        Some(account("123456789012")),
        vec![
            account_report("210987654321", &[Action::Deactivated, Action::Deleted]),
            account_report("123456789012", &[Action::Deactivated]),
        ],
        vec![account("333333333333")],
    );

    assert_eq!(report.summary.count(Action::Deactivated), 2);
    assert_eq!(report.summary.count(Action::Deleted), 1);
    let lines = parse(report.metric_lines(0));
    let per_account: Vec<(&str, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["Account"].as_str().unwrap(),
                l["deactivated"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(per_account, [("210987654321", 1), ("123456789012", 1)]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["deferredAccounts"],
        serde_json::json!(["333333333333"])
    );
    assert_eq!(json["accounts"].as_array().unwrap().len(), 2);
}

fn user(name: &str, actions: &[Action]) -> UserReport {
    UserReport {
        user_name: name.into(),
        user_id: None,
        exempt: false,
        no_tag_slot: false,
        keys: actions.iter().map(|a| key(*a)).collect(),
        notice: None,
    }
}

fn sweep_of(account: &str, users: Vec<UserReport>) -> Report {
    let mut report = Report::new(
        Trigger::Sweep,
        Mode::Delete,
        Some(self::account(account)),
        users,
    );
    report.api_calls.insert("ListAccessKeys".into(), 7);
    report
}

fn bytes(report: &Report) -> usize {
    serde_json::to_vec(report).unwrap().len()
}

/// Users of every rank, in report order: the deactivated, deleted and failed are kept
/// first, then the marked (and would-be writes), then the rest.
fn mixed_users() -> Vec<UserReport> {
    vec![
        user("kept", &[Action::Kept]),
        user("deactivated", &[Action::Kept, Action::Deactivated]),
        user("marked", &[Action::Marked]),
        user("failed", &[Action::Failed]),
        user("pending", &[Action::Pending, Action::Exempt]),
        user("deleted", &[Action::Deleted]),
        user("would-delete", &[Action::WouldDelete]),
        user("deferred", &[Action::Deferred]),
    ]
}

#[test]
fn a_report_within_the_limit_is_returned_as_it_is() {
    let report = sweep_of("123456789012", mixed_users());
    let before = serde_json::to_string(&report).unwrap();

    let capped = report.clone().capped(Report::MAX_BYTES);

    assert_eq!(capped, report);
    assert_eq!(serde_json::to_string(&capped).unwrap(), before);
    assert!(!before.contains("omittedUsers"));
}

#[test]
fn a_report_over_the_limit_keeps_the_users_acted_on_first_whole_and_in_report_order() {
    let report = sweep_of("123456789012", mixed_users());
    // What it should come to: the deactivated, failed and deleted users, and the count
    // of the five left out. A few bytes more than that is not room for another user.
    let mut expected = report.clone();
    expected
        .users
        .retain(|u| ["deactivated", "failed", "deleted"].contains(&u.user_name.as_str()));
    expected.omitted_users = 5;
    let limit = bytes(&expected) + 5;

    let capped = report.clone().capped(limit);

    assert_eq!(capped, expected);
    assert!(bytes(&capped) <= limit);
    assert_eq!(
        capped.summary, report.summary,
        "the summary counts every user"
    );
    let json = serde_json::to_value(&capped).unwrap();
    assert_eq!(json["omittedUsers"], 5);
    assert_eq!(json["apiCalls"]["ListAccessKeys"], 7);

    // More room: the marked and the would-be writes next.
    let mut expected = report.clone();
    expected
        .users
        .retain(|u| !["kept", "pending", "deferred"].contains(&u.user_name.as_str()));
    expected.omitted_users = 3;
    let limit = bytes(&expected) + 5;
    assert_eq!(report.capped(limit), expected);
}

#[test]
fn a_limit_below_the_other_fields_leaves_out_every_user_and_nothing_else() {
    let report = sweep_of("123456789012", mixed_users());

    let capped = report.clone().capped(10);

    assert!(capped.users.is_empty());
    assert_eq!(capped.omitted_users, 8);
    assert_eq!(
        (&capped.summary, &capped.api_calls, capped.account.as_ref()),
        (&report.summary, &report.api_calls, report.account.as_ref())
    );
}

#[test]
fn a_sweep_of_listed_accounts_is_capped_as_a_whole_and_each_account_counts_its_own() {
    let first = sweep_of("210987654321", mixed_users());
    let second = sweep_of("123456789012", mixed_users());
    let report = Report::of_accounts(
        Mode::Delete,
        Some(account("123456789012")),
        vec![first, second],
        Vec::new(),
    );
    let acted = ["deactivated", "failed", "deleted"];
    let mut expected = report.clone();
    for swept in &mut expected.accounts {
        swept
            .users
            .retain(|u| acted.contains(&u.user_name.as_str()));
        swept.omitted_users = 5;
    }
    expected.omitted_users = 10;
    let limit = bytes(&expected) + 5;

    let capped = report.clone().capped(limit);

    assert_eq!(capped, expected);
    assert!(bytes(&capped) <= limit);
    let json = serde_json::to_value(&capped).unwrap();
    assert_eq!(json["omittedUsers"], 10);
    assert_eq!(json["accounts"][0]["omittedUsers"], 5);
    assert_eq!(
        json["summary"],
        serde_json::to_value(&report.summary).unwrap()
    );

    // Less room: the first account's users are kept before the second's.
    let mut tighter = expected.clone();
    tighter.accounts[1].users.pop();
    tighter.accounts[1].omitted_users = 6;
    tighter.omitted_users = 11;
    let limit = bytes(&tighter) + 5;
    assert_eq!(report.capped(limit), tighter);
}

#[test]
fn logs_metrics_and_json_spell_every_value_alike() {
    for action in Action::ALL {
        assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
    }
    for outcome in [Outcome::Remediated, Outcome::Ignored, Outcome::UserNotFound] {
        assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
    }
    for trigger in [Trigger::Event, Trigger::Sweep] {
        assert_eq!(serde_json::to_value(trigger).unwrap(), trigger.as_str());
    }
    for kind in [
        SourceKind::ConfigRule,
        SourceKind::SecurityHub,
        SourceKind::AccessAnalyzer,
    ] {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
    for mode in [Mode::Report, Mode::Deactivate, Mode::Delete] {
        assert_eq!(serde_json::to_value(mode).unwrap(), mode.as_str());
    }
}

#[test]
fn users_without_a_tag_slot_are_counted_in_their_own_metric() {
    let mut report = account_report("123456789012", &[Action::Deactivated]);
    report.users[0].no_tag_slot = true;
    let lines = parse(report.metric_lines(0));
    assert_eq!(lines[0][NO_TAG_SLOT_METRIC], 1);
    // The report says so of the user, and of no user that has room.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["users"][0]["noTagSlot"], true);
    report.users[0].no_tag_slot = false;
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["users"][0].get("noTagSlot").is_none());
}
