//! The sweep's order: users left out by the cap or the deadline come first next time.

use time::Duration as Days;
use time::macros::datetime;

use super::*;
use crate::aws::accounts::AccountClients;
use crate::aws::fake::{FakeFindings, FakeIam, FakeInventory};
use crate::domain::nomination::{Nominee as Nominated, Overdue};
use crate::domain::policy::Policy;
use crate::domain::user::KeyStatus;
use crate::report::Action;
use crate::settings::Settings;
use crate::triggers::Work;

const NOW: OffsetDateTime = datetime!(2026-11-22 03:00 UTC);

fn nominee(user_name: &str, active: bool, overdue_days: Option<i64>) -> Nominated {
    Nominated {
        user_name: user_name.to_owned(),
        active,
        overdue: overdue_days.map_or(Overdue::Unknown, |days| {
            Overdue::Since(NOW - Days::days(days))
        }),
    }
}

/// The nominees as the sweep takes them.
fn in_sweep_order(nominees: Vec<Nominated>) -> Vec<Nominated> {
    let order = crate::domain::nomination::sweep_order(&nominees);
    order.into_iter().map(|row| nominees[row].clone()).collect()
}

fn names(nominees: &[Nominated]) -> Vec<&str> {
    nominees.iter().map(|n| n.user_name.as_str()).collect()
}

#[test]
fn active_keys_come_first_then_the_longest_overdue_then_report_order() {
    let report_order = vec![
        nominee("a-inactive-long", false, Some(400)),
        nominee("b-active-new", true, Some(1)),
        nominee("c-active-long", true, Some(300)),
        nominee("d-inactive-new", false, Some(20)),
        nominee("e-active-tie", true, Some(50)),
        nominee("f-active-tie", true, Some(50)),
        nominee("g-active-odd", true, None),
        nominee("h-inactive-odd", false, None),
    ];

    let order = in_sweep_order(report_order);

    assert_eq!(
        names(&order),
        [
            "g-active-odd",
            "c-active-long",
            "e-active-tie",
            "f-active-tie",
            "b-active-new",
            "h-inactive-odd",
            "a-inactive-long",
            "d-inactive-new",
        ]
    );
}

/// The day after a sweep cut short (by the budget or the deadline) after its first three
/// users: those it deactivated are Inactive in the new report; those it left are not.
#[test]
fn the_users_a_cut_short_sweep_left_come_before_those_it_deactivated() {
    let day_one = in_sweep_order(
        (0..6)
            .map(|n| nominee(&format!("user-{n}"), true, Some(100 - n)))
            .collect(),
    );
    let (handled, left) = day_one.split_at(3);
    assert_eq!(names(handled), ["user-0", "user-1", "user-2"]);

    let deactivated = handled.iter().map(|n| Nominated {
        active: false,
        ..n.clone()
    });
    let day_two = in_sweep_order(deactivated.chain(left.iter().cloned()).collect());

    assert_eq!(
        names(&day_two),
        ["user-3", "user-4", "user-5", "user-0", "user-1", "user-2"]
    );
}

#[test]
fn a_key_that_goes_over_the_limit_later_never_overtakes_one_already_waiting() {
    let waiting = nominee("z-waiting", true, Some(30));
    let mut nominees = vec![waiting];
    for day in 1..=100 {
        // Each day a newcomer, first in report order; the waiting key ages a day too.
        nominees.insert(0, nominee(&format!("a-new-{day:03}"), true, Some(1)));
        nominees = in_sweep_order(nominees);
        assert_eq!(nominees[0].user_name, "z-waiting", "day {day}");
        for n in &mut nominees {
            if let Overdue::Since(at) = &mut n.overdue {
                *at -= Days::days(1);
            }
        }
    }
}

fn capped(actions: u32) -> Settings {
    Settings {
        policy: Policy {
            max_actions_per_invocation: actions,
            ..Policy::default()
        },
        ..Settings::default()
    }
}

