//! The credential report's nominations: who is looked at, and what the sweep orders by.

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
    // An 89-day key is within the limit (warnings, which it is near, are tested below).
    let nominees = nominate(&csv, NOW, &no_warnings()).unwrap();
    assert_eq!(nominees, ["old-active", "old-inactive", "old-second"]);
}

fn no_warnings() -> Policy {
    Policy {
        warn_before_days: 0,
        ..Policy::default()
    }
}

#[test]
fn active_keys_near_a_limit_are_nominated_to_be_warned_after_every_key_over_one() {
    let csv = report(&[
        row("near", ("true", &ago(85), &ago(1)), NO_KEY),
        row("nearer", ("true", &ago(89), &ago(1)), NO_KEY),
        row("not-yet", ("true", &ago(83), &ago(1)), NO_KEY),
        row("near-inactive", ("false", &ago(88), &ago(1)), NO_KEY),
        row("over-inactive", ("false", &ago(300), "N/A"), NO_KEY),
        row("over-active", ("true", &ago(91), &ago(1)), NO_KEY),
    ]);
    let nominees = nominate(&csv, NOW, &Policy::default()).unwrap();
    assert_eq!(
        order_keys(&nominees),
        [
            ("near", false, since(-5)),
            ("nearer", false, since(-1)),
            ("over-inactive", false, since(210)),
            ("over-active", true, since(1)),
        ]
    );
    // The sweep's order, (!active, overdue): deactivation, deletion, then warnings.
    let mut order = order_keys(&nominees);
    order.sort_by_key(|(_, active, overdue)| (!active, *overdue));
    let names: Vec<&str> = order.iter().map(|(name, ..)| *name).collect();
    assert_eq!(names, ["over-active", "over-inactive", "nearer", "near"]);

    let off = nominate(&csv, NOW, &no_warnings()).unwrap();
    assert_eq!(off, ["over-inactive", "over-active"]);
}

#[test]
fn keys_near_the_idle_limit_are_nominated_when_that_rule_is_on() {
    let csv = report(&[
        row("idle-soon", ("true", &ago(20), &ago(55)), NO_KEY),
        row("never-used", ("true", &ago(57), "N/A"), NO_KEY),
        row("busy", ("true", &ago(20), &ago(1)), NO_KEY),
    ]);
    assert!(nominate(&csv, NOW, &Policy::default()).unwrap().is_empty());
    let idle = Policy {
        max_key_idle_days: Some(60),
        ..Policy::default()
    };
    assert_eq!(
        order_keys(&nominate(&csv, NOW, &idle).unwrap()),
        [
            ("idle-soon", false, since(-5)),
            ("never-used", false, since(-3)),
        ]
    );
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
