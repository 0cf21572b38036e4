//! The function's configuration: every environment variable it reads, parsed once at init into
//! one typed struct. A bad value stops the container at init with a message naming the
//! variable, because a remediation tool that guesses what its operator meant can delete keys.

use std::fmt;

use thiserror::Error;

/// What the function is allowed to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Decide and report; make no IAM write call at all.
    Report,
    /// Deactivate and mark over-age keys; never delete.
    Deactivate,
    /// The full lifecycle: deactivate, wait out the grace period, delete.
    Delete,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Report => "report",
            Mode::Deactivate => "deactivate",
            Mode::Delete => "delete",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serialize_as_str!(Mode);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// A key older than this many days is over age (CIS 1.14: 90).
    pub max_key_age_days: u32,
    /// How long a key we deactivated must stay inactive before we delete it.
    pub delete_after_inactive_days: u32,
    pub mode: Mode,
    /// Config rules whose NON_COMPLIANT events we act on.
    pub rule_names: Vec<String>,
    /// The user tag that exempts a user: `true`, or a `YYYY-MM-DD` date it lasts until.
    pub exempt_tag_key: String,
    /// When set, a key unused for longer than this many days is treated like an over-age key.
    pub max_key_idle_days: Option<u32>,
    /// Upper bound on deactivations plus deletions in one invocation.
    pub max_actions_per_invocation: u32,
    /// How many users a sweep remediates at once.
    pub sweep_concurrency: usize,
    /// The role the function assumes to act in an account other than its own. Unset, it acts
    /// only in its own account and refuses events from any other.
    pub member_role: Option<MemberRole>,
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
            max_key_age_days: 90,
            delete_after_inactive_days: 14,
            mode: Mode::Delete,
            rule_names: vec!["access-keys-rotated".to_owned()],
            exempt_tag_key: "access-key-remediator:exempt".to_owned(),
            max_key_idle_days: None,
            max_actions_per_invocation: 50,
            sweep_concurrency: 8,
            member_role: None,
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

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not mutate the process environment.
    /// An empty value counts as unset: CloudFormation passes optional parameters as "".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let defaults = Settings::default();

        let days = |variable: &'static str, default: u32| match get(variable) {
            None => Ok(default),
            Some(value) => parse_days(variable, &value),
        };

        let mode = match get("REMEDIATION_MODE") {
            None => defaults.mode,
            Some(value) => match value.trim() {
                "report" => Mode::Report,
                "deactivate" => Mode::Deactivate,
                "delete" => Mode::Delete,
                _ => {
                    return Err(invalid(
                        "REMEDIATION_MODE",
                        &value,
                        "one of report, deactivate, delete",
                    ));
                }
            },
        };

        let rule_names = match get("RULE_NAMES") {
            None => defaults.rule_names,
            Some(value) => {
                let names: Vec<String> = value.split(',').map(|n| n.trim().to_owned()).collect();
                if names.iter().any(String::is_empty) {
                    return Err(invalid(
                        "RULE_NAMES",
                        &value,
                        "a comma-separated list of Config rule names with no empty entry",
                    ));
                }
                names
            }
        };

        let exempt_tag_key = match get("EXEMPT_TAG_KEY") {
            None => defaults.exempt_tag_key,
            Some(value) => {
                let key = value.trim();
                if key.len() > 128 || key.to_ascii_lowercase().starts_with("aws:") {
                    return Err(invalid(
                        "EXEMPT_TAG_KEY",
                        &value,
                        "an IAM tag key of at most 128 characters, not starting with aws:",
                    ));
                }
                key.to_owned()
            }
        };

        let max_key_idle_days = get("MAX_KEY_IDLE_DAYS")
            .map(|value| parse_days("MAX_KEY_IDLE_DAYS", &value))
            .transpose()?;

        let max_actions_per_invocation = match get("MAX_ACTIONS_PER_INVOCATION") {
            None => defaults.max_actions_per_invocation,
            Some(value) => match value.trim().parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(invalid(
                        "MAX_ACTIONS_PER_INVOCATION",
                        &value,
                        "a whole number of at least 1 (use REMEDIATION_MODE=report to act on nothing)",
                    ));
                }
            },
        };

        let sweep_concurrency = match get("SWEEP_CONCURRENCY") {
            None => defaults.sweep_concurrency,
            Some(value) => match value.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_SWEEP_CONCURRENCY).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "SWEEP_CONCURRENCY",
                        &value,
                        &format!("a whole number from 1 to {MAX_SWEEP_CONCURRENCY}"),
                    ));
                }
            },
        };

        let matching = |variable: &'static str, is_valid: fn(&str) -> bool, expected: &str| {
            get(variable)
                .map(|value| match value.trim() {
                    trimmed if is_valid(trimmed) => Ok(trimmed.to_owned()),
                    _ => Err(invalid(variable, &value, expected)),
                })
                .transpose()
        };
        let member_role_name = matching(
            "MEMBER_ROLE_NAME",
            is_role_name,
            "an IAM role name: 1 to 64 of letters, digits and +=,.@_-",
        )?;
        let external_id = matching(
            "MEMBER_ROLE_EXTERNAL_ID",
            is_external_id,
            "an STS external id: 2 to 1224 of letters, digits and +=,.@:/_-",
        )?;
        let member_role = match (member_role_name, external_id) {
            (Some(name), external_id) => Some(MemberRole { name, external_id }),
            (None, None) => None,
            (None, Some(id)) => {
                return Err(invalid(
                    "MEMBER_ROLE_EXTERNAL_ID",
                    &id,
                    "set only together with MEMBER_ROLE_NAME, the role it is sent to",
                ));
            }
        };

        Ok(Settings {
            max_key_age_days: days("MAX_KEY_AGE_DAYS", defaults.max_key_age_days)?,
            delete_after_inactive_days: days(
                "DELETE_AFTER_INACTIVE_DAYS",
                defaults.delete_after_inactive_days,
            )?,
            mode,
            rule_names,
            exempt_tag_key,
            max_key_idle_days,
            max_actions_per_invocation,
            sweep_concurrency,
            member_role,
        })
    }
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

