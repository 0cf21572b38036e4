//! The notice an owner gets about their keys: which key and why, what happened or when it
//! will, where the key was last used and who has called with it lately, and how to undo or
//! exempt. Plain text for people, and the SNS message attributes (account, user, owner,
//! action) a team's filter policy selects its own notices by. Pure: the facts come in whole.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use time::macros::format_description;
use time::{Duration, OffsetDateTime};

use crate::domain::ids::{AccessKeyId, AccountId};
use crate::domain::policy::{Mode, Policy};

/// What a notice tells about one key: only these three are worth telling an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NoticeAction {
    Warned,
    Deactivated,
    Deleted,
}

impl NoticeAction {
    /// The report's name for the action, and the `action` attribute's value.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeAction::Warned => "warned",
            NoticeAction::Deactivated => "deactivated",
            NoticeAction::Deleted => "deleted",
        }
    }
}

/// One CloudTrail event made with the key (LookupEvents with `AccessKeyId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCall {
    pub at: OffsetDateTime,
    pub event_name: String,
    pub event_source: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What CloudTrail said about the key's recent callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecentCalls {
    /// Newest first; empty when the trail holds none.
    Found(Vec<KeyCall>),
    /// The lookup failed (denied, throttled past retries): the notice says so, and is sent.
    Unavailable(String),
}

/// One key the notice is about, as the snapshot and the decision left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    pub access_key_id: AccessKeyId,
    pub action: NoticeAction,
    /// The report's reason for the action.
    pub reason: String,
    pub created: OffsetDateTime,
    pub last_used: Option<OffsetDateTime>,
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
    pub recent_calls: RecentCalls,
}

/// Everything one user's notice says.
#[derive(Debug, Clone, Copy)]
pub struct NoticeFacts<'a> {
    pub account: Option<&'a AccountId>,
    pub user_name: &'a str,
    pub owner: Option<&'a str>,
    pub keys: &'a [KeyFacts],
    /// The user's 50 tags are all its own: no grace clock, so no deletion until one is free.
    pub no_tag_slot: bool,
    pub policy: &'a Policy,
    pub now: OffsetDateTime,
}

/// A composed notice: SNS's Subject (under 100 ASCII characters), the text, and the attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    pub text: String,
    pub attributes: NoticeAttributes,
}

/// What a filter policy selects on. `action` holds each action of the notice (an SNS
/// String.Array: a policy naming one matches a notice holding it); `owner` is absent when the
/// user has none, which `{"owner": [{"exists": false}]}` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeAttributes {
    pub account: String,
    pub user: String,
    pub owner: Option<String>,
    pub actions: Vec<NoticeAction>,
}

/// SNS refuses a Subject this long or longer.
const SUBJECT_MAX: usize = 100;

/// How many of the key's recent CloudTrail events a notice lists.
pub const RECENT_CALLS_SHOWN: usize = 5;

/// The user's owner: the `owner_tag_key` tag (matched ignoring ASCII case, as IAM holds tag
/// keys), else the user name when it is an email address, else nobody.
pub fn owner_of(
    user_name: &str,
    tags: &BTreeMap<String, String>,
    owner_tag_key: &str,
) -> Option<String> {
    let tagged = tags
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(owner_tag_key))
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty());
    match tagged {
        Some(owner) => Some(owner.to_owned()),
        None => is_email(user_name).then(|| user_name.to_owned()),
    }
}

/// Shaped like an address SES can send to: `local@domain.tld`, no spaces, one `@`.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let labels_ok = domain.split('.').count() >= 2 && domain.split('.').all(|l| !l.is_empty());
    !local.is_empty()
        && labels_ok
        && text.len() <= 254
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        && !domain.contains('@')
}

/// The notice for one user.
pub fn compose(facts: &NoticeFacts<'_>) -> Notice {
    let mut actions: Vec<NoticeAction> = facts.keys.iter().map(|key| key.action).collect();
    actions.sort_unstable();
    actions.dedup();
    let account = facts.account.map_or("unknown", AccountId::as_str);
    let mut text = format!(
        "IAM user {} in account {account}: access-key-remediator acted on {} of its access keys.\n",
        facts.user_name,
        facts.keys.len()
    );
    if let Some(owner) = facts.owner {
        let _ = writeln!(text, "Owner: {owner}");
    }
    for key in facts.keys {
        text.push('\n');
        text.push_str(&key_section(facts, key));
    }
    text.push('\n');
    text.push_str(&exemption_section(facts));
    let words: Vec<&str> = actions.iter().map(|action| action.as_str()).collect();
    let subject = format!(
        "Access keys of {} in {account}: {}",
        facts.user_name,
        words.join(", ")
    );
    Notice {
        subject: fit_subject(&subject),
        text,
        attributes: NoticeAttributes {
            account: account.to_owned(),
            user: facts.user_name.to_owned(),
            owner: facts.owner.map(str::to_owned),
            actions,
        },
    }
}

fn day(at: OffsetDateTime) -> String {
    at.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_else(|_| at.to_string())
}

fn instant(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_else(|_| at.to_string())
}

