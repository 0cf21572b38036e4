//! The pure core: given one snapshot of a user's keys and tags, the time, and the settings,
//! decide what happens to each key. No I/O, no clock, no SDK or Lambda types, so every
//! branch is covered by plain table tests and the safety rules by property tests.
//!
//! The lifecycle it drives: an over-age (or idle) Active key is deactivated and a marker tag
//! records when. Only once that marker is older than the grace period, and the key is still
//! Inactive in the snapshot, is the key deleted. A deletion therefore always happens in a
//! later invocation than the deactivation it follows.

use std::collections::BTreeMap;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

use crate::settings::{Mode, Settings};

/// Tags under this prefix are ours; the rest of the tag key is the access key id.
pub const MARKER_PREFIX: &str = "access-key-remediator:deactivated:";

/// The tag key that records when we deactivated `access_key_id`.
pub fn marker_tag_key(access_key_id: &str) -> String {
    format!("{MARKER_PREFIX}{access_key_id}")
}

/// The marker's value: an RFC 3339 UTC instant, to the second.
pub fn marker_tag_value(deactivated_at: OffsetDateTime) -> String {
    let whole_seconds = deactivated_at
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    whole_seconds
        .format(&Rfc3339)
        .expect("a UTC instant always formats as RFC 3339")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

/// One access key as IAM reported it in this invocation's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub status: KeyStatus,
    pub created: OffsetDateTime,
    pub last_used: Option<OffsetDateTime>,
}

/// What happened, or would happen, to a key: the values of the report's `action` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

serialize_as_str!(Action);

/// What the policy wants done to one key. Only the first three make IAM write calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Set the key Inactive, then write its marker: the grace clock starts.
    Deactivate,
    /// Write the marker of a key found Inactive without a usable one: the grace clock starts.
    Mark,
    /// Delete the key, which has been Inactive past the grace period, then drop its marker.
    Delete,
    /// Change nothing; report this action.
    Leave(Action),
}

impl Verdict {
    pub fn writes(self) -> bool {
        !matches!(self, Verdict::Leave(_))
    }

    /// The action reported when the verdict was carried out (or needed carrying out).
    pub fn action(self) -> Action {
        match self {
            Verdict::Deactivate => Action::Deactivated,
            Verdict::Mark => Action::Marked,
            Verdict::Delete => Action::Deleted,
            Verdict::Leave(action) => action,
        }
    }

