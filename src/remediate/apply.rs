//! Apply: the plan's verdicts, turned into IAM writes, and what each write came to. A key is
//! reported `deactivated`, `deleted` or `marked` only when IAM said so; when IAM answers that
//! the key or its user is gone, it says which, and claims nothing.
//!
//! Key writes come first, each clock taken right after its deactivation succeeds; then one
//! write of the user's state tag records every clock and every warning at once (and folds in
//! legacy tags). A key is reported `warned` only when that write succeeded: the record is what
//! keeps the warning from going out again, and the notice is sent for what the report says.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use tracing::info;

use super::outcome::error_chain;
use crate::aws::{AwsError, IamDirectory, IamUser, IamWrites, WriteOutcome};
use crate::domain::ids::{AccessKeyId, UserId};
use crate::domain::marker::{STATE_TAG_KEY, state_value};
use crate::domain::policy::{ClockPlan, KeyDecision, UserPlan, Verdict};
use crate::domain::user::KeyStatus;
use crate::report::{Action, KeyReport};

/// What carrying out one user's plan came to.
pub struct Applied {
    /// One per decision, in the plan's order.
    pub keys: Vec<KeyReport>,
    /// The calls that failed for good; the keys they concern say so.
    pub failures: Vec<AwsError>,
    /// IAM answered that the user no longer exists under this name (deleted or renamed).
    pub user_gone: bool,
}

/// A key's result before the clocks are written.
struct KeyResult {
    action: Action,
    reason: String,
    /// The clock this key now needs: started at an instant, dropped, or as it was.
    clock: Clock,
    /// When this run warned about the key: a warning record to write.
    warned: Option<OffsetDateTime>,
}

enum Clock {
    Start(OffsetDateTime),
    Drop,
    AsItWas,
}

/// Carries out one user's plan.
pub async fn apply<I: IamDirectory + IamWrites>(
    iam: &I,
    (user_name, user_id): (&str, Option<&UserId>),
    plan: &UserPlan,
    now: OffsetDateTime,
) -> Applied {
    let mut applied = Applied {
        keys: Vec::with_capacity(plan.keys.len()),
        failures: Vec::new(),
        user_gone: false,
    };
    let statuses_now = match statuses_before_deleting(iam, user_name, plan).await {
        Ok(statuses) => Some(statuses),
        Err(error) => {
            applied.failures.push(error);
            None
        }
    };
    let mut results = Vec::with_capacity(plan.keys.len());
    for decision in &plan.keys {
        let result = match carry_out(iam, user_name, decision, now, &statuses_now).await {
            Ok(Some(result)) => result,
            Ok(None) => gone(iam, (user_name, user_id), decision, &mut applied).await,
            Err(error) => failed(decision, error, &mut applied.failures),
        };
        results.push(result);
    }
    // The policy warns only where it plans clocks (not in report mode, not an exempt user).
    if let Some(clocks) = &plan.clocks
        && !applied.user_gone
    {
        let decided = (plan.keys.as_slice(), results.as_mut_slice());
        record_clocks(iam, user_name, clocks, decided, &mut applied).await;
    } else if applied.user_gone {
        let why = format!("the user {user_name} no longer exists; the warning was not recorded");
        withdraw_warnings(&mut results, Action::Gone, &why);
    }
    for (decision, result) in plan.keys.iter().zip(results) {
        info!(
            user = user_name,
            access_key_id = %decision.key.access_key_id,
            action = result.action.as_str(),
            reason = %result.reason,
            "key decision"
        );
        applied
            .keys
            .push(KeyReport::of(decision, result.action, result.reason));
    }
    applied
}

/// The snapshot may be seconds old: one fresh read before any deletion, so that a key someone
/// re-activated since is not deleted. No call when the plan deletes nothing.
async fn statuses_before_deleting<I: IamDirectory>(
    iam: &I,
    user_name: &str,
    plan: &UserPlan,
) -> Result<BTreeMap<AccessKeyId, KeyStatus>, AwsError> {
    if !plan.keys.iter().any(|d| d.verdict == Verdict::Delete) {
        return Ok(BTreeMap::new());
    }
    Ok(iam.key_statuses(user_name).await?.unwrap_or_default())
}

