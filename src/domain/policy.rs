//! The pure core: given one snapshot of a user's keys and tags, the time, and the policy,
//! decide what happens to each key. No I/O, no clock, no settings, SDK or Lambda types, so
//! every branch is covered by plain table tests and the safety rules by property tests.
//!
//! The lifecycle it drives: an over-age (or idle) Active key is deactivated and a marker tag
//! records when. Only once that marker is older than the grace period, and the key is still
//! Inactive in the snapshot, is the key deleted. A deletion therefore always happens in a
//! later invocation than the deactivation it follows.

use std::collections::BTreeMap;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::domain::exemption::Exemption;
use crate::domain::marker::{marked_key_id, marker_tag_key, marker_tag_value, parse_marker};
use crate::domain::user::{AccessKey, KeyStatus, UserSnapshot};

/// What the function is allowed to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Decide and report; make no IAM write call at all.
    Report,
    /// Deactivate and mark over-age keys; never delete.
    Deactivate,
    /// The full lifecycle: deactivate, wait out the grace period, delete.
    Delete,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Report => "report",
            Mode::Deactivate => "deactivate",
            Mode::Delete => "delete",
        }
    }
}

/// The limits a key is held to, and what the function may do about a key over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// A key older than this many days is over age (CIS 1.14: 90).
    pub max_key_age_days: u32,
    /// How long a key we deactivated must stay inactive before we delete it.
    pub delete_after_inactive_days: u32,
    /// When set, a key unused for longer than this many days is treated like an over-age key.
    pub max_key_idle_days: Option<u32>,
    pub mode: Mode,
    /// The user tag that exempts a user: `true`, or a `YYYY-MM-DD` date it lasts until.
    pub exempt_tag_key: String,
    /// Upper bound on deactivations plus deletions in one invocation (the blast radius).
    pub max_actions_per_invocation: u32,
}

impl Default for Policy {
    /// The documented defaults.
    fn default() -> Self {
        Policy {
            max_key_age_days: 90,
            delete_after_inactive_days: 14,
            max_key_idle_days: None,
            mode: Mode::Delete,
            exempt_tag_key: "access-key-remediator:exempt".to_owned(),
            max_actions_per_invocation: 50,
        }
    }
}

/// What the policy wants done to one key. Only the first three make IAM write calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Set the key Inactive, then write its marker: the grace clock starts.
    Deactivate,
    /// Write the marker of a key found Inactive without a usable one: the grace clock starts.
    Mark,
    /// Delete the key, which has been Inactive past the grace period, then drop its marker.
    Delete,
    /// Change nothing, for this reason.
    Hold(Hold),
}

/// Why a key is left as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Within the limits.
    Kept,
    /// Inactive, waiting out the grace period (or a mode that never deletes).
    Pending,
    /// Its user is exempt.
    Exempt,
    /// It needs an action, but the invocation's action budget is spent.
    Deferred,
    /// Report mode: it would be deactivated.
    WouldDeactivate,
    /// Report mode: it would be deleted.
    WouldDelete,
}

