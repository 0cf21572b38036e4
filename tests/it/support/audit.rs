//! Judging a run by what the server holds and saw: the account normalised so that runs can
//! be compared (moto draws key ids at random; marker values are timestamps), and every key
//! write that reached moto held against the safety rules.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Emulator, KeyWrite, UserState};

/// The defaults the function runs with in these tests (Settings::default()).
pub const MAX_KEY_AGE_DAYS: i64 = 90;
pub const GRACE_DAYS: i64 = 14;

/// The account as a comparison sees it: user → keys (label → status) and tags, where a
/// grace clock is named by its key's label and valued by whether this run wrote it, in the
/// format it is held in: a per-key tag `access-key-remediator:deactivated:<label>`, or an
/// entry `<label>=<kind>` of the state tag (entries sorted, `; `-separated).
pub type NormalState = BTreeMap<String, NormalUser>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalUser {
    pub keys: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl NormalUser {
    /// The normalised grace clock of the key labelled `label`, in either format (the state
    /// tag's entry wins, as it does for the function): `WRITTEN_BY_THE_RUN`,
    /// `FROM_BEFORE_THE_RUN` or `unparseable`.
    pub fn clock(&self, label: &str) -> Option<&str> {
        let named = format!("<{label}>");
        let in_state = self.tags.get(STATE_TAG).and_then(|state| {
            state.split("; ").find_map(|entry| {
                let (key, kind) = entry.split_once('=')?;
                (key == named).then_some(kind)
            })
        });
        in_state.or_else(|| {
            let per_key = format!("{PER_KEY_MARKER_PREFIX}{named}");
            self.tags.get(&per_key).map(String::as_str)
        })
    }
}

pub const WRITTEN_BY_THE_RUN: &str = "written by the run";
pub const FROM_BEFORE_THE_RUN: &str = "from before the run";

/// A freshly seeded account: each key's label (`user#n`, n its place in the seed) and each
/// seeded user's UserId.
pub struct Seeded {
    pub labels: BTreeMap<String, String>,
    pub user_ids: BTreeMap<String, String>,
    pub started: OffsetDateTime,
}

impl Seeded {
    /// Empties the emulator's account and seeds `users` and `filler_users` young users.
    pub fn seed(aws: &mut Emulator, users: &Value, filler_users: u32) -> Seeded {
        aws.reset();
        let started = OffsetDateTime::now_utc();
        let seeded = aws.seed(users.clone());
        if filler_users > 0 {
            aws.command(json!({ "op": "seed", "fillerUsers": filler_users }));
        }
        let mut labels = BTreeMap::new();
        let mut user_ids = BTreeMap::new();
        for (name, user) in &seeded {
            user_ids.insert(name.clone(), user.user_id.clone());
            for (n, key) in user.keys.iter().enumerate() {
                labels.insert(key.clone(), format!("{name}#{n}"));
            }
        }
        // Filler users have one key each and no place in the spec.
        for (name, user) in aws.account_state() {
            for key in user.keys.keys() {
                labels
                    .entry(key.clone())
                    .or_insert_with(|| format!("{name}#0"));
            }
        }
        Seeded {
            labels,
            user_ids,
            started,
        }
    }

    pub fn label(&self, key_id: &str) -> String {
        self.labels
            .get(key_id)
            .cloned()
            .unwrap_or_else(|| format!("unseeded key {key_id}"))
    }

    /// The per-key marker tag of `key_id`, as `normalise` names it.
    pub fn marker_of(&self, key_id: &str) -> String {
        format!("{PER_KEY_MARKER_PREFIX}<{}>", self.label(key_id))
    }

    /// The emulator's account now, normalised.
    pub fn state(&self, aws: &mut Emulator) -> NormalState {
        self.normalise(&aws.account_state())
    }

    pub fn normalise(&self, state: &BTreeMap<String, UserState>) -> NormalState {
        state
            .iter()
            .map(|(user, raw)| {
                let keys = raw
                    .keys
                    .iter()
                    .map(|(id, status)| (self.label(id), status.clone()))
                    .collect();
                let tags = raw
                    .tags
                    .iter()
                    .map(
                        |(key, value)| match key.strip_prefix(PER_KEY_MARKER_PREFIX) {
                            Some(id) => (self.marker_of(id), self.marker_kind(value)),
                            None if key == STATE_TAG => (key.clone(), self.normal_state(value)),
                            None => (key.clone(), value.clone()),
                        },
                    )
                    .collect();
                (user.clone(), NormalUser { keys, tags })
            })
            .collect()
    }

    /// The state tag's entries, each key by its `<label>` and each time by its kind, sorted.
    fn normal_state(&self, value: &str) -> String {
        let mut entries: Vec<String> = value
            .split_whitespace()
            .map(|entry| match entry.split_once('=') {
                Some((id, at)) => format!("<{}>={}", self.label(id), self.marker_kind(at)),
                None => format!("{entry:?} (no key=time entry)"),
            })
            .collect();
        entries.sort();
        entries.join("; ")
    }

    fn marker_kind(&self, value: &str) -> String {
        match OffsetDateTime::parse(value, &Rfc3339) {
            Ok(at) if at >= self.started - time::Duration::seconds(5) => WRITTEN_BY_THE_RUN,
            Ok(_) => FROM_BEFORE_THE_RUN,
            Err(_) => "unparseable",
        }
        .to_owned()
    }
}

fn parse_instant(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// The function's marker tags as IAM holds them, in both formats a test may meet: one tag per
/// key under this prefix (the first format, still read), and one state tag per user whose
/// value is space-separated `<AccessKeyId>=<RFC 3339>` entries. Spelled out here rather than
/// taken from src/domain/marker.rs, so that a test pins the format IAM actually holds.
pub const PER_KEY_MARKER_PREFIX: &str = "access-key-remediator:deactivated:";
pub const STATE_TAG: &str = "access-key-remediator:state";

/// Whether a tag is one of the function's grace-clock tags (either format), not the user's.
pub fn is_marker_tag(tag_key: &str) -> bool {
    tag_key == STATE_TAG || tag_key.starts_with(PER_KEY_MARKER_PREFIX)
}

/// Every grace clock a user's tags record, by access key id, read from either format: the
/// state tag's entries and any per-key tags (the state tag's entry wins where a key has
/// both). `None`: a clock is there but is no RFC 3339 instant.
pub fn grace_clocks(tags: &BTreeMap<String, String>) -> BTreeMap<String, Option<OffsetDateTime>> {
    let mut clocks: BTreeMap<String, Option<OffsetDateTime>> = tags
        .iter()
        .filter_map(|(key, value)| {
            let key_id = key.strip_prefix(PER_KEY_MARKER_PREFIX)?;
            Some((key_id.to_owned(), parse_instant(value)))
        })
        .collect();
    let state = tags.get(STATE_TAG).map(String::as_str).unwrap_or_default();
    for entry in state.split_whitespace() {
        if let Some((key_id, at)) = entry.split_once('=') {
            clocks.insert(key_id.to_owned(), parse_instant(at));
        }
    }
    clocks
}

/// What is wrong with one key write, judged by the key's state right before it applied;
/// `None` when it is allowed. A deletion needs an Inactive key whose marker is past the
/// grace period, not older than the key and not followed by a use; a deactivation needs a
/// key over the age limit. Writes that found no key changed nothing.
pub fn wrong_key_write(write: &KeyWrite) -> Option<String> {
    if !write.found {
        return None;
    }
    let at = parse_instant(&write.at).expect("the write's time");
    let created = write.create_date.as_deref().and_then(parse_instant);
    match write.action.as_str() {
        "DeleteAccessKey" => {
            let used = write.last_used_date.as_deref().and_then(parse_instant);
            let Some(marker) = write.marker.as_deref().and_then(parse_instant) else {
                return Some(format!(
                    "deleted a key without a readable marker ({:?})",
                    write.marker
                ));
            };
            if write.status.as_deref() != Some("Inactive") {
                Some(format!("deleted a key that was {:?}", write.status))
            } else if at - marker <= time::Duration::days(GRACE_DAYS) {
                Some(format!("deleted a key marked only at {marker}"))
            } else if created.is_some_and(|created| marker < created) {
                Some("deleted a key whose marker predates it".to_owned())
            } else if used.is_some_and(|used| used > marker) {
                Some("deleted a key used after its marker".to_owned())
            } else {
                None
            }
        }
        "UpdateAccessKey" => {
            let age_days = created.map(|created| (at - created).whole_days());
            if write.requested_status.as_deref() != Some("Inactive") {
                Some(format!("set a key {:?}", write.requested_status))
            } else if age_days.is_none_or(|age| age <= MAX_KEY_AGE_DAYS) {
                Some(format!("deactivated a key {age_days:?} days old"))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Every key write the emulator recorded since its last reset that the rules forbid.
pub fn wrong_key_writes(aws: &mut Emulator) -> Vec<String> {
    aws.key_writes()
        .iter()
        .filter_map(|write| {
            wrong_key_write(write).map(|wrong| {
                format!(
                    "{wrong}: {} {} ({write:?})",
                    write.user_name, write.access_key_id
                )
            })
        })
        .collect()
}