/// Makes the key write a verdict needs. `None` when IAM answered NoSuchEntity.
async fn carry_out<I: IamWrites>(
    iam: &I,
    user_name: &str,
    decision: &KeyDecision,
    now: OffsetDateTime,
    statuses_now: &Option<BTreeMap<AccessKeyId, KeyStatus>>,
) -> Result<Option<KeyResult>, AwsError> {
    let key_id = &decision.key.access_key_id;
    let result = |action, reason, clock| {
        Ok(Some(KeyResult {
            action,
            reason,
            clock,
            warned: None,
        }))
    };
    let reason = decision.reason.clone();
    match decision.verdict {
        Verdict::Hold(hold) => result(hold.into(), reason, Clock::AsItWas),
        // No key write: the warning is the record the state tag write makes, or withdraws.
        Verdict::Warn => Ok(Some(KeyResult {
            action: Action::Warned,
            reason,
            clock: Clock::AsItWas,
            warned: Some(now),
        })),
        Verdict::Mark => result(Action::Marked, reason, Clock::Start(now)),
        Verdict::Deactivate => match iam.deactivate_key(user_name, key_id).await? {
            // The grace clock starts when the key stopped working, not when the run began.
            WriteOutcome::Applied => {
                let deactivated = OffsetDateTime::now_utc();
                result(Action::Deactivated, reason, Clock::Start(deactivated))
            }
            WriteOutcome::Gone => Ok(None),
        },
        Verdict::Delete => {
            let Some(statuses_now) = statuses_now else {
                let reason = format!("{reason}; not deleted: its status could not be re-read");
                return result(Action::Failed, reason, Clock::AsItWas);
            };
            match statuses_now.get(key_id) {
                Some(KeyStatus::Active) => {
                    let reason = "re-activated since it was read; not deleted".to_owned();
                    result(Action::Pending, reason, Clock::AsItWas)
                }
                None => Ok(None),
                Some(KeyStatus::Inactive) => match iam.delete_key(user_name, key_id).await? {
                    WriteOutcome::Applied => result(Action::Deleted, reason, Clock::Drop),
                    WriteOutcome::Gone => Ok(None),
                },
            }
        }
    }
}

/// NoSuchEntity for a key write: the key is gone, or the user is (renamed or deleted). IAM's
/// answer does not say which, so GetUser does.
async fn gone<I: IamDirectory>(
    iam: &I,
    (user_name, user_id): (&str, Option<&UserId>),
    decision: &KeyDecision,
    applied: &mut Applied,
) -> KeyResult {
    let holder = iam.get_user(user_name).await;
    // The name may now belong to someone else: that is our user gone, not its key.
    let same_user = |found: &IamUser| user_id.is_none_or(|id| found.user_id == *id);
    let (reason, clock) = match holder {
        Ok(Some(found)) if same_user(&found) => (
            format!("{}; the key was already gone", decision.reason),
            Clock::Drop,
        ),
        Ok(_) => {
            applied.user_gone = true;
            (
                format!(
                    "{}; the user {user_name} no longer exists (renamed or deleted since it \
                     was read); nothing was written",
                    decision.reason
                ),
                Clock::AsItWas,
            )
        }
        Err(error) => return failed(decision, error, &mut applied.failures),
    };
    KeyResult {
        action: Action::Gone,
        reason,
        clock,
        warned: None,
    }
}

fn failed(decision: &KeyDecision, error: AwsError, failures: &mut Vec<AwsError>) -> KeyResult {
    let reason = format!(
        "{}; {:?} failed: {}",
        decision.reason,
        decision.verdict,
        error_chain(&error)
    );
    failures.push(error);
    KeyResult {
        action: Action::Failed,
        reason,
        clock: Clock::AsItWas,
        warned: None,
    }
}

