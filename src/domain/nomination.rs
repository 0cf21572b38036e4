//! Reads the IAM credential report (CSV) and nominates the users a sweep should look at.
//! The report can be hours old, so it only nominates: every nominee then goes through the
//! same authoritative read and the same policy as an event. Each nominee comes with what the
//! sweep orders them by (whether a key to look at is still Active, and since when it has been
//! over a limit). Pure: no I/O, no clock.

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
    /// The longest overdue of those keys (the Active ones, when `active`).
    pub overdue: Overdue,
}

/// Compares by user name alone, for the tests' `assert_eq!(nominees, ["alice"])`.
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
        if let Some(overdue) = longest {
            nominees.push(Nominee {
                user_name: row.user,
                active,
                overdue,
            });
        }
    }
    Ok(nominees)
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
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);
    const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

    fn ago(days: i64) -> String {
        (NOW - Duration::days(days))
            .format(&Rfc3339)
            .unwrap()
            .replace('Z', "+00:00")
    }

    /// One report row: (active, last_rotated, last_used) for each of the two key slots.
    fn row(user: &str, key1: (&str, &str, &str), key2: (&str, &str, &str)) -> String {
        format!(
            "{user},arn:aws:iam::123456789012:user/{user},{created},false,not_supported,N/A,N/A,false,{},{},{},us-east-1,iam,{},{},{},N/A,N/A,false,N/A,false,N/A",
            key1.0,
            key1.1,
            key1.2,
            key2.0,
            key2.1,
            key2.2,
            created = ago(900)
        )
    }

    const NO_KEY: (&str, &str, &str) = ("false", "N/A", "N/A");

    fn report(rows: &[String]) -> Vec<u8> {
        format!("{HEADER}\n{}\n", rows.join("\n")).into_bytes()
    }

    #[test]
    fn users_with_an_over_age_key_in_either_slot_active_or_not_are_nominated() {
        let csv = report(&[
            row("old-active", ("true", &ago(120), &ago(1)), NO_KEY),
            row("old-inactive", ("false", &ago(300), "N/A"), NO_KEY),
            row(
                "old-second",
                ("true", &ago(10), &ago(1)),
                ("false", &ago(100), "no_information"),
            ),
            row(
                "young",
                ("true", &ago(10), &ago(1)),
                ("true", &ago(89), &ago(1)),
            ),
            row("no-keys", NO_KEY, NO_KEY),
            format!(
                "<root_account>,arn:aws:iam::123456789012:root,{},not_supported,N/A,not_supported,not_supported,true,true,{},N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
                ago(2000),
                ago(2000)
            ),
        ]);
        let nominees = nominate(&csv, NOW, &Policy::default()).unwrap();
        assert_eq!(nominees, ["old-active", "old-inactive", "old-second"]);
    }

    #[test]
    fn idle_keys_are_nominated_only_when_the_idle_rule_is_on() {
        let csv = report(&[
            row("idle", ("true", &ago(70), &ago(65)), NO_KEY),
            row("never-used", ("true", &ago(70), "N/A"), NO_KEY),
            row("busy", ("true", &ago(70), &ago(1)), NO_KEY),
        ]);
        assert!(nominate(&csv, NOW, &Policy::default()).unwrap().is_empty());
        let idle = Policy {
            max_key_idle_days: Some(60),
            ..Policy::default()
        };
        assert_eq!(nominate(&csv, NOW, &idle).unwrap(), ["idle", "never-used"]);
    }

    #[test]
    fn an_unreadable_date_nominates_rather_than_hides_a_key() {
        let csv = report(&[row("odd", ("true", "last spring", "N/A"), NO_KEY)]);
        assert_eq!(nominate(&csv, NOW, &Policy::default()).unwrap(), ["odd"]);
    }

    /// What the sweep orders by: (user, active, overdue since how many days ago).
    fn order_keys(nominees: &[Nominee]) -> Vec<(&str, bool, Overdue)> {
        nominees
            .iter()
            .map(|n| (n.user_name.as_str(), n.active, n.overdue))
            .collect()
    }

    fn since(days_ago: i64) -> Overdue {
        Overdue::Since(NOW - Duration::days(days_ago))
    }

    #[test]
    fn each_nominee_says_whether_a_key_to_look_at_is_active_and_since_when_it_is_overdue() {
        let csv = report(&[
            // 120 days old: over the 90-day limit since 30 days ago.
            row("active", ("true", &ago(120), &ago(1)), NO_KEY),
            row("inactive", ("false", &ago(300), "N/A"), NO_KEY),
            // The Active key decides, though the Inactive one is overdue for longer.
            row(
                "both",
                ("false", &ago(400), "N/A"),
                ("true", &ago(100), &ago(1)),
            ),
            // Two Inactive keys: the longer overdue one.
            row(
                "two-inactive",
                ("false", &ago(150), "N/A"),
                ("false", &ago(200), "N/A"),
            ),
            // A young Active key is not looked at, so the user is Inactive.
            row(
                "young-active",
                ("true", &ago(10), &ago(1)),
                ("false", &ago(95), "N/A"),
            ),
            row("odd-date", ("false", "last spring", "N/A"), NO_KEY),
            row("odd-status", ("maybe", &ago(91), "N/A"), NO_KEY),
        ]);
        let nominees = nominate(&csv, NOW, &Policy::default()).unwrap();
        assert_eq!(
            order_keys(&nominees),
            [
                ("active", true, since(30)),
                ("inactive", false, since(210)),
                ("both", true, since(10)),
                ("two-inactive", false, since(110)),
                ("young-active", false, since(5)),
                ("odd-date", false, Overdue::Unknown),
                ("odd-status", true, since(1)),
            ]
        );
    }

    #[test]
    fn an_idle_key_is_overdue_from_when_it_went_idle_or_over_age_whichever_came_first() {
        let idle = Policy {
            max_key_idle_days: Some(60),
            ..Policy::default()
        };
        let csv = report(&[
            // Idle since 5 days ago; not over age.
            row("idle", ("true", &ago(70), &ago(65)), NO_KEY),
            // Over age since 110 days ago, idle since 130.
            row("both", ("true", &ago(200), &ago(190)), NO_KEY),
            // Never used: idle from its creation, so since 40 days ago.
            row("never-used", ("true", &ago(100), "N/A"), NO_KEY),
            row("odd-use", ("true", &ago(100), "yesterday"), NO_KEY),
        ]);
        let nominees = nominate(&csv, NOW, &idle).unwrap();
        assert_eq!(
            order_keys(&nominees),
            [
                ("idle", true, since(5)),
                ("both", true, since(130)),
                ("never-used", true, since(40)),
                ("odd-use", true, Overdue::Unknown),
            ]
        );
    }

    #[test]
    fn an_unknown_overdue_orders_before_every_date() {
        assert!(Overdue::Unknown < Overdue::Since(OffsetDateTime::UNIX_EPOCH));
        assert!(since(10) < since(5));
    }

    #[test]
    fn a_report_without_the_status_columns_still_nominates_counting_keys_active() {
        let header = "user,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_last_rotated,access_key_2_last_used_date";
        let csv = format!("{header}\nold,{},N/A,N/A,N/A\n", ago(100));
        let nominees = nominate(csv.as_bytes(), NOW, &Policy::default()).unwrap();
        assert_eq!(order_keys(&nominees), [("old", true, since(10))]);
    }

    #[test]
    fn a_report_that_is_not_the_credential_report_is_an_error() {
        assert!(nominate(b"user,arn\nalice,arn:x\n", NOW, &Policy::default()).is_err());
    }

    #[test]
    fn an_empty_report_nominates_nobody() {
        assert!(
            nominate(format!("{HEADER}\n").as_bytes(), NOW, &Policy::default())
                .unwrap()
                .is_empty()
        );
    }
}
