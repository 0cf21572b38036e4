//! The JSON each invocation returns, and the log lines that mirror it.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::adapters::api_calls::ApiCalls;
use crate::domain::policy::{Action, KeyStatus};
use crate::settings::Mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

serialize_as_str!(Trigger, Outcome);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub trigger: Trigger,
    pub mode: Mode,
    pub account: Option<String>,
    pub outcome: Outcome,
    /// Why nothing was done, for `ignored` and `user-not-found`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub users: Vec<UserReport>,
    /// Sweep nominees not started before the Lambda deadline; the next sweep takes them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred_users: Vec<String>,
    pub summary: Summary,
    /// AWS API calls this invocation made, per operation.
    pub api_calls: ApiCalls,
}

impl Report {
    pub fn new(
        trigger: Trigger,
        mode: Mode,
        account: Option<String>,
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
            summary,
            api_calls: ApiCalls::new(),
        }
    }

    pub fn nothing_done(
        trigger: Trigger,
        mode: Mode,
        account: Option<String>,
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
    pub user_id: Option<String>,
    pub exempt: bool,
    pub keys: Vec<KeyReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyReport {
    pub access_key_id: String,
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