fn key_section(facts: &NoticeFacts<'_>, key: &KeyFacts) -> String {
    let (user, id) = (facts.user_name, key.access_key_id.as_str());
    let mut text = format!("Key {id} ({}): {}\n", key.action.as_str(), key.reason);
    text.push_str(&what_happens(facts, key));
    let _ = writeln!(text, "Created: {}", day(key.created));
    let _ = writeln!(text, "Last used: {}", last_use(key));
    text.push_str(&recent_calls(&key.recent_calls));
    match key.action {
        NoticeAction::Deactivated => {
            let _ = writeln!(
                text,
                "To undo: aws iam update-access-key --user-name {user} --access-key-id {id} \
                 --status Active\n  (the next run deactivates it again unless the user is \
                 exempt: rotate the key, or exempt the user, below)"
            );
        }
        NoticeAction::Deleted => {
            let _ = writeln!(
                text,
                "A deleted key cannot be restored: create a new one with \
                 aws iam create-access-key --user-name {user}"
            );
        }
        NoticeAction::Warned => {
            let _ = writeln!(
                text,
                "To avoid it: rotate the key (aws iam create-access-key --user-name {user}, move \
                 the workload to the new key, then delete {id}), or exempt the user, below"
            );
        }
    }
    text
}

/// What happened to the key, and what will, with dates.
fn what_happens(facts: &NoticeFacts<'_>, key: &KeyFacts) -> String {
    let policy = facts.policy;
    let grace = Duration::days(policy.delete_after_inactive_days.into());
    let deletion = |from: OffsetDateTime| match policy.mode {
        _ if facts.no_tag_slot => "it is not deleted until the user has a free tag slot for its \
                                   grace clock (50 of 50 tags used)"
            .to_owned(),
        Mode::Delete => format!(
            "it is deleted on or after {}, after {} days inactive",
            day(from + grace),
            policy.delete_after_inactive_days
        ),
        Mode::Deactivate | Mode::Report => {
            "this function does not delete it (REMEDIATION_MODE=deactivate)".to_owned()
        }
    };
    match key.action {
        NoticeAction::Deactivated => format!(
            "Deactivated on {}; {}.\n",
            day(facts.now),
            deletion(facts.now)
        ),
        NoticeAction::Deleted => format!("Deleted on {}.\n", day(facts.now)),
        NoticeAction::Warned => {
            let due = deactivation_due(key, policy);
            format!(
                "Nothing is done yet. It is deactivated on or after {}; then {}.\n",
                day(due),
                deletion(due)
            )
        }
    }
}

/// When a key within the limits reaches the first of them.
fn deactivation_due(key: &KeyFacts, policy: &Policy) -> OffsetDateTime {
    let by_age = key.created + Duration::days(policy.max_key_age_days.into());
    let by_idle = policy
        .max_key_idle_days
        .map(|idle| key.last_used.unwrap_or(key.created) + Duration::days(idle.into()));
    by_idle.map_or(by_age, |idle| idle.min(by_age))
}

fn last_use(key: &KeyFacts) -> String {
    let Some(at) = key.last_used else {
        return "never (IAM has no record of a use)".to_owned();
    };
    let service = key
        .last_used_service
        .as_deref()
        .unwrap_or("an unknown service");
    match key.last_used_region.as_deref() {
        Some(region) => format!("{}, {service} in {region}", instant(at)),
        None => format!("{}, {service}", instant(at)),
    }
}

fn recent_calls(calls: &RecentCalls) -> String {
    match calls {
        RecentCalls::Unavailable(error) => {
            format!("Recent calls: CloudTrail could not be read ({error})\n")
        }
        RecentCalls::Found(calls) if calls.is_empty() => {
            "Recent calls: no recent calls found in CloudTrail (its event history keeps 90 days \
             of management events)\n"
                .to_owned()
        }
        RecentCalls::Found(calls) => {
            let mut text = "Recent calls (CloudTrail, newest first):\n".to_owned();
            for call in calls.iter().take(RECENT_CALLS_SHOWN) {
                let source = call
                    .event_source
                    .as_deref()
                    .map_or(String::new(), |source| format!(" ({source})"));
                let _ = writeln!(
                    text,
                    "  - {} {}{source} from {}, user agent {}",
                    instant(call.at),
                    call.event_name,
                    call.source_ip.as_deref().unwrap_or("an unknown address"),
                    call.user_agent.as_deref().unwrap_or("unknown"),
                );
            }
            text
        }
    }
}

fn exemption_section(facts: &NoticeFacts<'_>) -> String {
    let example = day(facts.now + Duration::days(30));
    format!(
        "To exempt the user until a date (YYYY-MM-DD, the last day it holds):\n  aws iam \
         tag-user --user-name {} --tags Key={},Value={example}\n",
        facts.user_name, facts.policy.exempt_tag_key
    )
}

/// SNS Subject: ASCII, no line breaks or control characters, under 100 characters.
fn fit_subject(subject: &str) -> String {
    let flat: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                ' '
            }
        })
        .collect();
    if flat.len() < SUBJECT_MAX {
        return flat;
    }
    format!("{}...", &flat[..SUBJECT_MAX - 4])
}

#[cfg(test)]
mod tests;
