//! The sweep: the credential report nominates users, and each goes through the same read,
//! policy and apply as an event, SWEEP_CONCURRENCY at a time, within one action budget and
//! the Lambda deadline. A sweep of listed accounts runs them one after another.
//!
//! Nominees are taken in an order that lets a sweep cut short (by the budget or the deadline)
//! be followed by one that reaches the users it left out first: see `sweep_order`.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::outcome::{Outcome, RemediationError, error_chain};
use super::remediator::{Remediator, remediate_user};
use super::snapshot::Budget;
use crate::aws::accounts::{AccountClients, HomeAccount};
use crate::aws::{AwsError, IamDirectory, IamWrites, UserInventory};
use crate::domain::ids::AccountId;
use crate::domain::nomination::{self, nominate};
use crate::domain::policy::Mode;
use crate::report::{Report, Trigger, UserReport};

/// A sweep starts no new user once the Lambda deadline is this close: enough for the users
/// in flight to finish their few calls, and for the report to be returned.
pub const SWEEP_DEADLINE_MARGIN: Duration = Duration::from_secs(15);

/// What became of one nominee.
enum Nominee {
    Done(UserReport, Vec<AwsError>),
    Gone,
    ReadFailed(AwsError),
    NotStarted(String),
}

impl<I: IamDirectory + IamWrites, C: UserInventory> Remediator<I, C> {
    /// Sweeps one account, spending from the invocation's `budget`.
    pub(super) async fn sweep(
        &self,
        at: &AccountClients<I, C>,
        account: Option<AccountId>,
        deadline: Option<Instant>,
        budget: &Budget,
    ) -> Result<Outcome, RemediationError> {
        let now = OffsetDateTime::now_utc();
        let policy = &self.settings.policy;
        let csv = at
            .iam
            .credential_report()
            .await
            .map_err(RemediationError::CredentialReport)?;
        let nominees = nominate(&csv, now, policy)?;
        info!(
            nominees = nominees.len(),
            active = nominees.iter().filter(|n| n.active).count(),
            "sweep: users nominated by the credential report"
        );

        // Taken in the sweep order (`buffered` keeps it), reported in the credential report's,
        // so two sweeps of an account in one state read alike.
        let taken = sweep_order(&nominees).into_iter();
        let taken = taken.map(|at_row| (at_row, nominees[at_row].user_name.clone()));
        let mut swept: Vec<(usize, Nominee)> = stream::iter(taken)
            .map(|(at_row, user_name)| async move {
                if out_of_time(deadline) {
                    return (at_row, Nominee::NotStarted(user_name));
                }
                let nominee =
                    match remediate_user(at, policy, (&user_name, None), now, budget).await {
                        Ok(Some(done)) => Nominee::Done(done.report, done.failures),
                        Ok(None) => Nominee::Gone,
                        Err(error) => Nominee::ReadFailed(error),
                    };
                (at_row, nominee)
            })
            .buffered(self.settings.sweep_concurrency)
            .collect()
            .await;
        swept.sort_unstable_by_key(|(at_row, _)| *at_row);

        let (report, failures) = sweep_report(policy.mode, account, swept);
        Ok(Outcome::with_failed_calls(report, failures))
    }

    /// Sweeps each listed account in turn, one action budget across them all. One account's
    /// failure does not stop the others; it fails the invocation once they are done.
    pub(super) async fn sweep_accounts(
        &self,
        account: Option<AccountId>,
        accounts: Vec<AccountId>,
        deadline: Option<Instant>,
        home: Option<&HomeAccount>,
    ) -> Outcome {
        let budget = Budget::new(self.settings.policy.max_actions_per_invocation);
        let mut reports = Vec::with_capacity(accounts.len());
        let mut deferred_accounts = Vec::new();
        let mut failures = Vec::new();
        for swept in accounts {
            if out_of_time(deadline) {
                deferred_accounts.push(swept);
                continue;
            }
            let (report, failure) = self.sweep_member(&swept, deadline, home, &budget).await;
            reports.extend(report);
            if let Some(error) = failure {
                tracing::error!(account = %swept, error = %error_chain(&error), "account sweep failed");
                failures.push((swept, error));
            }
        }
        if !deferred_accounts.is_empty() {
            warn!(
                deferred = deferred_accounts.len(),
                "sweep: Lambda deadline near; the remaining accounts are left to the next sweep"
            );
        }
        let report = Report::of_accounts(
            self.settings.policy.mode,
            account,
            reports,
            deferred_accounts,
        );
        let failed = failures.len();
        let failure =
            failures
                .into_iter()
                .next()
                .map(|(account, first)| RemediationError::Accounts {
                    failed,
                    account,
                    first: Box::new(first),
                });
        Outcome { report, failure }
    }

    /// One account of a sweep of listed accounts: its report, with the calls made in it, as
    /// far as it got, and what failed.
    async fn sweep_member(
        &self,
        account: &AccountId,
        deadline: Option<Instant>,
        home: Option<&HomeAccount>,
        budget: &Budget,
    ) -> (Option<Report>, Option<RemediationError>) {
        let calls_before = self.api_calls.snapshot();
        let result = match self.clients_for(Some(account), home).await {
            Ok(at) => {
                self.sweep(&at, Some(account.clone()), deadline, budget)
                    .await
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(Outcome {
                mut report,
                failure,
            }) => {
                report.api_calls = self.api_calls.since(&calls_before);
                (Some(report), failure)
            }
            Err(error) => (None, Some(error)),
        }
    }
}

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
fn sweep_order(nominees: &[nomination::Nominee]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..nominees.len()).collect();
    // `!active` puts Active (false) first.
    order.sort_unstable_by_key(|&row| (!nominees[row].active, nominees[row].overdue, row));
    order
}

/// The sweep's report from what became of each nominee, in credential-report order, and the
/// calls that failed for good.
fn sweep_report(
    mode: Mode,
    account: Option<AccountId>,
    swept: Vec<(usize, Nominee)>,
) -> (Report, Vec<AwsError>) {
    let mut users = Vec::new();
    let mut deferred_users = Vec::new();
    let mut failures = Vec::new();
    for (_, nominee) in swept {
        match nominee {
            Nominee::Done(report, failed) => {
                users.push(report);
                failures.extend(failed);
            }
            Nominee::Gone => {}
            Nominee::ReadFailed(error) => failures.push(error),
            Nominee::NotStarted(user_name) => deferred_users.push(user_name),
        }
    }
    if !deferred_users.is_empty() {
        warn!(
            deferred = deferred_users.len(),
            "sweep: Lambda deadline near; the remaining users are left to the next sweep"
        );
    }
    let mut report = Report::new(Trigger::Sweep, mode, account, users);
    report.deferred_users = deferred_users;
    (report, failures)
}

/// Whether the Lambda deadline is too close to start another user or account.
fn out_of_time(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| {
        deadline.saturating_duration_since(Instant::now()) < SWEEP_DEADLINE_MARGIN
    })
}

#[cfg(test)]
mod tests {
    use time::Duration as Days;
    use time::macros::datetime;

    use super::*;
    use crate::aws::fake::{FakeIam, FakeInventory};
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
        let order = sweep_order(&nominees);
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
        let remediator = Remediator::new(settings, iam.clone(), FakeInventory::empty());
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
}
