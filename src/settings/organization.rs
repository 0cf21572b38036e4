//! The organisation settings: where the accounts of a fanned-out sweep come from (AWS
//! Organizations, or SWEEP_ACCOUNTS), how the state machine fans out (MAP_MAX_CONCURRENCY,
//! FAILURE_TOLERANCE_PERCENT, RESERVED_CONCURRENCY), and whether each account's mode comes
//! from its Organizations tags (ORG_MODE_TAGS, ORG_CACHE_TTL_SECONDS).

use std::time::Duration;

use super::{Environment, SettingsError};
use crate::domain::ids::AccountId;
use crate::domain::org::{Scope, UnitId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSettings {
    /// ORG_MODE_TAGS=on: each account runs in the mode its `access-key-remediator:mode` tag
    /// (or the nearest OU's) gives, within its role's ceiling; events included.
    pub mode_tags: bool,
    /// How long an account's mode, as the tags and its role's ceiling give it, is kept.
    pub cache_ttl: Duration,
    /// SWEEP_ORGANIZATION=on: discovery walks the organisation; off, it answers SWEEP_ACCOUNTS.
    pub sweep_organization: bool,
    /// SWEEP_UNITS and SWEEP_EXCLUDE.
    pub scope: Scope,
    /// The accounts discovery answers without Organizations.
    pub sweep_accounts: Vec<AccountId>,
    pub map_max_concurrency: u32,
    pub failure_tolerance_percent: u32,
    /// The function's reserved concurrency, which the fan-out must leave room below.
    pub reserved_concurrency: Option<u32>,
    /// SWEEP_BUCKET: where discovery writes the Map's items and the Map its results, so that
    /// the execution's state holds pointers, not accounts (Step Functions carries 256 KiB).
    /// Unset, the items travel inline.
    pub sweep_bucket: Option<String>,
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            mode_tags: false,
            cache_ttl: Duration::from_secs(900),
            sweep_organization: false,
            scope: Scope::default(),
            sweep_accounts: Vec::new(),
            map_max_concurrency: 10,
            failure_tolerance_percent: 10,
            reserved_concurrency: None,
            sweep_bucket: None,
        }
    }
}

/// A day: a mode tag changed takes effect at the latest this long after.
const MAX_CACHE_SECONDS: u64 = 86_400;
/// A Distributed Map runs up to 10,000 child executions at once; Lambda's default account
/// concurrency is 1,000, which bounds us first.
const MAX_MAP_CONCURRENCY: u32 = 1000;

pub(super) fn read_organization<F: Fn(&str) -> Option<String>>(
    env: &Environment<F>,
    defaults: OrgSettings,
) -> Result<OrgSettings, SettingsError> {
    let cache_seconds = env.whole_number(
        "ORG_CACHE_TTL_SECONDS",
        0..=MAX_CACHE_SECONDS,
        &format!("a whole number of seconds from 0 (no cache) to {MAX_CACHE_SECONDS}"),
    )?;
    let map_max_concurrency = env.whole_number(
        "MAP_MAX_CONCURRENCY",
        1..=MAX_MAP_CONCURRENCY,
        &format!("a whole number from 1 to {MAX_MAP_CONCURRENCY}"),
    )?;
    let tolerance = env.whole_number(
        "FAILURE_TOLERANCE_PERCENT",
        0..=100,
        "a whole number of percent from 0 (stop at the first failed account) to 100",
    )?;
    let reserved = env.whole_number(
        "RESERVED_CONCURRENCY",
        1..=u32::MAX,
        "the function's reserved concurrency, a whole number of at least 1",
    )?;
    Ok(OrgSettings {
        mode_tags: switch(env, "ORG_MODE_TAGS")?.unwrap_or(defaults.mode_tags),
        cache_ttl: cache_seconds.map_or(defaults.cache_ttl, Duration::from_secs),
        sweep_organization: switch(env, "SWEEP_ORGANIZATION")?
            .unwrap_or(defaults.sweep_organization),
        scope: read_scope(env)?,
        sweep_accounts: env
            .parsed("SWEEP_ACCOUNTS", |value| {
                list(value, |id| AccountId::parse(id).map_err(|e| e.to_string()))
                    .map_err(|error| format!("a comma-separated list of account ids: {error}"))
            })?
            .unwrap_or_default(),
        map_max_concurrency: map_max_concurrency.unwrap_or(defaults.map_max_concurrency),
        failure_tolerance_percent: tolerance.unwrap_or(defaults.failure_tolerance_percent),
        reserved_concurrency: reserved,
        sweep_bucket: env.matching(
            "SWEEP_BUCKET",
            is_bucket_name,
            "an S3 bucket name: 3 to 63 of lower-case letters, digits, dots and hyphens",
        )?,
    })
}

fn switch<F: Fn(&str) -> Option<String>>(
    env: &Environment<F>,
    variable: &'static str,
) -> Result<Option<bool>, SettingsError> {
    env.parsed(variable, |value| match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("on or off".to_owned()),
    })
}

fn read_scope<F: Fn(&str) -> Option<String>>(env: &Environment<F>) -> Result<Scope, SettingsError> {
    let units = env.parsed("SWEEP_UNITS", |value| {
        list(value, |id| UnitId::parse(id).map_err(|e| e.to_string())).map_err(|error| {
            format!("a comma-separated list of root (r-…) and OU (ou-…) ids: {error}")
        })
    })?;
    let excluded = env.parsed("SWEEP_EXCLUDE", |value| {
        list(value, |id| {
            if let Ok(account) = AccountId::parse(id) {
                return Ok(Err(account));
            }
            UnitId::parse(id).map(Ok).map_err(|e| e.to_string())
        })
        .map_err(|error| format!("a comma-separated list of account ids and OU ids: {error}"))
    })?;
    let (mut excluded_units, mut excluded_accounts) = (Vec::new(), Vec::new());
    for id in excluded.unwrap_or_default() {
        match id {
            Ok(unit) => excluded_units.push(unit),
            Err(account) => excluded_accounts.push(account),
        }
    }
    Ok(Scope {
        units: units.unwrap_or_default(),
        excluded_units,
        excluded_accounts,
    })
}

/// S3's bucket naming rules, as far as a name can be wrong in a setting: 3 to 63 of `a-z`,
/// `0-9`, `.` and `-`, starting and ending with a letter or digit.
fn is_bucket_name(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge(name.chars().next())
        && edge(name.chars().last())
}

/// A comma-separated list, each entry trimmed and parsed; blanks between commas are skipped.
fn list<T>(value: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(parse)
        .collect()
}
