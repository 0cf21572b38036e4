//! The exemption tag: how an operator tells the function to leave a user alone, for good or
//! until a date.

use std::collections::BTreeMap;

use time::Date;
use time::macros::format_description;

/// How the exemption tag reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exemption {
    NotExempt,
    /// `true`, or a date that is today or later.
    Exempt {
        until: Option<Date>,
    },
    /// A date in the past: the exemption has lapsed and the user is treated like any other.
    Expired {
        until: Date,
    },
    /// Neither `true` nor a date. Treated as exempt, because acting on a user someone meant
    /// to exempt is the mistake that cannot be undone; the caller logs a warning.
    Unrecognised {
        value: String,
    },
}

impl Exemption {
    /// Reads the exemption tag `tag_key` as of `today` (UTC). IAM holds tag keys unique
    /// regardless of case, so whoever wrote `Access-Key-Remediator:Exempt` meant this tag.
    pub fn read(tags: &BTreeMap<String, String>, tag_key: &str, today: Date) -> Exemption {
        let Some((_, value)) = tags
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(tag_key))
        else {
            return Exemption::NotExempt;
        };
        let value = value.trim();
        if value.eq_ignore_ascii_case("true") {
            return Exemption::Exempt { until: None };
        }
        match Date::parse(value, format_description!("[year]-[month]-[day]")) {
            Ok(until) if until >= today => Exemption::Exempt { until: Some(until) },
            Ok(until) => Exemption::Expired { until },
            Err(_) => Exemption::Unrecognised {
                value: value.to_owned(),
            },
        }
    }

    pub fn is_exempt(&self) -> bool {
        matches!(
            self,
            Exemption::Exempt { .. } | Exemption::Unrecognised { .. }
        )
    }

    /// What the report says of each key of an exempt user.
    pub fn reason(&self) -> String {
        match self {
            Exemption::Exempt { until: None } => "user is exempt (tag is true)".to_owned(),
            Exemption::Exempt { until: Some(date) } => format!("user is exempt until {date}"),
            Exemption::Unrecognised { value } => format!(
                "user is exempt: the tag value {value:?} is neither true nor a YYYY-MM-DD date"
            ),
            Exemption::NotExempt | Exemption::Expired { .. } => String::new(),
        }
    }
}
