//! The grace clocks: how the function remembers, on the user, when it deactivated each key.
//! The grace period before deletion is measured from them, so their format lives here.
//!
//! All of a user's clocks live in one tag, `access-key-remediator:state`, whose value is
//! space-separated `<AccessKeyId>=<RFC 3339 UTC instant>` entries (IAM allows letters, digits,
//! spaces and `_.:/=+-@` in a tag value, at most 256 characters: five 20-character key ids
//! fit). One tag, whatever the number of keys, because IAM allows a user only 50 tags and they
//! belong to the user. Tags of the first format, one per key under
//! `access-key-remediator:deactivated:`, are still read, and folded into the state tag by the
//! next write.
//!
//! The same tag records the warnings sent, one `warned:<AccessKeyId>=<instant>` entry per
//! warned key, so that a key is warned once, not daily. The prefix puts the entry under a name
//! that is no key id (a key id has no `:`): a reader that predates warnings files it under
//! that name, finds no clock for the key, and drops the entry on its next write. A warning is
//! never read as a grace clock, which could let a key be deleted early.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::ids::AccessKeyId;

/// The tag that holds every grace clock of a user.
pub const STATE_TAG_KEY: &str = "access-key-remediator:state";

/// The first format: one tag per key, under this prefix, the rest of the tag key the key id.
pub const LEGACY_MARKER_PREFIX: &str = "access-key-remediator:deactivated:";

/// The state tag entry's prefix for a warning sent about a key.
pub const WARNING_PREFIX: &str = "warned:";

/// IAM's limits on a user's tags.
pub const TAGS_PER_USER: usize = 50;
pub const TAG_VALUE_MAX_CHARS: usize = 256;

/// Every instant the clocks store and the reasons quote: RFC 3339 UTC, to the second.
pub fn format_instant(instant: OffsetDateTime) -> String {
    let whole_seconds = instant
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    whole_seconds
        .format(&Rfc3339)
        .expect("a UTC instant always formats as RFC 3339")
}

/// When a clock says the key was deactivated; `None` when the value is not an instant.
pub fn parse_instant(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value.trim(), &Rfc3339).ok()
}

/// A user's grace clocks as found in one snapshot of their tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraceClocks {
    /// Each key's clock, as written (it may not parse): the state tag's entry, else the
    /// key's legacy tag.
    by_key: BTreeMap<String, String>,
    /// When each warned key was warned, as written (it may not parse).
    warned: BTreeMap<String, String>,
    /// The state tag's value, when the user has one.
    pub state_value: Option<String>,
    /// The legacy per-key tags the user still carries, to be removed by the next write.
    pub legacy_tags: Vec<String>,
}

impl GraceClocks {
    pub fn read(tags: &BTreeMap<String, String>) -> Self {
        let mut clocks = GraceClocks::default();
        for (tag_key, value) in tags {
            if let Some(key_id) = legacy_key_id(tag_key) {
                clocks.legacy_tags.push(tag_key.clone());
                clocks.by_key.insert(key_id.to_owned(), value.clone());
            }
        }
        // Our own tags are matched exactly: the role may write and remove them only as
        // spelt here (IAM's aws:TagKeys conditions compare case-sensitively).
        if let Some(value) = tags.get(STATE_TAG_KEY) {
            // The state tag is the newer record: its entries win over legacy tags.
            for entry in value.split_whitespace() {
                let Some((name, instant)) = entry.split_once('=') else {
                    continue;
                };
                match name.strip_prefix(WARNING_PREFIX) {
                    Some(key_id) => clocks.warned.insert(key_id.to_owned(), instant.to_owned()),
                    None => clocks.by_key.insert(name.to_owned(), instant.to_owned()),
                };
            }
            clocks.state_value = Some(value.clone());
        }
        clocks
    }

    /// The clock of `key`, as written.
    pub fn of(&self, key: &AccessKeyId) -> Option<&str> {
        self.by_key.get(key.as_str()).map(String::as_str)
    }

