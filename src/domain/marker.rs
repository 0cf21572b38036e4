//! The marker tag: how the function remembers, on the user, when it deactivated a key. The
//! grace period before deletion is measured from it, so its format lives in one place.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::ids::AccessKeyId;

/// Tags under this prefix are ours; the rest of the tag key is the access key id.
pub const MARKER_PREFIX: &str = "access-key-remediator:deactivated:";

/// The tag key that records when we deactivated `access_key_id`.
pub fn marker_tag_key(access_key_id: &AccessKeyId) -> String {
    format!("{MARKER_PREFIX}{access_key_id}")
}

/// The access key id a marker tag key names, or `None` for any other tag.
pub fn marked_key_id(tag_key: &str) -> Option<&str> {
    tag_key.strip_prefix(MARKER_PREFIX)
}

/// The marker's value, and every instant the reasons quote: RFC 3339 UTC, to the second.
pub fn marker_tag_value(instant: OffsetDateTime) -> String {
    let whole_seconds = instant
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    whole_seconds
        .format(&Rfc3339)
        .expect("a UTC instant always formats as RFC 3339")
}

/// When the marker says the key was deactivated; `None` when the value is not an instant.
pub fn parse_marker(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value.trim(), &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_marker_round_trips_to_the_second() {
        let at = datetime!(2026-11-01 10:00:00.75 UTC);
        let value = marker_tag_value(at);
        assert_eq!(value, "2026-11-01T10:00:00Z");
        assert_eq!(parse_marker(&value), Some(datetime!(2026-11-01 10:00 UTC)));
        assert_eq!(parse_marker("last tuesday"), None);
    }

    #[test]
    fn only_our_prefix_names_a_marked_key() {
        let key = AccessKeyId::parse("AKIAEXAMPLEKEY000001").unwrap();
        assert_eq!(
            marked_key_id(&marker_tag_key(&key)),
            Some("AKIAEXAMPLEKEY000001")
        );
        assert_eq!(marked_key_id("owner"), None);
    }
}