fn parse_days(variable: &'static str, value: &str) -> Result<u32, SettingsError> {
    match value.trim().parse::<u32>() {
        Ok(days) if (1..=MAX_DAYS).contains(&days) => Ok(days),
        _ => Err(invalid(
            variable,
            value,
            &format!("a whole number of days from 1 to {MAX_DAYS}"),
        )),
    }
}

fn invalid(variable: &'static str, value: &str, expected: &str) -> SettingsError {
    SettingsError {
        variable,
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
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
            ("RULE_NAMES", "access-keys-rotated, my-org-keys-rotated"),
            ("EXEMPT_TAG_KEY", "security:exempt"),
            ("MAX_KEY_IDLE_DAYS", "60"),
            ("MAX_ACTIONS_PER_INVOCATION", "5"),
            ("SWEEP_CONCURRENCY", "4"),
            ("MEMBER_ROLE_NAME", "AccessKeyRemediatorMember"),
            ("MEMBER_ROLE_EXTERNAL_ID", "org-7f3a"),
        ])
        .unwrap();
        assert_eq!(
            settings,
            Settings {
                max_key_age_days: 45,
                delete_after_inactive_days: 30,
                mode: Mode::Report,
                rule_names: vec!["access-keys-rotated".into(), "my-org-keys-rotated".into()],
                exempt_tag_key: "security:exempt".into(),
                max_key_idle_days: Some(60),
                max_actions_per_invocation: 5,
                sweep_concurrency: 4,
                member_role: Some(MemberRole {
                    name: "AccessKeyRemediatorMember".into(),
                    external_id: Some("org-7f3a".into()),
                }),
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
            ("EXEMPT_TAG_KEY", "aws:exempt"),
            ("MAX_KEY_IDLE_DAYS", "soon"),
            ("MAX_ACTIONS_PER_INVOCATION", "0"),
            ("MAX_ACTIONS_PER_INVOCATION", "lots"),
            ("SWEEP_CONCURRENCY", "0"),
            ("SWEEP_CONCURRENCY", "1000"),
            ("MEMBER_ROLE_NAME", "role/with-slash"),
            ("MEMBER_ROLE_NAME", "arn:aws:iam::123456789012:role/x"),
            ("MEMBER_ROLE_EXTERNAL_ID", "orphan-without-a-role"),
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
