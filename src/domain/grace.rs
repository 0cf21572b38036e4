//! The grace clock of one key: whether what the user's tags say can be trusted, and the plan
//! for the user's clocks that carrying out the decisions leaves behind.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use crate::domain::ids::AccessKeyId;
use crate::domain::marker::{GraceClocks, format_instant, parse_instant};
use crate::domain::user::AccessKey;

/// How far ahead of `now` a grace clock may be before it cannot be trusted: clocks of other
/// machines drift, but a clock dated days ahead would keep a key pending forever.
const CLOCK_SKEW_ALLOWED: Duration = Duration::minutes(5);

/// The grace clocks as found, and those that stay once the plan is carried out. The clocks
/// the plan starts (`Deactivate`, `Mark`) are added by whoever carries it out, with the
/// instant the key was deactivated; those of deleted keys are dropped once the key is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockPlan {
    pub found: GraceClocks,
    /// Clocks of keys still Inactive and over the limits, whose clock is usable, and of keys
    /// to delete. A clock of a key gone, re-activated, or whose clock restarts is not here.
    pub keep: BTreeMap<AccessKeyId, OffsetDateTime>,
    /// Warning records that stay: those of keys still Active. The warnings the plan sends
    /// (`Warn`) are added by whoever sends them; a key deactivated, deleted or gone loses its
    /// record (a grace clock replaces it, or there is no key left to warn about).
    pub warned_keep: BTreeMap<AccessKeyId, OffsetDateTime>,
    /// Whether the state tag can be written: the user has it already, has legacy tags it
    /// replaces, or has a free tag slot.
    pub tag_slot: bool,
    /// The user's tags are all used and only legacy tags can make room: remove those first.
    pub untag_legacy_first: bool,
}

/// One key's grace clock as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock<'a> {
    /// The clock's value as found, if the key has one.
    pub found: Option<&'a str>,
    /// Whether a new clock can be recorded for the key.
    pub tag_slot: bool,
    /// When the key's owner was warned, if the state tag records it.
    pub warned_at: Option<OffsetDateTime>,
}

impl<'a> Clock<'a> {
    /// What the user's tags record for `key`.
    pub(super) fn of(found: &'a GraceClocks, key: &AccessKeyId, tag_slot: bool) -> Self {
        Clock {
            found: found.of(key),
            tag_slot,
            warned_at: found.warned_at(key),
        }
    }
}

pub(super) const FUTURE_CLOCK: &str = "is in the future";

pub(super) const NO_TAG_SLOT: &str = "no tag slot for the grace clock (50 of 50 tags used): the key will \
                           not be deleted until one is free";

/// When the key's clock says we deactivated it, or why the grace clock must start again.
pub(super) fn usable_clock(
    key: &AccessKey,
    clock: Option<&str>,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, String> {
    let Some(marker) = clock else {
        return Err("no deactivation marker".to_owned());
    };
    let Some(deactivated_at) = parse_instant(marker) else {
        return Err(format!(
            "marker value {marker:?} is not an RFC 3339 instant"
        ));
    };
    if deactivated_at > now + CLOCK_SKEW_ALLOWED {
        return Err(format!(
            "marker's {} {FUTURE_CLOCK}",
            format_instant(deactivated_at)
        ));
    }
    if deactivated_at < key.created {
        // A marker older than its key cannot record this key's deactivation (a hand-made
        // or copied tag): trusting it would delete a key nobody watched go unused.
        return Err(format!(
            "marker's {} is before the key was created",
            format_instant(deactivated_at)
        ));
    }
    if let Some(last_used) = key.last_used
        && last_used > deactivated_at
    {
        // Someone re-activated and used the key after we deactivated it: the grace period
        // of inactivity it was meant to measure did not happen.
        return Err(format!(
            "used at {} after the marker's {}",
            format_instant(last_used),
            format_instant(deactivated_at)
        ));
    }
    Ok(deactivated_at)
}
