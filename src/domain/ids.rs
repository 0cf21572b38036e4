//! The ids that decide where the function acts and what it touches. Each is parsed once, where
//! it enters (an event, an ARN, an IAM answer), so the code behind the edge cannot hold a
//! malformed one.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

/// A value that is not the id it was meant to be; the message says what was expected.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{value:?} is not {expected}")]
pub struct InvalidId {
    pub value: String,
    pub expected: &'static str,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $expected:literal, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, InvalidId> {
                let valid: fn(&str) -> bool = $valid;
                if valid(text) {
                    Ok($name(text.to_owned()))
                } else {
                    Err(InvalidId { value: text.to_owned(), expected: $expected })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

id_type!(
    /// An AWS account id: twelve digits, and nothing else, since it names whose credentials act.
    AccountId,
    "an AWS account id (12 digits)",
    |text| text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
);

id_type!(
    /// An IAM UserId: opaque alphanumerics (real ones start `AIDA`; emulators' need not).
    UserId,
    "an IAM UserId (letters and digits, 1 to 128 of them)",
    |text| (1..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric())
);

id_type!(
    /// An access key id, as IAM's pattern `[\w]+` of 16 to 128 characters allows.
    AccessKeyId,
    "an access key id (16 to 128 letters, digits or _)",
    |text| {
        (16..=128).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_exactly_twelve_digits() {
        for good in ["123456789012", "000000000000"] {
            assert_eq!(AccountId::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "12345678901",
            "1234567890123",
            "12345678901a",
            "../123456789",
            "",
        ] {
            let error = AccountId::parse(bad).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("{bad:?} is not an AWS account id (12 digits)")
            );
        }
    }

    #[test]
    fn user_ids_are_alphanumeric_and_at_most_128_long() {
        assert!(UserId::parse("AIDAEXAMPLEALICE0001").is_ok());
        assert!(UserId::parse(&"A".repeat(128)).is_ok());
        for bad in ["", "AIDA/../x", "AIDA EXAMPLE", &"A".repeat(129)] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn access_key_ids_follow_iams_pattern() {
        assert!(AccessKeyId::parse("AKIAEXAMPLEKEY000001").is_ok());
        for bad in ["AKIA", "AKIA-EXAMPLE-KEY-0001", &"A".repeat(129)] {
            assert!(AccessKeyId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_serialize_as_their_plain_text() {
        let id = AccountId::parse("123456789012").unwrap();
        assert_eq!(serde_json::to_value(&id).unwrap(), "123456789012");
    }
}