async fn sweep(iam: &FakeIam, settings: Settings) -> Report {
    let clients = AccountClients {
        iam: iam.clone(),
        inventory: FakeInventory::empty(),
        findings: FakeFindings::default(),
    };
    let remediator = Remediator::new(settings, clients);
    let work = Work::Sweep {
        account: None,
        accounts: Vec::new(),
    };
    let outcome = remediator
        .run(work, None, None)
        .await
        .expect("the sweep runs");
    assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
    outcome.report
}

fn users_with(report: &Report, action: Action) -> Vec<String> {
    let users = report.users.iter();
    let acted = users.filter(|u| u.keys.iter().any(|k| k.action == action));
    acted.map(|u| u.user_name.clone()).collect()
}

/// An account with more over-age users than MAX_ACTIONS_PER_INVOCATION, last in the
/// report, and each day as many new over-age users as the cap, first in the report. In
/// report order the newcomers would take the whole budget every day and the others wait
/// forever; in the sweep's order every one of them is deactivated within ceil(N / cap)
/// sweeps, longest overdue first, and a sweep takes those the last one deferred before
/// those it handled.
#[tokio::test]
async fn consecutive_capped_sweeps_reach_every_over_age_user_within_n_over_cap_sweeps() {
    const WAITING: u32 = 10;
    const CAP: u32 = 3;
    let iam = FakeIam::new();
    let now = OffsetDateTime::now_utc();
    // `z-waiting-09` is the oldest (290 days), `z-waiting-00` the youngest (200).
    let waiting: Vec<String> = (0..WAITING).map(|n| format!("z-waiting-{n:02}")).collect();
    for (n, name) in (0..).zip(&waiting) {
        iam.add_user(name, &format!("AIDAWAITING{n:02}"));
        let created = now - Days::days(200 + 10 * n);
        iam.add_key(
            name,
            &format!("AKIAWAITINGKEY{n:06}"),
            KeyStatus::Active,
            created,
            None,
        );
    }
    let sweeps = WAITING.div_ceil(CAP);
    let mut deferred_yesterday: Vec<String> = Vec::new();
    for day in 0..sweeps {
        for n in 0..CAP {
            let name = format!("a-new-{day}-{n}");
            iam.add_user(&name, &format!("AIDANEW{day}{n}"));
            let created = now - Days::days(91);
            let key = format!("AKIANEWKEY{day:05}{n:05}");
            iam.add_key(&name, &key, KeyStatus::Active, created, None);
        }

        let report = sweep(&iam, capped(CAP)).await;
        let listed: Vec<&str> = report.users.iter().map(|u| u.user_name.as_str()).collect();
        assert!(listed.is_sorted(), "listed in report order: {listed:?}");

        // The whole budget is spent, the longest overdue first: the oldest waiting users
        // while any are left, newcomers only then.
        let deactivated = users_with(&report, Action::Deactivated);
        assert_eq!(deactivated.len(), CAP as usize, "sweep {}", day + 1);
        let oldest_left = waiting.iter().rev().skip(day as usize * CAP as usize);
        let mut expected: Vec<&String> = oldest_left.take(CAP as usize).collect();
        expected.sort();
        let waiting_deactivated: Vec<&String> = deactivated
            .iter()
            .filter(|name| name.starts_with("z-"))
            .collect();
        assert_eq!(waiting_deactivated, expected, "sweep {}", day + 1);
        // Each went to a user the last sweep deferred, before any user it had handled.
        if day > 0 {
            for name in &deactivated {
                assert!(
                    deferred_yesterday.contains(name),
                    "sweep {}: {name}",
                    day + 1
                );
            }
        }
        deferred_yesterday = users_with(&report, Action::Deferred);
    }

    for name in &waiting {
        let keys = iam.keys(name);
        assert_eq!(keys[0].status, KeyStatus::Inactive, "{name}");
    }
}
