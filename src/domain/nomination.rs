//! Reads the IAM credential report (CSV) and nominates the users a sweep should look at.
//! The report can be hours old, so it only nominates: every nominee then goes through the
//! same authoritative read and the same policy as an event. Each nominee comes with what the
//! sweep orders them by (whether a key to look at is still Active, and since when it has been
//! over a limit). Users whose only keys to look at are Active and within WARN_BEFORE_DAYS of a
//! limit are nominated too: the sweep is what warns them, since Config sends events only
//! after the limit. Pure: no I/O, no clock.

use serde::Deserialize;
use thiserror::Error;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::domain::policy::Policy;

/// The report's row for the account's root user, which has no IAM user to remediate.
const ROOT_ACCOUNT: &str = "<root_account>";

#[derive(Debug, Error)]
#[error("the IAM credential report is not readable CSV")]
pub struct ReportError(#[from] csv::Error);

/// The columns we read; the report has more, which are ignored.
#[derive(Debug, Deserialize)]
struct Row {
    user: String,
    /// `true` or `false`. Only orders the nominees, so a report without it still nominates.
    #[serde(default)]
    access_key_1_active: String,
    access_key_1_last_rotated: String,
    access_key_1_last_used_date: String,
    #[serde(default)]
    access_key_2_active: String,
    access_key_2_last_rotated: String,
    access_key_2_last_used_date: String,
}

/// A report date: an ISO 8601 instant, or one of IAM's placeholders (`N/A`,
/// `no_information`, `not_supported`) meaning there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportDate {
    None,
    At(OffsetDateTime),
    Unreadable,
}

fn report_date(text: &str) -> ReportDate {
    match text.trim() {
        "" | "N/A" | "no_information" | "not_supported" => ReportDate::None,
        text => OffsetDateTime::parse(text, &Rfc3339)
            .map(ReportDate::At)
            .unwrap_or(ReportDate::Unreadable),
    }
}

/// Since when a key has been over a limit, by the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Overdue {
    /// A date the report gives cannot be read, so it may be the longest overdue of all.
    /// Orders before every known date.
    Unknown,
    /// The instant the key went over MAX_KEY_AGE_DAYS (or MAX_KEY_IDLE_DAYS), whichever came
    /// first.
    Since(OffsetDateTime),
}

/// A user the credential report nominates, with what the sweep orders nominees by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nominee {
    pub user_name: String,
    /// Whether a key that needs a look is Active by the report, so a deactivation (the security
    /// action) may be due. Otherwise every such key is Inactive, and at most a deletion is.
    /// A status the report does not give as `false` counts as Active.
    pub active: bool,
    /// The longest overdue of those keys (the Active ones, when `active`). For a user with
    /// only keys to warn about (`active` is then false: no deactivation is due), the instant
    /// the first will reach its limit, in the future: such users come after every user with
    /// a key over a limit, nearest first.
    pub overdue: Overdue,
}

/// Compares by user name alone, for the tests' `assert_eq!(nominees, ["alice"])`.
/// The order a sweep takes (not reports) its nominees in, so that a sweep cut short by the action budget
/// or the deadline is followed by one that reaches the users it left out before those it
/// handled (the function keeps no cursor between invocations; the credential report is the
/// state):
///
/// 1. Users with an over-limit key still Active (a deactivation, the security action, is due)
///    before those whose over-limit keys are all Inactive (a deletion at most). A user a sweep
///    deactivated is Inactive in the next day's report, and moves back.
/// 2. Within each, the key longest overdue first (an unreadable date first of all), then
///    report order. A key that goes over a limit later joins behind every key already waiting,
///    so a waiting key is never overtaken by a newcomer however many arrive: the queue is
///    first come, first served, and the budget goes to the longest exposure.
///
/// Returns the nominees' positions (their rows in the report) in that order. Pure: the same
/// nominees always come out in the same order.
pub fn sweep_order(nominees: &[Nominee]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..nominees.len()).collect();
    // `!active` puts Active (false) first.
    order.sort_unstable_by_key(|&row| (!nominees[row].active, nominees[row].overdue, row));
    order
}

#[cfg(test)]
impl PartialEq<&str> for Nominee {
    fn eq(&self, user_name: &&str) -> bool {
        self.user_name == *user_name
    }
}

