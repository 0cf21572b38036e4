//! The JSON each invocation returns and its vocabulary (what happened to a key, what started
//! the invocation, how far it got). The log and metric lines that mirror it are in `metrics`,
//! the cap that keeps it within SNS's and Lambda's limits in `size`.

mod metrics;
mod notice;
pub mod org;
mod size;

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::ids::{AccessKeyId, AccountId, UserId};
use crate::domain::policy::{Hold, KeyDecision, Mode};
use crate::domain::user::KeyStatus;

pub use self::metrics::{
    METRIC_NAMESPACE, NO_TAG_SLOT_METRIC, NOTICES_FAILED_METRIC, NOTICES_SENT_METRIC,
};
pub use self::notice::{EmailReport, NoticeReport};

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
    /// The key, or its user, no longer exists (deleted, or the user renamed since it was
    /// read): nothing was written.
    Gone,
    /// Within the limits but close to one: the owner was warned, once per key, and the
    /// warning recorded in the user's state tag (reported only when that write succeeded).
    Warned,
    WouldDeactivate,
    WouldDelete,
    /// Report mode: the key would be warned.
    WouldWarn,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Deactivated,
        Action::Deleted,
        Action::Marked,
        Action::Pending,
        Action::Kept,
        Action::Exempt,
        Action::Deferred,
        Action::Failed,
        Action::Gone,
        Action::Warned,
        Action::WouldDeactivate,
        Action::WouldDelete,
        Action::WouldWarn,
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
            Action::Gone => "gone",
            Action::Warned => "warned",
            Action::WouldDeactivate => "would-deactivate",
            Action::WouldDelete => "would-delete",
            Action::WouldWarn => "would-warn",
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
            Hold::WouldWarn => Action::WouldWarn,
            // Left alone, as a key within the limits is: this invocation is about another.
            Hold::NotNamed => Action::Kept,
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
    /// How many users `users` leaves out to keep the report within `Report::MAX_BYTES`
    /// (`summary` still counts them; the log has each decision). In a sweep of listed accounts,
    /// each account's report counts its own, and the top level all of them.
    #[serde(skip_serializing_if = "is_zero")]
    pub omitted_users: usize,
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
    /// For an event: the Config rule or finding that named the user, and what was written
    /// back to the finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<EventSource>,
    /// What an operator should know, also logged as warnings (once per container).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// AWS API calls this invocation made, per operation.
    pub api_calls: ApiCalls,
    /// Owner notices sent (SNS Publish accepted), and notices of which a send failed (the
    /// publish or the email): logged, never failing the invocation.
    #[serde(skip_serializing_if = "is_zero")]
    pub notices_sent: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub notices_failed: usize,
}

/// What named the user an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    pub kind: SourceKind,
    /// The Config rule's name, or the finding's id.
    pub id: String,
    /// The managed rule or control (`ACCESS_KEYS_ROTATED`, `IAM.3`, `IAM.8`), or the key an
    /// unused-access finding names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Why the source was acted on or ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recognised: Option<String>,
    /// The Security Hub workflow update, written or (report mode, or nothing to say) not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding_update: Option<FindingUpdateReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    ConfigRule,
    SecurityHub,
    AccessAnalyzer,
}

impl SourceKind {
    /// The name logs use; the same as the JSON's.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::ConfigRule => "config-rule",
            SourceKind::SecurityHub => "security-hub",
            SourceKind::AccessAnalyzer => "access-analyzer",
        }
    }
}

/// A BatchUpdateFindings: the status and note, and whether it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingUpdateReport {
    /// `RESOLVED` or `NOTIFIED`; `None` when the finding is left as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Only `true` when Security Hub accepted the update.
    pub written: bool,
    /// Why it was not written: report mode, an exempt user, the same update already there,
    /// a failure, or nothing over the limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Report {
    pub fn new(
        trigger: Trigger,
        mode: Mode,
        account: Option<AccountId>,
        users: Vec<UserReport>,
    ) -> Self {
        let summary = Summary::of(&users);
        let notices = users.iter().filter_map(|user| user.notice.as_ref());
        let (notices_sent, notices_failed) = notices.fold((0, 0), |(sent, failed), notice| {
            (
                sent + usize::from(notice.sent),
                failed + usize::from(notice.failed()),
            )
        });
        Report {
            trigger,
            mode,
            account,
            outcome: Outcome::Remediated,
            reason: None,
            users,
            omitted_users: 0,
            deferred_users: Vec::new(),
            accounts: Vec::new(),
            deferred_accounts: Vec::new(),
            summary,
            source: None,
            warnings: Vec::new(),
            api_calls: ApiCalls::new(),
            notices_sent,
            notices_failed,
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
            notices_sent: accounts.iter().map(|swept| swept.notices_sent).sum(),
            notices_failed: accounts.iter().map(|swept| swept.notices_failed).sum(),
            accounts,
            deferred_accounts,
            summary,
            ..Report::new(Trigger::Sweep, mode, account, Vec::new())
        }
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

fn is_zero(count: &usize) -> bool {
    *count == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserReport {
    pub user_name: String,
    /// Known when an event named the user; a sweep finds users by name.
    pub user_id: Option<UserId>,
    pub exempt: bool,
    /// All 50 of the user's tags are its own: no grace clock can be recorded, so a key
    /// deactivated here is never deleted until a slot is free.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_tag_slot: bool,
    pub keys: Vec<KeyReport>,
    /// The owner notice about this user's warned, deactivated or deleted keys; absent when
    /// none was due (nothing to tell, report mode, or no NOTICE_TOPIC_ARN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<NoticeReport>,
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

impl KeyReport {
    /// The report line of one decided key: what became of it, and why.
    pub fn of(decision: &KeyDecision, action: Action, reason: String) -> Self {
        KeyReport {
            access_key_id: decision.key.access_key_id.clone(),
            status: decision.key.status,
            create_date: decision.key.created,
            last_used_date: decision.key.last_used,
            age_days: decision.age_days,
            action,
            reason,
        }
    }
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
#[cfg(test)]
mod tests;
