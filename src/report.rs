//! The JSON each invocation returns, its vocabulary (what happened to a key, what started
//! the invocation, how far it got), and the log and metric lines that mirror it.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;
use tracing::info;

use crate::domain::ids::{AccessKeyId, AccountId, UserId};
use crate::domain::policy::{Hold, Mode};
use crate::domain::user::KeyStatus;

/// The CloudWatch namespace of the function's metrics.
pub const METRIC_NAMESPACE: &str = "AccessKeyRemediator";

/// AWS API calls per operation name (`ListAccessKeys`, `ListDiscoveredResources`, …).
pub type ApiCalls = BTreeMap<String, u64>;

/// What happened, or would happen, to a key: the values of the report's `action` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Deactivated,
    Deleted,
    Marked,
    Pending,
    Kept,
    Exempt,
    Deferred,
    Failed,
    WouldDeactivate,
    WouldDelete,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::Deactivated,
        Action::Deleted,
        Action::Marked,
        Action::Pending,
        Action::Kept,
        Action::Exempt,
        Action::Deferred,
        Action::Failed,
        Action::WouldDeactivate,
        Action::WouldDelete,
    ];

    /// The name logs and metrics use; the same as the JSON's (a test holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deactivated => "deactivated",
            Action::Deleted => "deleted",
            Action::Marked => "marked",
            Action::Pending => "pending",
            Action::Kept => "kept",
            Action::Exempt => "exempt",
            Action::Deferred => "deferred",
            Action::Failed => "failed",
            Action::WouldDeactivate => "would-deactivate",
            Action::WouldDelete => "would-delete",
        }
    }
}

impl From<Hold> for Action {
    fn from(hold: Hold) -> Self {
        match hold {
            Hold::Kept => Action::Kept,
            Hold::Pending => Action::Pending,
            Hold::Exempt => Action::Exempt,
            Hold::Deferred => Action::Deferred,
            Hold::WouldDeactivate => Action::WouldDeactivate,
            Hold::WouldDelete => Action::WouldDelete,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Event,
    Sweep,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Event => "event",
            Trigger::Sweep => "sweep",
        }
    }
}

/// Whether the invocation got as far as a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Remediated,
    Ignored,
    UserNotFound,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Remediated => "remediated",
            Outcome::Ignored => "ignored",
            Outcome::UserNotFound => "user-not-found",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub trigger: Trigger,
    pub mode: Mode,
    pub account: Option<AccountId>,
    pub outcome: Outcome,
    /// Why nothing was done, for `ignored` and `user-not-found`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub users: Vec<UserReport>,
    /// Sweep nominees not started before the Lambda deadline; the next sweep takes them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred_users: Vec<String>,
    /// For a sweep of listed accounts: one report per account swept, each of the shape above.
    /// `summary` and `apiCalls` then total them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<Report>,
    /// Listed accounts not started before the Lambda deadline; the next sweep takes them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred_accounts: Vec<AccountId>,
    pub summary: Summary,
    /// AWS API calls this invocation made, per operation.
    pub api_calls: ApiCalls,
}

impl Report {
    pub fn new(
        trigger: Trigger,
        mode: Mode,
        account: Option<AccountId>,
        users: Vec<UserReport>,
    ) -> Self {
        let summary = Summary::of(&users);
        Report {
            trigger,
            mode,
            account,
            outcome: Outcome::Remediated,
            reason: None,
            users,
            deferred_users: Vec::new(),
            accounts: Vec::new(),
            deferred_accounts: Vec::new(),
            summary,
            api_calls: ApiCalls::new(),
        }
    }

    /// A sweep of listed accounts: `account` is the one the scheduled event came from.
    pub fn of_accounts(
        mode: Mode,
        account: Option<AccountId>,
        accounts: Vec<Report>,
        deferred_accounts: Vec<AccountId>,
    ) -> Self {
        let mut summary = Summary::of(&[]);
        for swept in &accounts {
            for (action, count) in &swept.summary.0 {
                *summary.0.entry(*action).or_default() += count;
            }
        }
        Report {
            accounts,
            deferred_accounts,
            summary,
            ..Report::new(Trigger::Sweep, mode, account, Vec::new())
        }
    }

