//! The limits one key is held to, and whether it is over them: the age limit and the idle
//! limit of the policy, or, for the key an unused-access finding names, the idle limit alone.

use time::{Duration, OffsetDateTime};

use crate::domain::policy::{Policy, UnusedKey};
use crate::domain::user::AccessKey;

/// The limits a key is held to: both of the policy's, or for an unused-access finding's key,
/// the idle limit alone.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    age_days: Option<u32>,
    idle_days: Option<u32>,
}

impl Limits {
    /// The limits `key` is held to; `None` when the invocation is about another key.
    pub fn for_key(key: &AccessKey, policy: &Policy, unused: Option<&UnusedKey>) -> Option<Self> {
        match unused {
            None => Some(Limits {
                age_days: Some(policy.max_key_age_days),
                idle_days: policy.max_key_idle_days,
            }),
            Some(unused) if unused.access_key_id == key.access_key_id => Some(Limits {
                age_days: None,
                idle_days: Some(unused.idle_days),
            }),
            Some(_) => None,
        }
    }
}

/// Why the key must go, or `None` when it is within both limits.
pub fn over_limit(key: &AccessKey, now: OffsetDateTime, limits: Limits) -> Option<String> {
    let age = now - key.created;
    if let Some(age_limit) = limits.age_days
        && age > Duration::days(age_limit.into())
    {
        return Some(format!(
            "{} old, over the {age_limit}-day age limit",
            describe_days(age),
        ));
    }
    let idle_limit = limits.idle_days?;
    let idle_for = now - key.last_used.unwrap_or(key.created);
    (idle_for > Duration::days(idle_limit.into())).then(|| {
        format!(
            "unused for {}, over the {idle_limit}-day idle limit",
            describe_days(idle_for)
        )
    })
}

pub fn describe_days(span: Duration) -> String {
    match span.whole_days() {
        1 => "1 day".to_owned(),
        days => format!("{days} days"),
    }
}
