//! The pure core: given one snapshot of a user's keys and tags, the time, and the policy,
//! decide what happens to each key. No I/O, no clock, no settings, SDK or Lambda types, so
//! every branch is covered by plain table tests and the safety rules by property tests.
//!
//! The lifecycle it drives: an over-age (or idle) Active key is deactivated and a marker tag
//! records when. Only once that marker is older than the grace period, and the key is still
//! Inactive in the snapshot, is the key deleted. A deletion therefore always happens in a
//! later invocation than the deactivation it follows.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use crate::domain::exemption::Exemption;
pub use crate::domain::grace::ClockPlan;
use crate::domain::grace::{Clock, FUTURE_CLOCK, NO_TAG_SLOT, usable_clock};
use crate::domain::ids::AccessKeyId;
use crate::domain::limits::{Limits, describe_days, over_limit};
use crate::domain::marker::{GraceClocks, TAGS_PER_USER, format_instant};
use crate::domain::user::{AccessKey, KeyStatus, UserSnapshot};

mod warning;

pub use crate::domain::mode::Mode;

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
    /// An Active key within this many days of a limit is warned about, once; 0 warns never.
    pub warn_before_days: u32,
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
            warn_before_days: 7,
        }
    }
}

/// What the policy wants done to one key. Only the first three make IAM key writes; `Warn`
/// writes nothing but the user's state tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Set the key Inactive, then write its marker: the grace clock starts.
    Deactivate,
    /// Write the marker of a key found Inactive without a usable one: the grace clock starts.
    Mark,
    /// Delete the key, which has been Inactive past the grace period, then drop its marker.
    Delete,
    /// An Active key within the limits but within WARN_BEFORE_DAYS of one, not warned
    /// before: warn its owner and record the warning, so it is sent once per key.
    Warn,
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
    /// Report mode: it would be warned.
    WouldWarn,
    /// Not the key the invocation is about (an Access Analyzer finding names one key).
    NotNamed,
}

impl Verdict {
    /// Deactivations and deletions, real or previewed, are what the blast-radius cap counts.
    /// A warning (`Warn`, `WouldWarn`) is no key write and never counts.
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
    /// What becomes of the user's grace clocks; `None` when no tag may be written at all
    /// (an exempt user, report mode).
    pub clocks: Option<ClockPlan>,
    /// What the caller should log as a warning.
    pub warnings: Vec<String>,
    /// Deactivations and deletions this plan spends from the invocation's budget.
    pub actions_used: u32,
}

/// One key, held to the idle rule only: what an Access Analyzer unused-key finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedKey {
    pub access_key_id: AccessKeyId,
    /// The idle limit our own reading of the key's last use must exceed.
    pub idle_days: u32,
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
    decide_within(snapshot, now, policy, action_budget, None)
}

/// As `decide`, for the one key an unused-access finding names: it is held to the idle
/// limit alone (its age is the age rule's business), and every other key is `NotNamed`.
/// The user's other keys' grace clocks are kept as `decide` would keep them.
pub fn decide_unused_key(
    snapshot: &UserSnapshot,
    now: OffsetDateTime,
    policy: &Policy,
    action_budget: u32,
    unused: &UnusedKey,
) -> UserPlan {
    decide_within(snapshot, now, policy, action_budget, Some(unused))
}

fn decide_within(
    snapshot: &UserSnapshot,
    now: OffsetDateTime,
    policy: &Policy,
    action_budget: u32,
    unused: Option<&UnusedKey>,
) -> UserPlan {
    let exemption = Exemption::read(&snapshot.tags, &policy.exempt_tag_key, now.date());
    let found = GraceClocks::read(&snapshot.tags);
    let full = snapshot.tags.len() >= TAGS_PER_USER && found.state_value.is_none();
    let tag_slot = !full || !found.legacy_tags.is_empty();

    let mut ordered: Vec<&AccessKey> = snapshot.keys.iter().collect();
    ordered.sort_by(|a, b| (a.created, &a.access_key_id).cmp(&(b.created, &b.access_key_id)));

    if exemption.is_exempt() {
        return exempt(exemption, ordered, now);
    }

    let mut actions_used = 0;
    let mut decisions = Vec::with_capacity(ordered.len());
    let mut warnings = Vec::new();
    for key in ordered {
        let Some(limits) = Limits::for_key(key, policy, unused) else {
            let reason = "not the key the unused-access finding names".to_owned();
            decisions.push(decision(key, now, Verdict::Hold(Hold::NotNamed), reason));
            continue;
        };
        let clock = Clock::of(&found, &key.access_key_id, tag_slot);
        let (verdict, reason) = decide_key(key, clock, now, policy, limits);
        // The key an unused-access finding names is past its idle limit: nothing to warn of.
        let warned = (verdict == Verdict::Hold(Hold::Kept) && unused.is_none())
            .then(|| warning::warning(key, clock, now, policy))
            .flatten();
        let (verdict, reason) = warned.unwrap_or((verdict, reason));
        if reason.contains(FUTURE_CLOCK) {
            warnings.push(format!("{}: {reason}", key.access_key_id));
        }
        let (verdict, reason) = spend(verdict, reason, policy, (&mut actions_used, action_budget));
        decisions.push(decision(key, now, verdict, reason));
    }

    let clocks = (policy.mode != Mode::Report).then(|| ClockPlan {
        keep: clocks_kept(&found, &decisions, now),
        warned_keep: warning::records_kept(&found, &decisions),
        found,
        tag_slot,
        untag_legacy_first: full,
    });
    UserPlan {
        exemption,
        keys: decisions,
        clocks,
        warnings,
        actions_used,
    }
}