impl Verdict {
    /// Deactivations and deletions, real or previewed, are what the blast-radius cap counts.
    fn counts_against_cap(self) -> bool {
        matches!(
            self,
            Verdict::Deactivate
                | Verdict::Delete
                | Verdict::Hold(Hold::WouldDeactivate)
                | Verdict::Hold(Hold::WouldDelete)
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

/// Decides what to do with each of one user's keys.
///
/// `action_budget` is how many deactivations and deletions the invocation may still make;
/// past it, keys that need one are `deferred`. Keys are considered oldest first, so the
/// budget goes to the worst offenders.
pub fn decide(
    snapshot: &UserSnapshot,
    now: OffsetDateTime,
    policy: &Policy,
    action_budget: u32,
) -> UserPlan {
    let exemption = Exemption::read(&snapshot.tags, &policy.exempt_tag_key, now.date());

    let mut ordered: Vec<&AccessKey> = snapshot.keys.iter().collect();
    ordered.sort_by(|a, b| (a.created, &a.access_key_id).cmp(&(b.created, &b.access_key_id)));

    if exemption.is_exempt() {
        // An exempt user gets no write of any kind, stale markers included.
        let reason = exemption.reason();
        let keys = ordered
            .into_iter()
            .map(|key| decision(key, now, Verdict::Hold(Hold::Exempt), reason.clone()))
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
        let marker = snapshot.tags.get(&marker_tag_key(&key.access_key_id));
        let (mut verdict, mut reason) = decide_key(key, marker.map(String::as_str), now, policy);
        if verdict.counts_against_cap() {
            if actions_used < action_budget {
                actions_used += 1;
            } else {
                reason = format!(
                    "{reason}; deferred: MAX_ACTIONS_PER_INVOCATION={} reached",
                    policy.max_actions_per_invocation
                );
                verdict = Verdict::Hold(Hold::Deferred);
            }
        }
        decisions.push(decision(key, now, verdict, reason));
    }

    let stale_markers = if policy.mode == Mode::Report {
        Vec::new()
    } else {
        stale_markers(&snapshot.tags, &decisions)
    };

    UserPlan {
        exemption,
        keys: decisions,
        stale_markers,
        actions_used,
    }
}

fn decision(key: &AccessKey, now: OffsetDateTime, verdict: Verdict, reason: String) -> KeyDecision {
    KeyDecision {
        key: key.clone(),
        age_days: (now - key.created).whole_days(),
        verdict,
        reason,
    }
}

fn decide_key(
    key: &AccessKey,
    marker: Option<&str>,
    now: OffsetDateTime,
    policy: &Policy,
) -> (Verdict, String) {
    let Some(why) = over_limit(key, now, policy) else {
        let status = match key.status {
            KeyStatus::Active => "active",
            KeyStatus::Inactive => "inactive",
        };
        return (
            Verdict::Hold(Hold::Kept),
            format!("{status}, within limits"),
        );
    };

    match key.status {
        KeyStatus::Active => match policy.mode {
            Mode::Report => (
                Verdict::Hold(Hold::WouldDeactivate),
                format!("active, {why}"),
            ),
            Mode::Deactivate | Mode::Delete => (Verdict::Deactivate, format!("active, {why}")),
        },
        KeyStatus::Inactive => decide_inactive(key, marker, now, policy, &why),
    }
}

/// An Inactive key over the limits: start, wait out, or finish the grace period.
fn decide_inactive(
    key: &AccessKey,
    marker: Option<&str>,
    now: OffsetDateTime,
    policy: &Policy,
    why: &str,
) -> (Verdict, String) {
    let deactivated_at = match usable_marker(key, marker) {
        Ok(deactivated_at) => deactivated_at,
        Err(because) => {
            return match policy.mode {
                Mode::Report => (
                    Verdict::Hold(Hold::Pending),
                    format!("inactive, {why}; {because}; would start the grace clock"),
                ),
                Mode::Deactivate | Mode::Delete => (
                    Verdict::Mark,
                    format!("inactive, {why}; {because}; grace clock started"),
                ),
            };
        }
    };

    let grace = Duration::days(policy.delete_after_inactive_days.into());
    let inactive_for = now - deactivated_at;
    if inactive_for <= grace {
        return (
            Verdict::Hold(Hold::Pending),
            format!(
                "inactive since {}, {} of the {}-day grace period passed",
                marker_tag_value(deactivated_at),
                describe_days(inactive_for),
                policy.delete_after_inactive_days
            ),
        );
    }

    let past_grace = format!(
        "inactive since {}, past the {}-day grace period",
        marker_tag_value(deactivated_at),
        policy.delete_after_inactive_days
    );
    match policy.mode {
        Mode::Report => (Verdict::Hold(Hold::WouldDelete), past_grace),
        Mode::Deactivate => (
            Verdict::Hold(Hold::Pending),
            format!("{past_grace}; REMEDIATION_MODE=deactivate never deletes"),
        ),
        Mode::Delete => (Verdict::Delete, past_grace),
    }
}

/// When the key's marker says we deactivated it, or why the grace clock must start again.
fn usable_marker(key: &AccessKey, marker: Option<&str>) -> Result<OffsetDateTime, String> {
    let Some(marker) = marker else {
        return Err("no deactivation marker".to_owned());
    };
    let Some(deactivated_at) = parse_marker(marker) else {
        return Err(format!(
            "marker value {marker:?} is not an RFC 3339 instant"
        ));
    };
    if deactivated_at < key.created {
        // A marker older than its key cannot record this key's deactivation (a hand-made
        // or copied tag): trusting it would delete a key nobody watched go unused.
        return Err(format!(
            "marker's {} is before the key was created",
            marker_tag_value(deactivated_at)
        ));
    }
    if let Some(last_used) = key.last_used
        && last_used > deactivated_at
    {
        // Someone re-activated and used the key after we deactivated it: the grace period
        // of inactivity it was meant to measure did not happen.
        return Err(format!(
            "used at {} after the marker's {}",
            marker_tag_value(last_used),
            marker_tag_value(deactivated_at)
        ));
    }
    Ok(deactivated_at)
}

/// Why the key must go, or `None` when it is within both limits.
fn over_limit(key: &AccessKey, now: OffsetDateTime, policy: &Policy) -> Option<String> {
    let age = now - key.created;
    if age > Duration::days(policy.max_key_age_days.into()) {
        return Some(format!(
            "{} old, over the {}-day age limit",
            describe_days(age),
            policy.max_key_age_days
        ));
    }
    let idle_limit = policy.max_key_idle_days?;
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
            let key_id = marked_key_id(tag_key)?;
            let guarded = decisions.iter().find(|d| d.key.access_key_id == *key_id);
            let stale = match guarded {
                None => true,
                // A kept Active key had its marker from before someone re-enabled it.
                // Over-age Active keys get a fresh marker when deactivated instead.
                Some(d) => {
                    d.key.status == KeyStatus::Active && d.verdict == Verdict::Hold(Hold::Kept)
                }
            };
            stale.then(|| tag_key.clone())
        })
        .collect()
}

fn describe_days(span: Duration) -> String {
    match span.whole_days() {
        1 => "1 day".to_owned(),
        days => format!("{days} days"),
    }
}

#[cfg(test)]
mod tests;
