//! Which accounts of an organisation a sweep covers, and in which mode: the scope (units to
//! walk, ids to leave out), the accounts' states, and the `access-key-remediator:mode` tags on
//! accounts and the units above them, where the nearest tag wins. A tag that is not a mode is
//! reported and read as `report`, never guessed upward; the member role's ceiling caps
//! whatever a tag asks for.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::ids::{AccountId, InvalidId};
use super::policy::Mode;

/// The Organizations tag (on an account, an OU or a root) that sets the mode of the accounts
/// beneath it.
pub const MODE_TAG_KEY: &str = "access-key-remediator:mode";

/// The tag on a member account's role that says the most its permissions allow: the member
/// stack's RemediationMode, from which the role's write grants follow.
pub const CEILING_TAG_KEY: &str = "access-key-remediator:ceiling";

/// A root (`r-…`) or an organizational unit (`ou-…`): a parent in the organisation's tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UnitId(String);

impl UnitId {
    /// `r-` and 4–32 lower-case letters or digits, or `ou-`, 4–32 of them, `-`, and 8–32 more,
    /// as Organizations makes them.
    pub fn parse(text: &str) -> Result<UnitId, InvalidId> {
        let valid = if let Some(rest) = text.strip_prefix("r-") {
            is_id_part(rest, 4)
        } else if let Some(rest) = text.strip_prefix("ou-") {
            rest.split_once('-')
                .is_some_and(|(root, unit)| is_id_part(root, 4) && is_id_part(unit, 8))
        } else {
            false
        };
        if valid {
            Ok(UnitId(text.to_owned()))
        } else {
            Err(InvalidId {
                value: text.to_owned(),
                expected: "an Organizations root (r-…) or OU (ou-…) id",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.starts_with("r-")
    }
}

/// `least` to 32 lower-case ASCII letters or digits: one part of a root or OU id.
fn is_id_part(part: &str, least: usize) -> bool {
    (least..=32).contains(&part.len())
        && part
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

impl std::fmt::Display for UnitId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account's state in Organizations (ListAccountsForParent's `State`, or its older
/// `Status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountState {
    Active,
    Suspended,
    PendingClosure,
    /// Any other state Organizations may add (such as PENDING_ACTIVATION, CLOSED).
    #[serde(untagged)]
    Other(String),
}

impl AccountState {
    pub fn parse(text: &str) -> AccountState {
        match text {
            "ACTIVE" => AccountState::Active,
            "SUSPENDED" => AccountState::Suspended,
            "PENDING_CLOSURE" => AccountState::PendingClosure,
            other => AccountState::Other(other.to_owned()),
        }
    }
}

/// What the sweep's scope is: the units whose accounts it covers, every root when empty, and
/// the accounts and units it leaves out (an excluded unit is not walked at all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub units: Vec<UnitId>,
    pub excluded_units: Vec<UnitId>,
    pub excluded_accounts: Vec<AccountId>,
}

impl Scope {
    /// Whether the walk goes into `unit` (and so below it).
    pub fn walks(&self, unit: &UnitId) -> bool {
        !self.excluded_units.contains(unit)
    }
}

/// One account the walk found: its state, and its parents from the nearest (the unit it is in)
/// up to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundAccount {
    pub account: AccountId,
    pub state: AccountState,
    pub parents: Vec<UnitId>,
}

/// The mode tags read, by the id of what carries them (an account id, `ou-…` or `r-…`), as
/// written: an invalid value is kept, to be reported.
pub type ModeTags = BTreeMap<String, String>;

/// Where an account's mode came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "camelCase")]
pub enum ModeSource {
    /// No tag on the account or above it: the stack's RemediationMode.
    Default,
    /// The nearest tag, on this account, OU or root.
    Tag { on: String },
    /// The nearest tag holds no mode: the account runs in `report`.
    InvalidTag { on: String, value: String },
}

/// The mode the tags give an account whose parents (nearest first) are `parents`, and why.
/// The account's own tag is read first, then each parent's; the first tag found decides,
/// whatever the tags farther up say.
pub fn mode_for(
    account: &AccountId,
    parents: &[UnitId],
    tags: &ModeTags,
    default: Mode,
) -> (Mode, ModeSource) {
    let mut carriers = std::iter::once(account.as_str()).chain(parents.iter().map(UnitId::as_str));
    match carriers.find_map(|on| tags.get(on).map(|value| (on, value))) {
        None => (default, ModeSource::Default),
        Some((on, value)) => match parse_mode(value) {
            Some(mode) => (mode, ModeSource::Tag { on: on.to_owned() }),
            // Never guessed upward, nor taken from a farther tag: the safest mode.
            None => (
                Mode::Report,
                ModeSource::InvalidTag {
                    on: on.to_owned(),
                    value: value.clone(),
                },
            ),
        },
    }
}

/// The mode an account runs in: what was asked, lowered to the role's `ceiling` when it asks
/// for more. The second value is what was asked, when it was lowered.
pub fn within_ceiling(asked: Mode, ceiling: Mode) -> (Mode, Option<Mode>) {
    (asked.min(ceiling), (asked > ceiling).then_some(asked))
}

/// The ceiling a role's tag states: `None` when the role has no tag or its value is not a
/// mode (then the stack's default mode is the ceiling).
///
/// Only the exact lower-case names are modes: `Delete` or ` delete` is not, so that a value
/// someone typed loosely is reported rather than read as the most destructive mode.
pub fn parse_mode(value: &str) -> Option<Mode> {
    [Mode::Report, Mode::Deactivate, Mode::Delete]
        .into_iter()
        .find(|mode| mode.as_str() == value)
}

/// One account a sweep covers, and in which mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedAccount {
    pub account: AccountId,
    pub mode: Mode,
    pub mode_source: ModeSource,
}

/// Why an account the walk found is not swept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum SkipReason {
    /// Not ACTIVE: SUSPENDED, PENDING_CLOSURE, or another state.
    NotActive { state: AccountState },
    /// Listed in the exclusions.
    Excluded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedAccount {
    pub account: AccountId,
    #[serde(flatten)]
    pub reason: SkipReason,
}

/// What a sweep of the organisation covers: each account once, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepPlan {
    pub accounts: Vec<PlannedAccount>,
    pub skipped: Vec<SkippedAccount>,
}

/// The plan for the accounts the walk `found`: ACTIVE ones not excluded, each once (an account
/// found twice is planned once), each with the mode `mode_for` gives it. An account both
/// excluded and not ACTIVE is skipped as excluded; a repeat of an account is dropped whatever
/// its first sighting became.
pub fn plan_sweep(
    found: &[FoundAccount],
    tags: &ModeTags,
    scope: &Scope,
    default: Mode,
) -> SweepPlan {
    let mut seen = BTreeSet::new();
    let mut plan = SweepPlan::default();
    for found in found.iter().filter(|f| seen.insert(&f.account)) {
        let skip = |reason| SkippedAccount {
            account: found.account.clone(),
            reason,
        };
        if scope.excluded_accounts.contains(&found.account) {
            plan.skipped.push(skip(SkipReason::Excluded));
        } else if found.state != AccountState::Active {
            let state = found.state.clone();
            plan.skipped.push(skip(SkipReason::NotActive { state }));
        } else {
            let (mode, mode_source) = mode_for(&found.account, &found.parents, tags, default);
            plan.accounts.push(PlannedAccount {
                account: found.account.clone(),
                mode,
                mode_source,
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests;