/// The users whose keys may need action, in report order.
pub fn nominate(
    csv: &[u8],
    now: OffsetDateTime,
    policy: &Policy,
) -> Result<Vec<Nominee>, ReportError> {
    let mut reader = csv::Reader::from_reader(csv);
    let mut nominees = Vec::new();
    for row in reader.deserialize::<Row>() {
        let row = row?;
        if row.user == ROOT_ACCOUNT {
            continue;
        }
        nominees.extend(nominee(row, now, policy));
    }
    Ok(nominees)
}

/// The row's user as a nominee, when a key of theirs is over a limit or, Active, near one.
fn nominee(row: Row, now: OffsetDateTime, policy: &Policy) -> Option<Nominee> {
    let keys = [
        (
            &row.access_key_1_active,
            &row.access_key_1_last_rotated,
            &row.access_key_1_last_used_date,
        ),
        (
            &row.access_key_2_active,
            &row.access_key_2_last_rotated,
            &row.access_key_2_last_used_date,
        ),
    ];
    let flagged: Vec<(bool, Overdue)> = keys
        .iter()
        .filter_map(|(active, rotated, used)| {
            let overdue = overdue(report_date(rotated), report_date(used), now, policy)?;
            Some((active.trim() != "false", overdue))
        })
        .collect();
    let active = flagged.iter().any(|(active_key, _)| *active_key);
    let longest = flagged
        .iter()
        .filter(|(active_key, _)| *active_key == active)
        .map(|(_, overdue)| *overdue)
        .min();
    let to_warn = || {
        keys.iter()
            .filter(|(active, ..)| active.trim() != "false")
            .filter_map(|(_, rotated, used)| {
                nearing(report_date(rotated), report_date(used), now, policy)
            })
            .min()
            .map(Overdue::Since)
    };
    // A user to warn only has no key over a limit, so `active` is false: it comes after
    // every deactivation (and, its date being in the future, every deletion).
    let overdue = longest.or_else(to_warn)?;
    Some(Nominee {
        user_name: row.user,
        active,
        overdue,
    })
}

/// When the key in one slot, within the limits, reaches the first of them, if that is within
/// `warn_before_days`; `None` with warnings off, when it is not near, or there is no key.
/// Unreadable dates have made the key a nominee already (`overdue`).
fn nearing(
    rotated: ReportDate,
    used: ReportDate,
    now: OffsetDateTime,
    policy: &Policy,
) -> Option<OffsetDateTime> {
    let ReportDate::At(created) = rotated else {
        return None;
    };
    if policy.warn_before_days == 0 {
        return None;
    }
    let window = Duration::days(policy.warn_before_days.into());
    let reaches = |at: OffsetDateTime, days: u32| {
        let limit_at = at.checked_add(Duration::days(days.into()))?;
        (limit_at - window < now).then_some(limit_at)
    };
    let by_age = reaches(created, policy.max_key_age_days);
    let by_idle = match (policy.max_key_idle_days, used) {
        (Some(days), ReportDate::At(last_used)) => reaches(last_used, days),
        (Some(days), ReportDate::None) => reaches(created, days),
        (None, _) | (Some(_), ReportDate::Unreadable) => None,
    };
    by_age.into_iter().chain(by_idle).min()
}

/// Since when the key in one slot has been over a limit; `None` when it is within them, or
/// there is no key in the slot.
fn overdue(
    rotated: ReportDate,
    used: ReportDate,
    now: OffsetDateTime,
    policy: &Policy,
) -> Option<Overdue> {
    // Over the limit when older than it; the limit was then crossed `days` after `at`, in
    // the past (so the addition cannot overflow).
    let crossed = |at: OffsetDateTime, days: u32| {
        let limit = Duration::days(days.into());
        (now - at > limit).then(|| at + limit)
    };
    match rotated {
        // No key in this slot.
        ReportDate::None => None,
        // Nominating costs a few reads; missing an over-age key costs compliance.
        ReportDate::Unreadable => Some(Overdue::Unknown),
        ReportDate::At(created) => {
            let by_age = crossed(created, policy.max_key_age_days);
            let by_idle = match (policy.max_key_idle_days, used) {
                (None, _) => None,
                (Some(days), ReportDate::At(last_used)) => crossed(last_used, days),
                (Some(days), ReportDate::None) => crossed(created, days),
                (Some(_), ReportDate::Unreadable) => return Some(Overdue::Unknown),
            };
            by_age.into_iter().chain(by_idle).min().map(Overdue::Since)
        }
    }
}

#[cfg(test)]
mod tests;
