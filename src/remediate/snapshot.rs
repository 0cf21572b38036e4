//! Snapshot: one user's keys, last use and tags, read whole, and the policy's decisions on
//! it, spending from the invocation's shared action budget.

use std::collections::BTreeMap;
use std::sync::Mutex;

use time::OffsetDateTime;
use tracing::warn;

use crate::aws::{AwsError, IamDirectory};
use crate::domain::exemption::Exemption;
use crate::domain::policy::{self, Policy, UnusedKey, UserPlan};

/// How many deactivations and deletions the invocation may still make, across every user and
/// account it remediates.
pub struct Budget(Mutex<u32>);

impl Budget {
    pub fn new(actions: u32) -> Self {
        Budget(Mutex::new(actions))
    }

    /// Gives back what a plan spent on writes that found their user gone: nothing was done.
    pub fn refund(&self, actions: u32) {
        *self.0.lock().expect("budget lock") += actions;
    }
}

/// Reads the user and decides: every key, or only the one an unused-access finding names;
/// with the user's tags, which name the owner a notice goes to. `None` when the user vanished
/// before we could read them.
pub async fn plan_user<I: IamDirectory>(
    iam: &I,
    user_name: &str,
    (now, policy, unused): (OffsetDateTime, &Policy, Option<&UnusedKey>),
    budget: &Budget,
) -> Result<Option<(UserPlan, BTreeMap<String, String>)>, AwsError> {
    let Some(snapshot) = iam.snapshot(user_name).await? else {
        return Ok(None);
    };
    let plan = {
        let mut remaining = budget.0.lock().expect("budget lock");
        let plan = match unused {
            None => policy::decide(&snapshot, now, policy, *remaining),
            Some(unused) => policy::decide_unused_key(&snapshot, now, policy, *remaining, unused),
        };
        *remaining -= plan.actions_used;
        plan
    };
    for warning in &plan.warnings {
        warn!(user = user_name, warning = %warning, "grace clock not trusted; restarting it");
    }
    if let Exemption::Unrecognised { value } = &plan.exemption {
        warn!(
            user = user_name,
            tag = %policy.exempt_tag_key,
            value = %value,
            "exemption tag is neither true nor YYYY-MM-DD; treating the user as exempt"
        );
    }
    Ok(Some((plan, snapshot.tags)))
}