/// Writes the user's state tag when the clocks or warnings changed, and says of each key whose
/// new clock or warning could not be recorded why not.
async fn record_clocks<I: IamWrites>(
    iam: &I,
    user_name: &str,
    plan: &ClockPlan,
    (decisions, results): (&[KeyDecision], &mut [KeyResult]),
    applied: &mut Applied,
) {
    let value = state_value(
        &clocks_after(plan, decisions, results),
        &warnings_after(plan, decisions, results),
    );
    if value == plan.found.state_value && plan.found.legacy_tags.is_empty() {
        return;
    }
    let error = match write_state(iam, user_name, plan, value.as_deref()).await {
        Ok(WriteOutcome::Applied) => {
            let state = value.as_deref().unwrap_or("");
            info!(user = user_name, state, "grace clocks recorded");
            return;
        }
        Ok(WriteOutcome::Gone) => {
            applied.user_gone = true;
            None
        }
        Err(error) => Some(error),
    };
    let (why, not_warned, withdrawn) = match &error {
        Some(error) => (
            format!("recording its grace clock failed: {}", error_chain(error)),
            format!("recording the warning failed: {}", error_chain(error)),
            Action::Failed,
        ),
        None => (
            format!("the user {user_name} vanished before its grace clock was recorded"),
            format!("the user {user_name} vanished before the warning was recorded"),
            Action::Gone,
        ),
    };
    withdraw_warnings(results, withdrawn, &not_warned);
    for result in results.iter_mut() {
        if matches!(result.clock, Clock::Start(_)) && plan.tag_slot {
            // A deactivation stands without its clock; a clock was all a mark wrote.
            if result.action == Action::Marked {
                result.action = if error.is_some() {
                    Action::Failed
                } else {
                    Action::Gone
                };
            }
            result.reason = format!("{}; {why}", result.reason);
        }
    }
    applied.failures.extend(error);
}

/// The clocks once this run's key writes are counted: those kept, those started (where a tag
/// slot allows), less those of keys deleted or gone.
fn clocks_after(
    plan: &ClockPlan,
    decisions: &[KeyDecision],
    results: &[KeyResult],
) -> BTreeMap<AccessKeyId, OffsetDateTime> {
    let mut clocks = plan.keep.clone();
    for (decision, result) in decisions.iter().zip(results) {
        let key = decision.key.access_key_id.clone();
        match result.clock {
            Clock::Start(at) if plan.tag_slot => {
                clocks.insert(key, at);
            }
            Clock::Drop => {
                clocks.remove(&key);
            }
            Clock::Start(_) | Clock::AsItWas => {}
        }
    }
    clocks
}

/// The warning records once this run is counted: those kept, those of keys warned now, less
/// those of keys deactivated (their grace clock replaces the record), deleted or gone.
fn warnings_after(
    plan: &ClockPlan,
    decisions: &[KeyDecision],
    results: &[KeyResult],
) -> BTreeMap<AccessKeyId, OffsetDateTime> {
    let mut warned = plan.warned_keep.clone();
    for (decision, result) in decisions.iter().zip(results) {
        let key = decision.key.access_key_id.clone();
        if let Some(at) = result.warned {
            warned.insert(key, at);
        } else if matches!(result.clock, Clock::Start(_) | Clock::Drop) {
            warned.remove(&key);
        }
    }
    warned
}

/// The warnings whose record was not written were not sent: the report says so, and says why.
fn withdraw_warnings(results: &mut [KeyResult], action: Action, why: &str) {
    for result in results.iter_mut().filter(|r| r.warned.is_some()) {
        result.action = action;
        result.reason = format!("{}; not warned: {why}", result.reason);
        result.warned = None;
    }
}

/// One TagUser of the state tag (or UntagUser of it when no clock is left), and the legacy
/// tags removed: after, or before when they are what makes room for the state tag.
async fn write_state<I: IamWrites>(
    iam: &I,
    user_name: &str,
    plan: &ClockPlan,
    value: Option<&str>,
) -> Result<WriteOutcome, AwsError> {
    let legacy = &plan.found.legacy_tags;
    match value {
        None => {
            let mut keys = legacy.clone();
            if plan.found.state_value.is_some() {
                keys.push(STATE_TAG_KEY.to_owned());
            }
            iam.untag_user(user_name, &keys).await
        }
        Some(value) if plan.untag_legacy_first => {
            iam.untag_user(user_name, legacy).await?;
            iam.tag_user(user_name, STATE_TAG_KEY, value).await
        }
        Some(value) => {
            let outcome = iam.tag_user(user_name, STATE_TAG_KEY, value).await?;
            if legacy.is_empty() || outcome == WriteOutcome::Gone {
                return Ok(outcome);
            }
            iam.untag_user(user_name, legacy).await
        }
    }
}
