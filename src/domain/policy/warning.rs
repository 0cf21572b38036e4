//! Warnings before action: an Active key within the limits but within `warn_before_days` of
//! one gets one warning, recorded in the user's state tag so that it is sent once per key and
//! never daily. Only `decide` warns; the key an unused-access finding names is past its limit.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use super::{Hold, KeyDecision, Mode, Policy, Verdict};
use crate::domain::grace::Clock;
use crate::domain::ids::AccessKeyId;
use crate::domain::limits::describe_days;
use crate::domain::marker::GraceClocks;
use crate::domain::marker::format_instant;
use crate::domain::user::{AccessKey, KeyStatus};

/// The verdict for a key `decide` found within the limits: a warning when it is Active and
/// near one of them, else `None` (the key is simply kept).
///
/// A warning is no key write, so it never counts against MAX_ACTIONS_PER_INVOCATION: a cap
/// spent on deactivations does not hold back the notice that prevents the next one.
pub(super) fn warning(
    key: &AccessKey,
    clock: Clock,
    now: OffsetDateTime,
    policy: &Policy,
) -> Option<(Verdict, String)> {
    let (limit_at, limit) = nearest_limit(key, now, policy)?;
    let nearing = format!(
        "active, within limits: reaches {limit} on {}, in {}",
        format_instant(limit_at),
        describe_days(limit_at - now),
    );
    Some(if let Some(warned_at) = clock.warned_at {
        let reason = format!("{nearing}; warned at {}", format_instant(warned_at));
        (Verdict::Hold(Hold::Kept), reason)
    } else if policy.mode == Mode::Report {
        (Verdict::Hold(Hold::WouldWarn), nearing)
    } else if !clock.tag_slot {
        // Unrecorded, the warning would go out again every sweep.
        let reason = format!(
            "{nearing}; no tag slot to record a warning (50 of 50 tags used), so none is sent"
        );
        (Verdict::Hold(Hold::Kept), reason)
    } else {
        (Verdict::Warn, nearing)
    })
}

/// The limit an Active key reaches first, when that is within `warn_before_days`: when, and
/// which. `None` with warnings off (0 days), or for an Inactive key (nothing to warn about:
/// it is not in use, and a key over the limits is decided elsewhere).
fn nearest_limit(
    key: &AccessKey,
    now: OffsetDateTime,
    policy: &Policy,
) -> Option<(OffsetDateTime, String)> {
    if policy.warn_before_days == 0 || key.status != KeyStatus::Active {
        return None;
    }
    let window = Duration::days(policy.warn_before_days.into());
    // When the key reaches a limit `days` after `since`, if that is within the window. A limit
    // too far off to be a date (a model's "no limit") is never near.
    let near = |since: OffsetDateTime, days: u32, limit: String| {
        let span = Duration::days(days.into());
        let at = since.checked_add(span)?;
        (now - since > span - window).then_some((at, limit))
    };
    let by_age = near(
        key.created,
        policy.max_key_age_days,
        format!("the {}-day age limit", policy.max_key_age_days),
    );
    let by_idle = policy.max_key_idle_days.and_then(|idle| {
        let since = key.last_used.unwrap_or(key.created);
        near(since, idle, format!("the {idle}-day idle limit"))
    });
    by_age.into_iter().chain(by_idle).min_by_key(|(at, _)| *at)
}

/// The warning records that stay as they are: those of keys still Active (the keys this plan
/// warns get theirs from whoever sends the warning). A key deactivated, Inactive, or gone
/// from the snapshot (rotated by its owner) loses its record.
pub(super) fn records_kept(
    found: &GraceClocks,
    decisions: &[KeyDecision],
) -> BTreeMap<AccessKeyId, OffsetDateTime> {
    decisions
        .iter()
        .filter(|d| d.key.status == KeyStatus::Active)
        .filter_map(|d| {
            let at = found.warned_at(&d.key.access_key_id)?;
            Some((d.key.access_key_id.clone(), at))
        })
        .collect()
}
