//! Reads the IAM credential report (CSV) and nominates the users a sweep should look at.
//! The report can be hours old, so it only nominates: every nominee then goes through the
//! same authoritative read and the same policy as an event. Pure: no I/O, no clock.

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
    access_key_1_last_rotated: String,
    access_key_1_last_used_date: String,
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

/// The user names whose keys may need action, in report order.
pub fn nominate(
    csv: &[u8],
    now: OffsetDateTime,
    policy: &Policy,
) -> Result<Vec<String>, ReportError> {
    let mut reader = csv::Reader::from_reader(csv);
    let mut nominees = Vec::new();
    for row in reader.deserialize::<Row>() {
        let row = row?;
        if row.user == ROOT_ACCOUNT {
            continue;
        }
        let keys = [
            (
                &row.access_key_1_last_rotated,
                &row.access_key_1_last_used_date,
            ),
            (
                &row.access_key_2_last_rotated,
                &row.access_key_2_last_used_date,
            ),
        ];
        let nominated = keys.iter().any(|(rotated, used)| {
            key_needs_a_look(report_date(rotated), report_date(used), now, policy)
        });
        if nominated {
            nominees.push(row.user);
        }
    }
    Ok(nominees)
}

fn key_needs_a_look(
    rotated: ReportDate,
    used: ReportDate,
    now: OffsetDateTime,
    policy: &Policy,
) -> bool {
    let older_than = |at: OffsetDateTime, days: u32| now - at > Duration::days(days.into());
    match rotated {
        // No key in this slot.
        ReportDate::None => false,
        // Nominating costs a few reads; missing an over-age key costs compliance.
        ReportDate::Unreadable => true,
        ReportDate::At(created) => {
            if older_than(created, policy.max_key_age_days) {
                return true;
            }
            let Some(idle_days) = policy.max_key_idle_days else {
                return false;
            };
            match used {
                ReportDate::At(last_used) => older_than(last_used, idle_days),
                ReportDate::None => older_than(created, idle_days),
                ReportDate::Unreadable => true,
            }
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