    /// The CloudWatch Embedded Metric Format lines for this report: one per account acted
    /// in, each counting every action, dimensioned by account and trigger. CloudWatch Logs
    /// turns them into metrics with no API call from the function.
    pub fn metric_lines(&self, timestamp_ms: u64) -> Vec<String> {
        if !self.accounts.is_empty() {
            return self
                .accounts
                .iter()
                .flat_map(|swept| swept.metric_lines(timestamp_ms))
                .collect();
        }
        let metrics: Vec<serde_json::Value> = self
            .summary
            .0
            .keys()
            .map(|action| serde_json::json!({ "Name": action.as_str(), "Unit": "Count" }))
            .collect();
        let mut line = serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": METRIC_NAMESPACE,
                    "Dimensions": [["Account", "Trigger"]],
                    "Metrics": metrics,
                }],
            },
            "Account": self.account.as_ref().map_or("unknown", AccountId::as_str),
            "Trigger": self.trigger.as_str(),
            "Mode": self.mode.as_str(),
            "Outcome": self.outcome.as_str(),
        });
        for (action, count) in &self.summary.0 {
            line[action.as_str()] = (*count).into();
        }
        vec![line.to_string()]
    }

    /// The one summary log line of an invocation, mirroring `summary`.
    pub fn log_summary(&self) {
        let count = |action| self.summary.count(action);
        info!(
            trigger = self.trigger.as_str(),
            mode = self.mode.as_str(),
            account = self.account.as_ref().map_or("", AccountId::as_str),
            outcome = self.outcome.as_str(),
            reason = self.reason.as_deref().unwrap_or(""),
            deactivated = count(Action::Deactivated),
            deleted = count(Action::Deleted),
            marked = count(Action::Marked),
            pending = count(Action::Pending),
            kept = count(Action::Kept),
            exempt = count(Action::Exempt),
            deferred = count(Action::Deferred),
            failed = count(Action::Failed),
            would_deactivate = count(Action::WouldDeactivate),
            would_delete = count(Action::WouldDelete),
            "invocation summary"
        );
    }

    pub fn nothing_done(
        trigger: Trigger,
        mode: Mode,
        account: Option<AccountId>,
        outcome: Outcome,
        reason: String,
    ) -> Self {
        Report {
            outcome,
            reason: Some(reason),
            ..Report::new(trigger, mode, account, Vec::new())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserReport {
    pub user_name: String,
    /// Known when an event named the user; a sweep finds users by name.
    pub user_id: Option<UserId>,
    pub exempt: bool,
    pub keys: Vec<KeyReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyReport {
    pub access_key_id: AccessKeyId,
    /// The status as found, before this invocation acted.
    pub status: KeyStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub create_date: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_date: Option<OffsetDateTime>,
    pub age_days: i64,
    pub action: Action,
    pub reason: String,
}

/// Counts per action; every action is present, zero or not, so consumers (and SNS filter
/// policies) can test a count without first testing that it exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Summary(BTreeMap<Action, u32>);

impl Summary {
    pub fn of(users: &[UserReport]) -> Self {
        let mut counts: BTreeMap<Action, u32> = Action::ALL.iter().map(|a| (*a, 0)).collect();
        for key in users.iter().flat_map(|u| &u.keys) {
            *counts.entry(key.action).or_default() += 1;
        }
        Summary(counts)
    }

    pub fn count(&self, action: Action) -> u32 {
        self.0.get(&action).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
            keys: actions.iter().map(|a| key(*a)).collect(),
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
        assert_eq!(names.len(), Action::ALL.len());
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
        for mode in [Mode::Report, Mode::Deactivate, Mode::Delete] {
            assert_eq!(serde_json::to_value(mode).unwrap(), mode.as_str());
        }
    }
}