    /// The key ids that have a clock.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.by_key.keys().map(String::as_str)
    }

    /// When `key` was warned; `None` when it was not, or the record does not parse (the
    /// warning is then sent again and the record rewritten).
    pub fn warned_at(&self, key: &AccessKeyId) -> Option<OffsetDateTime> {
        parse_instant(self.warned.get(key.as_str())?)
    }

    /// The key ids that have a warning record.
    pub fn warned_key_ids(&self) -> impl Iterator<Item = &str> {
        self.warned.keys().map(String::as_str)
    }
}

/// The key id a legacy marker tag names, or `None` for any other tag.
pub fn legacy_key_id(tag_key: &str) -> Option<&str> {
    tag_key.strip_prefix(LEGACY_MARKER_PREFIX)
}

/// The state tag's value for these clocks and warnings, clocks first, each oldest key id
/// first; `None` for no entry at all, which is written by removing the tag.
pub fn state_value(
    clocks: &BTreeMap<AccessKeyId, OffsetDateTime>,
    warned: &BTreeMap<AccessKeyId, OffsetDateTime>,
) -> Option<String> {
    let clocks = clocks
        .iter()
        .map(|(key, at)| format!("{key}={}", format_instant(*at)));
    let warned = warned
        .iter()
        .map(|(key, at)| format!("{WARNING_PREFIX}{key}={}", format_instant(*at)));
    let entries: Vec<String> = clocks.chain(warned).collect();
    (!entries.is_empty()).then(|| entries.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn key(id: &str) -> AccessKeyId {
        AccessKeyId::parse(id).unwrap()
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_instant_round_trips_to_the_second() {
        let at = datetime!(2026-11-01 10:00:00.75 UTC);
        assert_eq!(format_instant(at), "2026-11-01T10:00:00Z");
        assert_eq!(
            parse_instant("2026-11-01T10:00:00Z"),
            Some(datetime!(2026-11-01 10:00 UTC))
        );
        assert_eq!(parse_instant("last tuesday"), None);
    }

    #[test]
    fn the_state_tag_holds_every_clock_and_wins_over_legacy_tags() {
        let found = GraceClocks::read(&tags(&[
            (
                STATE_TAG_KEY,
                "AKIAEXAMPLEKEY000001=2026-11-01T10:00:00Z AKIAEXAMPLEKEY000002=2026-11-02T10:00:00Z",
            ),
            (
                "access-key-remediator:deactivated:AKIAEXAMPLEKEY000001",
                "2026-10-01T10:00:00Z",
            ),
            (
                "access-key-remediator:deactivated:AKIAEXAMPLEKEY000003",
                "2026-10-03T10:00:00Z",
            ),
            ("owner", "payments"),
        ]));
        assert_eq!(
            found.of(&key("AKIAEXAMPLEKEY000001")),
            Some("2026-11-01T10:00:00Z")
        );
        assert_eq!(
            found.of(&key("AKIAEXAMPLEKEY000003")),
            Some("2026-10-03T10:00:00Z")
        );
        assert_eq!(found.legacy_tags.len(), 2);
        assert_eq!(found.key_ids().count(), 3);
    }

    #[test]
    fn two_clocks_fit_in_one_tag_value_iam_accepts() {
        let clocks = BTreeMap::from([
            (key("AKIAEXAMPLEKEY000002"), datetime!(2026-11-02 10:00 UTC)),
            (key("AKIAEXAMPLEKEY000001"), datetime!(2026-11-01 10:00 UTC)),
        ]);
        let value = state_value(&clocks, &BTreeMap::new()).unwrap();
        assert_eq!(
            value,
            "AKIAEXAMPLEKEY000001=2026-11-01T10:00:00Z AKIAEXAMPLEKEY000002=2026-11-02T10:00:00Z"
        );
        assert!(value.len() <= TAG_VALUE_MAX_CHARS);
        // IAM's tag value pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*
        assert!(
            value
                .chars()
                .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
        );
        assert_eq!(state_value(&BTreeMap::new(), &BTreeMap::new()), None);
        assert_eq!(
            GraceClocks::read(&BTreeMap::from([(STATE_TAG_KEY.to_owned(), value)]))
                .of(&key("AKIAEXAMPLEKEY000002")),
            Some("2026-11-02T10:00:00Z")
        );
    }

    #[test]
    fn a_warning_entry_is_read_as_a_warning_and_never_as_a_clock() {
        let found = GraceClocks::read(&tags(&[(
            STATE_TAG_KEY,
            "AKIAEXAMPLEKEY000001=2026-11-01T10:00:00Z warned:AKIAEXAMPLEKEY000002=2026-11-20T10:00:00Z",
        )]));
        assert_eq!(found.of(&key("AKIAEXAMPLEKEY000002")), None);
        assert_eq!(
            found.warned_at(&key("AKIAEXAMPLEKEY000002")),
            Some(datetime!(2026-11-20 10:00 UTC))
        );
        assert_eq!(found.warned_at(&key("AKIAEXAMPLEKEY000001")), None);
        assert_eq!(
            found.key_ids().collect::<Vec<_>>(),
            ["AKIAEXAMPLEKEY000001"]
        );
        assert_eq!(
            found.warned_key_ids().collect::<Vec<_>>(),
            ["AKIAEXAMPLEKEY000002"]
        );
    }

    /// The state tag's parsing as released before warnings existed (`GraceClocks::read`'s
    /// loop then), kept verbatim: the function a rollback would run.
    fn released_reader(value: &str) -> BTreeMap<String, String> {
        let mut by_key = BTreeMap::new();
        for entry in value.split_whitespace() {
            if let Some((key_id, instant)) = entry.split_once('=') {
                by_key.insert(key_id.to_owned(), instant.to_owned());
            }
        }
        by_key
    }

    #[test]
    fn a_reader_that_predates_warnings_finds_no_clock_in_a_warning() {
        let warned_at = datetime!(2026-10-01 10:00 UTC);
        let value = state_value(
            &BTreeMap::from([(key("AKIAEXAMPLEKEY000001"), datetime!(2026-11-01 10:00 UTC))]),
            &BTreeMap::from([(key("AKIAEXAMPLEKEY000002"), warned_at)]),
        )
        .unwrap();
        let old = released_reader(&value);
        // The old reader looks a clock up by the key's id: the warned key has none, so an
        // inactive key with only a warning starts its grace clock, and is never deleted early.
        assert_eq!(old.get("AKIAEXAMPLEKEY000002"), None);
        assert_eq!(
            old.get("AKIAEXAMPLEKEY000001").map(String::as_str),
            Some("2026-11-01T10:00:00Z")
        );
        // What it files the warning under is no key id at all.
        let filed: Vec<&String> = old
            .keys()
            .filter(|k| k.starts_with(WARNING_PREFIX))
            .collect();
        assert_eq!(filed, ["warned:AKIAEXAMPLEKEY000002"]);
        assert!(AccessKeyId::parse(filed[0]).is_err());
        // And a warning entry's value is an instant, but only under a name no key has.
        assert_eq!(parse_instant(&old[filed[0]]), Some(warned_at));
    }

    #[test]
    fn two_keys_clocks_and_warnings_together_fit_one_tag_value() {
        // IAM allows a user two keys; the policy keeps one entry per key, but even a clock
        // and a warning for each fit.
        let at = datetime!(2026-11-02 10:00 UTC);
        let both = BTreeMap::from([
            (key("AKIAEXAMPLEKEY000001"), at),
            (key("AKIAEXAMPLEKEY000002"), at),
        ]);
        let value = state_value(&both, &both).unwrap();
        assert_eq!(value.len(), 2 * 41 + 2 * 48 + 3);
        assert!(value.len() <= TAG_VALUE_MAX_CHARS);
        assert!(
            value
                .chars()
                .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
        );
        let read = GraceClocks::read(&BTreeMap::from([(STATE_TAG_KEY.to_owned(), value)]));
        assert_eq!(
            read.of(&key("AKIAEXAMPLEKEY000001")),
            Some("2026-11-02T10:00:00Z")
        );
        assert_eq!(read.warned_at(&key("AKIAEXAMPLEKEY000002")), Some(at));
    }

    #[test]
    fn only_our_prefix_names_a_legacy_clock() {
        assert_eq!(
            legacy_key_id("access-key-remediator:deactivated:AKIAEXAMPLEKEY000001"),
            Some("AKIAEXAMPLEKEY000001")
        );
        assert_eq!(legacy_key_id("owner"), None);
        assert_eq!(legacy_key_id("access-key-remediator:exempt"), None);
    }
}