/// Spends one of the budget's actions on a verdict that counts against it, or defers it when
/// none is left.
fn spend(
    verdict: Verdict,
    reason: String,
    policy: &Policy,
    (actions_used, action_budget): (&mut u32, u32),
) -> (Verdict, String) {
    if !verdict.counts_against_cap() {
        return (verdict, reason);
    }
    if *actions_used < action_budget {
        *actions_used += 1;
        return (verdict, reason);
    }
    let cap = policy.max_actions_per_invocation;
    let reason = format!("{reason}; deferred: MAX_ACTIONS_PER_INVOCATION={cap} reached");
    (Verdict::Hold(Hold::Deferred), reason)
}

/// An exempt user gets no write of any kind, stale clocks included.
fn exempt(exemption: Exemption, keys: Vec<&AccessKey>, now: OffsetDateTime) -> UserPlan {
    let reason = exemption.reason();
    let keys = keys
        .into_iter()
        .map(|key| decision(key, now, Verdict::Hold(Hold::Exempt), reason.clone()))
        .collect();
    UserPlan {
        exemption,
        keys,
        clocks: None,
        warnings: Vec::new(),
        actions_used: 0,
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
    clock: Clock,
    now: OffsetDateTime,
    policy: &Policy,
    limits: Limits,
) -> (Verdict, String) {
    let Some(why) = over_limit(key, now, limits) else {
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
            Mode::Deactivate | Mode::Delete if clock.tag_slot => {
                (Verdict::Deactivate, format!("active, {why}"))
            }
            // Deactivating is the security action: it happens even where no clock can be
            // recorded, and without a clock the key is never deleted.
            Mode::Deactivate | Mode::Delete => {
                (Verdict::Deactivate, format!("active, {why}; {NO_TAG_SLOT}"))
            }
        },
        KeyStatus::Inactive => decide_inactive(key, clock, now, policy, &why),
    }
}

/// An Inactive key over the limits: start, wait out, or finish the grace period.
fn decide_inactive(
    key: &AccessKey,
    clock: Clock,
    now: OffsetDateTime,
    policy: &Policy,
    why: &str,
) -> (Verdict, String) {
    let deactivated_at = match usable_clock(key, clock.found, now) {
        Ok(deactivated_at) => deactivated_at,
        Err(because) => {
            return match policy.mode {
                Mode::Report => (
                    Verdict::Hold(Hold::Pending),
                    format!("inactive, {why}; {because}; would start the grace clock"),
                ),
                Mode::Deactivate | Mode::Delete if clock.tag_slot => (
                    Verdict::Mark,
                    format!("inactive, {why}; {because}; grace clock started"),
                ),
                Mode::Deactivate | Mode::Delete => (
                    Verdict::Hold(Hold::Pending),
                    format!("inactive, {why}; {because}; {NO_TAG_SLOT}"),
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
                format_instant(deactivated_at),
                describe_days(inactive_for),
                policy.delete_after_inactive_days
            ),
        );
    }

    let past_grace = format!(
        "inactive since {}, past the {}-day grace period",
        format_instant(deactivated_at),
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

/// The clocks that stay as they are: a usable clock of a key still Inactive, unless the plan
/// restarts it; a clock of a key to delete, until the deletion is done. Every other clock,
/// that of a key gone or re-activated, is dropped, so that a later manual deactivation cannot
/// inherit an old clock and be deleted early.
fn clocks_kept(
    found: &GraceClocks,
    decisions: &[KeyDecision],
    now: OffsetDateTime,
) -> BTreeMap<AccessKeyId, OffsetDateTime> {
    decisions
        .iter()
        .filter(|d| d.key.status == KeyStatus::Inactive)
        .filter(|d| !matches!(d.verdict, Verdict::Mark | Verdict::Deactivate))
        .filter_map(|d| {
            let at = usable_clock(&d.key, found.of(&d.key.access_key_id), now).ok()?;
            Some((d.key.access_key_id.clone(), at))
        })
        .collect()
}

#[cfg(test)]
mod tests;