    /// Deactivations and deletions, real or previewed, are what the blast-radius cap counts.
    fn counts_against_cap(self) -> bool {
        matches!(
            self,
            Verdict::Deactivate
                | Verdict::Delete
                | Verdict::Leave(Action::WouldDeactivate)
                | Verdict::Leave(Action::WouldDelete)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDecision {
    pub key: AccessKey,
    pub age_days: i64,
    pub verdict: Verdict,
    pub reason: String,
}

/// How the exemption tag reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exemption {
    NotExempt,
    /// `true`, or a date that is today or later.
    Exempt {
        until: Option<Date>,
    },
    /// A date in the past: the exemption has lapsed and the user is treated like any other.
    Expired {
        until: Date,
    },
    /// Neither `true` nor a date. Treated as exempt, because acting on a user someone meant
    /// to exempt is the mistake that cannot be undone; the caller logs a warning.
    Unrecognised {
        value: String,
    },
}

impl Exemption {
    pub fn is_exempt(&self) -> bool {
        matches!(
            self,
            Exemption::Exempt { .. } | Exemption::Unrecognised { .. }
        )
    }

    fn reason(&self) -> String {
        match self {
            Exemption::Exempt { until: None } => "user is exempt (tag is true)".to_owned(),
            Exemption::Exempt { until: Some(date) } => format!("user is exempt until {date}"),
            Exemption::Unrecognised { value } => format!(
                "user is exempt: the tag value {value:?} is neither true nor a YYYY-MM-DD date"
            ),
            Exemption::NotExempt | Exemption::Expired { .. } => String::new(),
        }
    }
}

/// Everything decided for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPlan {
    pub exemption: Exemption,
    /// One decision per key, oldest key first.
    pub keys: Vec<KeyDecision>,
    /// Marker tags that no longer guard anything: their key is gone, or was made Active again.
    pub stale_markers: Vec<String>,
    /// Deactivations and deletions this plan spends from the invocation's budget.
    pub actions_used: u32,
}

/// Reads the exemption tag `tag_key` as of `today` (UTC).
pub fn exemption(tags: &BTreeMap<String, String>, tag_key: &str, today: Date) -> Exemption {
    let Some(value) = tags.get(tag_key) else {
        return Exemption::NotExempt;
    };
    let value = value.trim();
    if value.eq_ignore_ascii_case("true") {
        return Exemption::Exempt { until: None };
    }
    match Date::parse(value, format_description!("[year]-[month]-[day]")) {
        Ok(until) if until >= today => Exemption::Exempt { until: Some(until) },
        Ok(until) => Exemption::Expired { until },
        Err(_) => Exemption::Unrecognised {
            value: value.to_owned(),
        },
    }
}

/// Decides what to do with each of one user's keys.
///
/// `action_budget` is how many deactivations and deletions the invocation may still make;
/// past it, keys that need one are `deferred`. Keys are considered oldest first, so the
/// budget goes to the worst offenders.
pub fn decide(
    keys: &[AccessKey],
    tags: &BTreeMap<String, String>,
    now: OffsetDateTime,
    settings: &Settings,
    action_budget: u32,
) -> UserPlan {
    let exemption = exemption(tags, &settings.exempt_tag_key, now.date());

    let mut ordered: Vec<&AccessKey> = keys.iter().collect();
    ordered.sort_by(|a, b| (a.created, &a.access_key_id).cmp(&(b.created, &b.access_key_id)));

    if exemption.is_exempt() {
        // An exempt user gets no write of any kind, stale markers included.
        let reason = exemption.reason();
        let keys = ordered
            .into_iter()
            .map(|key| KeyDecision {
                key: key.clone(),
                age_days: age_days(key, now),
                verdict: Verdict::Leave(Action::Exempt),
                reason: reason.clone(),
            })
            .collect();
        return UserPlan {
            exemption,
            keys,
            stale_markers: Vec::new(),
            actions_used: 0,
        };
    }

    let mut actions_used = 0;
    let mut decisions = Vec::with_capacity(ordered.len());
    for key in ordered {
        let marker = tags.get(&marker_tag_key(&key.access_key_id));
        let (mut verdict, mut reason) = decide_key(key, marker.map(String::as_str), now, settings);
        if verdict.counts_against_cap() {
            if actions_used < action_budget {
                actions_used += 1;
            } else {
                reason = format!(
                    "{reason}; deferred: MAX_ACTIONS_PER_INVOCATION={} reached",
                    settings.max_actions_per_invocation
                );
                verdict = Verdict::Leave(Action::Deferred);
            }
        }
        decisions.push(KeyDecision {
            key: key.clone(),
            age_days: age_days(key, now),
            verdict,
            reason,
        });
    }

    let stale_markers = if settings.mode == Mode::Report {
        Vec::new()
    } else {
        stale_markers(tags, &decisions)
    };

    UserPlan {
        exemption,
        keys: decisions,
        stale_markers,
        actions_used,
    }
}

fn decide_key(
    key: &AccessKey,
    marker: Option<&str>,
    now: OffsetDateTime,
    settings: &Settings,
) -> (Verdict, String) {
    let Some(why) = over_limit(key, now, settings) else {
        let status = match key.status {
            KeyStatus::Active => "active",
            KeyStatus::Inactive => "inactive",
        };
        return (
            Verdict::Leave(Action::Kept),
            format!("{status}, within limits"),
        );
    };

    match key.status {
        KeyStatus::Active => match settings.mode {
            Mode::Report => (
                Verdict::Leave(Action::WouldDeactivate),
                format!("active, {why}"),
            ),
            Mode::Deactivate | Mode::Delete => (Verdict::Deactivate, format!("active, {why}")),
        },
        KeyStatus::Inactive => decide_inactive(key, marker, now, settings, &why),
    }
}

/// An Inactive key over the limits: start, wait out, or finish the grace period.
fn decide_inactive(
    key: &AccessKey,
    marker: Option<&str>,
    now: OffsetDateTime,
    settings: &Settings,
    why: &str,
) -> (Verdict, String) {
    let restart = |because: String| match settings.mode {
        Mode::Report => (
            Verdict::Leave(Action::Pending),
            format!("inactive, {why}; {because}; would start the grace clock"),
        ),
        Mode::Deactivate | Mode::Delete => (
            Verdict::Mark,
            format!("inactive, {why}; {because}; grace clock started"),
        ),
    };

    let Some(marker) = marker else {
        return restart("no deactivation marker".to_owned());
    };
    let Ok(deactivated_at) = OffsetDateTime::parse(marker.trim(), &Rfc3339) else {
        return restart(format!(
            "marker value {marker:?} is not an RFC 3339 instant"
        ));
    };
    if deactivated_at < key.created {
        // A marker older than its key cannot record this key's deactivation (a hand-made
        // or copied tag): trusting it would delete a key nobody watched go unused.
        return restart(format!(
            "marker's {} is before the key was created",
            format_instant(deactivated_at)
        ));
    }
    if let Some(last_used) = key.last_used
        && last_used > deactivated_at
    {
        // Someone re-activated and used the key after we deactivated it: the grace period
        // of inactivity it was meant to measure did not happen.
        return restart(format!(
            "used at {} after the marker's {}",
            format_instant(last_used),
            format_instant(deactivated_at)
        ));
    }

    let grace = Duration::days(settings.delete_after_inactive_days.into());
    let inactive_for = now - deactivated_at;
    if inactive_for <= grace {
        return (
            Verdict::Leave(Action::Pending),
            format!(
                "inactive since {}, {} of the {}-day grace period passed",
                format_instant(deactivated_at),
                describe_days(inactive_for),
                settings.delete_after_inactive_days
            ),
        );
    }

    let past_grace = format!(
        "inactive since {}, past the {}-day grace period",
        format_instant(deactivated_at),
        settings.delete_after_inactive_days
    );
    match settings.mode {
        Mode::Report => (Verdict::Leave(Action::WouldDelete), past_grace),
        Mode::Deactivate => (
            Verdict::Leave(Action::Pending),
            format!("{past_grace}; REMEDIATION_MODE=deactivate never deletes"),
        ),
        Mode::Delete => (Verdict::Delete, past_grace),
    }
}

/// Why the key must go, or `None` when it is within both limits.
fn over_limit(key: &AccessKey, now: OffsetDateTime, settings: &Settings) -> Option<String> {
    let age = now - key.created;
    if age > Duration::days(settings.max_key_age_days.into()) {
        return Some(format!(
            "{} old, over the {}-day age limit",
            describe_days(age),
            settings.max_key_age_days
        ));
    }
    let idle_limit = settings.max_key_idle_days?;
    let idle_for = now - key.last_used.unwrap_or(key.created);
    (idle_for > Duration::days(idle_limit.into())).then(|| {
        format!(
            "unused for {}, over the {idle_limit}-day idle limit",
            describe_days(idle_for)
        )
    })
}

/// Markers that no longer guard an Inactive key, so a later manual deactivation cannot
/// inherit an old clock and be deleted early.
fn stale_markers(tags: &BTreeMap<String, String>, decisions: &[KeyDecision]) -> Vec<String> {
    tags.keys()
        .filter_map(|tag_key| {
            let key_id = tag_key.strip_prefix(MARKER_PREFIX)?;
            let guarded = decisions.iter().find(|d| d.key.access_key_id == key_id);
            let stale = match guarded {
                None => true,
                // A kept Active key had its marker from before someone re-enabled it.
                // Over-age Active keys get a fresh marker when deactivated instead.
                Some(d) => {
                    d.key.status == KeyStatus::Active && d.verdict == Verdict::Leave(Action::Kept)
                }
            };
            stale.then(|| tag_key.clone())
        })
        .collect()
}

fn age_days(key: &AccessKey, now: OffsetDateTime) -> i64 {
    (now - key.created).whole_days()
}

fn describe_days(span: Duration) -> String {
    match span.whole_days() {
        1 => "1 day".to_owned(),
        days => format!("{days} days"),
    }
}

fn format_instant(instant: OffsetDateTime) -> String {
    marker_tag_value(instant)
}

#[cfg(test)]
mod tests;
