//! The function's configuration: every environment variable it reads, parsed once at init into
//! one typed struct. A bad value stops the container at init with a message naming the
//! variable, because a remediation tool that guesses what its operator meant can delete keys.

use thiserror::Error;

use crate::domain::ids::AccountId;
use crate::domain::marker::{STATE_TAG_KEY, legacy_key_id};
use crate::domain::policy::{Mode, Policy};
use crate::domain::rules::RulePattern;

mod notices;
mod organization;

pub use self::notices::NoticeSettings;
use self::notices::read_notices;
pub use self::organization::OrgSettings;
use self::organization::read_organization;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// What the pure policy needs: limits, grace period, mode, exemption tag, action cap.
    pub policy: Policy,
    /// Custom Config rules whose NON_COMPLIANT events we act on, besides the AWS-managed
    /// ACCESS_KEYS_ROTATED, which is recognised under any name. Each may hold `*` wildcards.
    pub rule_names: Vec<RulePattern>,
    /// How many users a sweep remediates at once.
    pub sweep_concurrency: usize,
    /// The role the function assumes to act in an account other than its own. Unset, it acts
    /// only in its own account and refuses events from any other.
    pub member_role: Option<MemberRole>,
    /// The function's own account where no Lambda ARN says it (local runtimes such as
    /// `cargo lambda watch` invoke with a placeholder ARN): AWS_ACCOUNT_ID, the SDKs' own
    /// variable for it. Deployed, the invoked ARN decides and this is ignored.
    pub local_account: Option<AccountId>,
    /// Where owner notices go: the SNS topic, and SES email to owners.
    pub notices: NoticeSettings,
    /// The organisation: discovery, the fan-out, and per-account modes from tags.
    pub organization: OrgSettings,
}

/// Where the function reaches into member accounts: `arn:<partition>:iam::<account>:role/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRole {
    pub name: String,
    /// Sent with every AssumeRole when the member role's trust policy demands one.
    pub external_id: Option<String>,
}

