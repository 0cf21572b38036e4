//! The function's configuration: every environment variable it reads, parsed once at init into
//! one typed struct. A bad value stops the container at init with a message naming the
//! variable, because a remediation tool that guesses what its operator meant can delete keys.

use thiserror::Error;

use crate::domain::ids::AccountId;
use crate::domain::marker::{STATE_TAG_KEY, legacy_key_id};
use crate::domain::policy::{Mode, Policy};
use crate::domain::rules::RulePattern;

mod notices;

pub use self::notices::NoticeSettings;
use self::notices::read_notices;

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
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings_from(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_gives_the_documented_defaults() {
        assert_eq!(settings_from(&[]).unwrap(), Settings::default());
    }

    #[test]
    fn empty_strings_count_as_unset_as_cloudformation_passes_them() {
        let settings = settings_from(&[("MAX_KEY_IDLE_DAYS", ""), ("REMEDIATION_MODE", " ")]);
        assert_eq!(settings.unwrap(), Settings::default());
    }

    #[test]
    fn every_variable_is_read() {
        let settings = settings_from(&[
            ("MAX_KEY_AGE_DAYS", "45"),
            ("DELETE_AFTER_INACTIVE_DAYS", "30"),
            ("REMEDIATION_MODE", "report"),
            ("RULE_NAMES", "my-keys-rotated, my-org-*-keys"),
            ("EXEMPT_TAG_KEY", "security:exempt"),
            ("MAX_KEY_IDLE_DAYS", "60"),
            ("MAX_ACTIONS_PER_INVOCATION", "5"),
            ("WARN_BEFORE_DAYS", "0"),
            ("SWEEP_CONCURRENCY", "4"),
            ("MEMBER_ROLE_NAME", "AccessKeyRemediatorMember"),
            ("MEMBER_ROLE_EXTERNAL_ID", "org-7f3a"),
            ("AWS_ACCOUNT_ID", "210987654321"),
            (
                "NOTICE_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:210987654321:access-key-notices",
            ),
            ("OWNER_TAG_KEY", "Team-Email"),
            ("SES_FROM_ADDRESS", "security@example.com"),
        ])
        .unwrap();
        assert_eq!(
            settings,
            Settings {
                policy: Policy {
                    max_key_age_days: 45,
                    delete_after_inactive_days: 30,
                    mode: Mode::Report,
                    exempt_tag_key: "security:exempt".into(),
                    max_key_idle_days: Some(60),
                    max_actions_per_invocation: 5,
                    warn_before_days: 0,
                },
                rule_names: vec![
                    RulePattern::parse("my-keys-rotated").unwrap(),
                    RulePattern::parse("my-org-*-keys").unwrap(),
                ],
                sweep_concurrency: 4,
                member_role: Some(MemberRole {
                    name: "AccessKeyRemediatorMember".into(),
                    external_id: Some("org-7f3a".into()),
                }),
                local_account: Some(AccountId::parse("210987654321").unwrap()),
                notices: NoticeSettings {
                    topic_arn: Some("arn:aws:sns:eu-west-1:210987654321:access-key-notices".into()),
                    owner_tag_key: "Team-Email".into(),
                    ses_from: Some("security@example.com".into()),
                },
            }
        );
    }

    #[test]
    fn each_invalid_value_is_rejected_with_the_variable_named() {
        let cases = [
            ("MAX_KEY_AGE_DAYS", "ninety"),
            ("MAX_KEY_AGE_DAYS", "0"),
            ("MAX_KEY_AGE_DAYS", "-5"),
            ("MAX_KEY_AGE_DAYS", "99999"),
            ("DELETE_AFTER_INACTIVE_DAYS", "0"),
            ("DELETE_AFTER_INACTIVE_DAYS", "1.5"),
            ("REMEDIATION_MODE", "DELETE"),
            ("REMEDIATION_MODE", "dry-run"),
            ("RULE_NAMES", "a,,b"),
            ("RULE_NAMES", "rule with spaces"),
            (
                "RULE_NAMES",
                "arn:aws:config:us-east-1:123456789012:config-rule/x",
            ),
            ("EXEMPT_TAG_KEY", "aws:exempt"),
            ("EXEMPT_TAG_KEY", "access-key-remediator:state"),
            ("EXEMPT_TAG_KEY", "Access-Key-Remediator:Deactivated:exempt"),
            ("MAX_KEY_IDLE_DAYS", "soon"),
            ("MAX_ACTIONS_PER_INVOCATION", "0"),
            ("MAX_ACTIONS_PER_INVOCATION", "lots"),
            ("WARN_BEFORE_DAYS", "-1"),
            ("WARN_BEFORE_DAYS", "3651"),
            ("WARN_BEFORE_DAYS", "a week"),
            ("SWEEP_CONCURRENCY", "0"),
            ("SWEEP_CONCURRENCY", "1000"),
            ("MEMBER_ROLE_NAME", "role/with-slash"),
            ("MEMBER_ROLE_NAME", "arn:aws:iam::123456789012:role/x"),
            ("MEMBER_ROLE_EXTERNAL_ID", "orphan-without-a-role"),
            ("AWS_ACCOUNT_ID", "12345"),
            ("NOTICE_TOPIC_ARN", "access-key-notices"),
            (
                "NOTICE_TOPIC_ARN",
                "arn:aws:sqs:us-east-1:123456789012:queue",
            ),
            ("NOTICE_TOPIC_ARN", "arn:aws:sns:us-east-1:1234:topic"),
            (
                "NOTICE_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:bad name",
            ),
            ("OWNER_TAG_KEY", "aws:owner"),
            ("SES_FROM_ADDRESS", "security"),
            ("SES_FROM_ADDRESS", "Security <security@example.com>"),
        ];
        for (variable, value) in cases {
            let error = settings_from(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{variable}={value}");
            assert!(
                error.to_string().contains(variable),
                "message must name {variable}: {error}"
            );
        }
    }
}
