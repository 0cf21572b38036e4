//! Which Config rules speak for us: the AWS-managed rule ACCESS_KEYS_ROTATED under whatever
//! name Security Hub, an organisation rule or a conformance pack gave it, and the custom rules
//! RULE_NAMES lists. A rule is known by what it is (its source), not by its name; the name
//! decides only for custom rules, and when Config will not tell us what the rule is.

use std::fmt;

/// The managed rule's identifier, as Config reports it in the rule's `Source`.
pub const ACCESS_KEYS_ROTATED: &str = "ACCESS_KEYS_ROTATED";

/// The names AWS generates for the managed rule, used only when DescribeConfigRules cannot
/// say what a rule is (denied, or the rule deleted since its event).
pub const GENERATED_NAMES: [&str; 4] = [
    "access-keys-rotated",
    "securityhub-access-keys-rotated-*",
    "OrgConfigRule-*access-keys-rotated*",
    "access-keys-rotated-conformance-pack-*",
];

/// A rule name, or a pattern of one in which each `*` stands for any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulePattern(String);

impl RulePattern {
    /// Config rule names are 1-128 characters of `[A-Za-z0-9_-]`; `*` is ours.
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*');
        if text.is_empty() || text.len() > 128 || !text.chars().all(valid) {
            return Err(format!(
                "{text:?} is not a Config rule name (1-128 of A-Z a-z 0-9 - _, and * for any run)"
            ));
        }
        Ok(RulePattern(text.to_owned()))
    }

    pub fn matches(&self, name: &str) -> bool {
        wildcard_match(&self.0, name)
    }
}

impl fmt::Display for RulePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `*` matches any run of characters (none included); everything else matches itself.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// What Config says a rule is: its source, and the managed rule's `maxAccessKeyAge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSource {
    /// `AWS` for a managed rule, `CUSTOM_LAMBDA` or `CUSTOM_POLICY` for a custom one.
    pub owner: String,
    /// The managed rule's identifier, or a custom rule's Lambda ARN.
    pub identifier: String,
    /// The managed rule's `maxAccessKeyAge` input parameter, when it sets one (AWS's default
    /// is 90).
    pub max_access_key_age: Option<u32>,
}

/// What Config could tell us about a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleLookup {
    Described(RuleSource),
    /// No rule of that name in the account now: deleted since its event.
    NotFound,
    /// DescribeConfigRules is denied, or failed: nothing is known but the name.
    Unknown,
}

/// Whether a rule's NON_COMPLIANT events are acted on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recognition {
    Act(String),
    Ignore(String),
}

/// Decides whether `rule_name`'s events are ours: the managed rule whatever its name; a custom
/// rule RULE_NAMES lists; or, when Config cannot say, a name the managed rule is deployed
/// under or one RULE_NAMES lists.
pub fn recognise(rule_name: &str, lookup: &RuleLookup, allowed: &[RulePattern]) -> Recognition {
    let listed = allowed.iter().find(|pattern| pattern.matches(rule_name));
    match lookup {
        RuleLookup::Described(source) if is_managed_rotation_rule(source) => Recognition::Act(
            format!("{rule_name:?} is the AWS-managed rule {ACCESS_KEYS_ROTATED}"),
        ),
        RuleLookup::Described(source) => match listed {
            Some(pattern) => Recognition::Act(format!(
                "{rule_name:?} ({} {}) matches RULE_NAMES entry \"{pattern}\"",
                source.owner, source.identifier
            )),
            None => Recognition::Ignore(format!(
                "rule {rule_name:?} is {} {}, not the AWS-managed {ACCESS_KEYS_ROTATED}, and \
                 RULE_NAMES does not list it",
                source.owner, source.identifier
            )),
        },
        RuleLookup::NotFound | RuleLookup::Unknown => {
            let generated = GENERATED_NAMES
                .iter()
                .find(|name| wildcard_match(name, rule_name));
            let unknown = match lookup {
                RuleLookup::NotFound => "Config no longer has the rule",
                _ => "Config did not say what the rule is",
            };
            match (listed, generated) {
                (Some(pattern), _) => Recognition::Act(format!(
                    "{unknown}; {rule_name:?} matches RULE_NAMES entry \"{pattern}\""
                )),
                (None, Some(name)) => Recognition::Act(format!(
                    "{unknown}; {rule_name:?} is a name AWS gives {ACCESS_KEYS_ROTATED} ({name})"
                )),
                (None, None) => Recognition::Ignore(format!(
                    "{unknown}, and {rule_name:?} is neither a name AWS gives \
                     {ACCESS_KEYS_ROTATED} nor listed in RULE_NAMES"
                )),
            }
        }
    }
}

fn is_managed_rotation_rule(source: &RuleSource) -> bool {
    source.owner == "AWS" && source.identifier == ACCESS_KEYS_ROTATED
}

/// The warning due when the managed rule's age limit is not ours: the function's own
/// MAX_KEY_AGE_DAYS decides which keys are acted on, because the rule only says which users
/// to look at. `None` when they agree (the rule's default is 90).
pub fn age_limit_mismatch(
    rule_name: &str,
    source: &RuleSource,
    max_key_age_days: u32,
) -> Option<String> {
    if !is_managed_rotation_rule(source) {
        return None;
    }
    let rule_days = source.max_access_key_age.unwrap_or(90);
    (rule_days != max_key_age_days).then(|| {
        let consequence = if rule_days < max_key_age_days {
            "keys aged between the two stay NON_COMPLIANT and are left alone"
        } else {
            "keys the rule still calls compliant may be acted on by the sweep"
        };
        format!(
            "Config rule {rule_name:?} has maxAccessKeyAge={rule_days}, but MAX_KEY_AGE_DAYS=\
             {max_key_age_days}: MAX_KEY_AGE_DAYS wins, because the rule only names the user and \
             this function's policy decides each key; {consequence}"
        )
    })
}

#[cfg(test)]
mod tests;