impl Default for Settings {
    /// The documented defaults, identical to an environment that sets none of the variables.
    fn default() -> Self {
        Settings {
            policy: Policy::default(),
            rule_names: Vec::new(),
            sweep_concurrency: 8,
            member_role: None,
            local_account: None,
            notices: NoticeSettings::default(),
            organization: OrgSettings::default(),
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid {variable}={value:?}: {expected}")]
pub struct SettingsError {
    pub variable: &'static str,
    pub value: String,
    pub expected: String,
}

/// Ten years: far beyond any sane policy, and small enough that day arithmetic cannot overflow.
const MAX_DAYS: u32 = 3650;

/// IAM's control plane throttles well before this; more in flight only means more retries.
const MAX_SWEEP_CONCURRENCY: usize = 64;

/// The environment, read one variable at a time; each reader parses one kind of value.
/// An empty value counts as unset: CloudFormation passes optional parameters as "".
struct Environment<F> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Environment<F> {
    /// The trimmed value, or `None` when unset or blank.
    fn get(&self, variable: &str) -> Option<String> {
        (self.lookup)(variable)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// Parses the variable with `parse`, which says what was expected when it fails.
    fn parsed<T>(
        &self,
        variable: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, SettingsError> {
        let Some(value) = self.get(variable) else {
            return Ok(None);
        };
        parse(&value).map(Some).map_err(|expected| SettingsError {
            variable,
            value: (self.lookup)(variable).unwrap_or_default(),
            expected,
        })
    }

    fn whole_number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
        &self,
        variable: &'static str,
        range: std::ops::RangeInclusive<T>,
        expected: &str,
    ) -> Result<Option<T>, SettingsError> {
        self.parsed(variable, |value| match value.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(expected.to_owned()),
        })
    }

    fn days(&self, variable: &'static str) -> Result<Option<u32>, SettingsError> {
        let expected = format!("a whole number of days from 1 to {MAX_DAYS}");
        self.whole_number(variable, 1..=MAX_DAYS, &expected)
    }

    fn matching(
        &self,
        variable: &'static str,
        is_valid: fn(&str) -> bool,
        expected: &str,
    ) -> Result<Option<String>, SettingsError> {
        self.parsed(variable, |value| {
            if is_valid(value) {
                Ok(value.to_owned())
            } else {
                Err(expected.to_owned())
            }
        })
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not mutate the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let env = Environment { lookup };
        let defaults = Settings::default();
        let policy = read_policy(&env, defaults.policy)?;
        let rule_names = env.parsed("RULE_NAMES", |value| {
            if value.trim().is_empty() {
                return Ok(Vec::new());
            }
            value
                .split(',')
                .map(|name| RulePattern::parse(name.trim()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| {
                    format!("a comma-separated list of Config rule names or patterns: {error}")
                })
        })?;
        let sweep_concurrency = env.whole_number(
            "SWEEP_CONCURRENCY",
            1..=MAX_SWEEP_CONCURRENCY,
            &format!("a whole number from 1 to {MAX_SWEEP_CONCURRENCY}"),
        )?;
        Ok(Settings {
            policy,
            rule_names: rule_names.unwrap_or(defaults.rule_names),
            sweep_concurrency: sweep_concurrency.unwrap_or(defaults.sweep_concurrency),
            member_role: read_member_role(&env)?,
            local_account: env.parsed("AWS_ACCOUNT_ID", |value| {
                AccountId::parse(value).map_err(|error| error.to_string())
            })?,
            notices: read_notices(&env, defaults.notices)?,
            organization: read_organization(&env, defaults.organization)?,
        })
    }
}

fn read_policy<F: Fn(&str) -> Option<String>>(
    env: &Environment<F>,
    defaults: Policy,
) -> Result<Policy, SettingsError> {
    let mode = env.parsed("REMEDIATION_MODE", |value| match value {
        "report" => Ok(Mode::Report),
        "deactivate" => Ok(Mode::Deactivate),
        "delete" => Ok(Mode::Delete),
        _ => Err("one of report, deactivate, delete".to_owned()),
    })?;
    let exempt_tag_key = env.matching(
        "EXEMPT_TAG_KEY",
        is_exempt_tag_key,
        "an IAM tag key of at most 128 characters, not starting with aws:, and not one of the \
         function's own (access-key-remediator:state, access-key-remediator:deactivated:*), \
         which it rewrites and removes",
    )?;
    let max_actions = env.whole_number(
        "MAX_ACTIONS_PER_INVOCATION",
        1..=u32::MAX,
        "a whole number of at least 1 (use REMEDIATION_MODE=report to act on nothing)",
    )?;
    Ok(Policy {
        max_key_age_days: env
            .days("MAX_KEY_AGE_DAYS")?
            .unwrap_or(defaults.max_key_age_days),
        delete_after_inactive_days: env
            .days("DELETE_AFTER_INACTIVE_DAYS")?
            .unwrap_or(defaults.delete_after_inactive_days),
        max_key_idle_days: env.days("MAX_KEY_IDLE_DAYS")?,
        mode: mode.unwrap_or(defaults.mode),
        exempt_tag_key: exempt_tag_key.unwrap_or(defaults.exempt_tag_key),
        max_actions_per_invocation: max_actions.unwrap_or(defaults.max_actions_per_invocation),
        warn_before_days: env
            .whole_number(
                "WARN_BEFORE_DAYS",
                0..=MAX_DAYS,
                &format!("a whole number of days from 0 (no warnings) to {MAX_DAYS}"),
            )?
            .unwrap_or(defaults.warn_before_days),
    })
}

fn read_member_role<F: Fn(&str) -> Option<String>>(
    env: &Environment<F>,
) -> Result<Option<MemberRole>, SettingsError> {
    let name = env.matching(
        "MEMBER_ROLE_NAME",
        is_role_name,
        "an IAM role name: 1 to 64 of letters, digits and +=,.@_-",
    )?;
    let external_id = env.matching(
        "MEMBER_ROLE_EXTERNAL_ID",
        is_external_id,
        "an STS external id: 2 to 1224 of letters, digits and +=,.@:/_-",
    )?;
    match (name, external_id) {
        (Some(name), external_id) => Ok(Some(MemberRole { name, external_id })),
        (None, None) => Ok(None),
        (None, Some(id)) => Err(SettingsError {
            variable: "MEMBER_ROLE_EXTERNAL_ID",
            value: id,
            expected: "set only together with MEMBER_ROLE_NAME, the role it is sent to".to_owned(),
        }),
    }
}

/// A tag key an operator may set and the function only reads: IAM compares keys ignoring
/// case, and the function rewrites or removes its own clock tags, exemption and all.
fn is_exempt_tag_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    key.len() <= 128
        && !lower.starts_with("aws:")
        && lower != STATE_TAG_KEY
        && legacy_key_id(&lower).is_none()
}

/// IAM's role-name pattern, `[\w+=,.@-]{1,64}`.
fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// STS's ExternalId pattern, `[\w+=,.@:\/-]{2,1224}`.
fn is_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
}

#[cfg(test)]
mod tests;
