//! Property tests of the pure policy's safety invariants: whatever the keys, tags, clock,
//! policy and action budget, `decide` never deletes an Active key, never deletes inside
//! the recorded grace period, never acts on an exempt user, and so on.
//!
//! Grace clocks are generated in both formats the function reads: entries of the one state
//! tag (`access-key-remediator:state` = `<AccessKeyId>=<RFC 3339> …`, space-separated), and
//! the first format's tag per key (`access-key-remediator:deactivated:<AccessKeyId>`), alone
//! or beside a state-tag entry for the same key, which wins. Some users have all 50 of IAM's
//! tags in use. Tag keys come in any case: IAM compares them ignoring case, and so does the
//! exemption's reading, but the function reads its own clock tags only as it spells them (the
//! role may write them only so), so a clock tag spelt otherwise is no clock at all.
//!
//! The case count comes from `Config::default()`, which reads PROPTEST_CASES (256 when unset),
//! so CI runs a moderate count and a soak run raises it:
//! `PROPTEST_CASES=20000 cargo test --test properties policy::`.
//!
//! Every input is built by construction rather than filtered, so no case is rejected. Times
//! are drawn both freely and a day or a second either side of each configured limit, so the
//! boundaries come up whatever the policy. The last test checks that the generated cases
//! reach every verdict, so that no invariant holds only because its premise never comes up.

use std::collections::{BTreeMap, BTreeSet};

use access_key_remediator::domain::ids::AccessKeyId;
use access_key_remediator::domain::marker::format_instant;
use access_key_remediator::domain::policy::{Hold, Mode, Policy, UserPlan, Verdict, decide};
use access_key_remediator::domain::user::{AccessKey, KeyStatus, UserSnapshot};
use access_key_remediator::report::Action;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use time::format_description::well_known::Rfc3339;
use time::macros::{datetime, format_description};
use time::{Date, Duration, OffsetDateTime, UtcOffset};

const DEFAULT_EXEMPT_TAG_KEY: &str = "access-key-remediator:exempt";
const CUSTOM_EXEMPT_TAG_KEY: &str = "security:exempt";
const DAY: i64 = 86_400;

// The grace clocks' format as IAM holds it, spelled out here rather than taken from
// src/domain/marker.rs, so that the invariants hold the policy to the format, not to itself.
const STATE_TAG: &str = "access-key-remediator:state";
const PER_KEY_PREFIX: &str = "access-key-remediator:deactivated:";
/// IAM's quota of tags per user.
const TAGS_PER_USER: usize = 50;
/// How far ahead of `now` a clock may be and still be waited on (clocks of machines drift).
const CLOCK_SKEW_SECS: i64 = 300;

const ALL_MODES: &[Mode] = &[Mode::Report, Mode::Deactivate, Mode::Delete];

// ---------------------------------------------------------------------------------------------
// The generated input
// ---------------------------------------------------------------------------------------------

/// One call to `decide`, plus how the exemption tag was generated to read.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) snapshot: UserSnapshot,
    pub(crate) now: OffsetDateTime,
    pub(crate) policy: Policy,
    pub(crate) budget: u32,
    /// Whether the tag under `policy.exempt_tag_key` was generated as one that exempts
    /// (`true` in any case, a date today or later, or an unrecognised value).
    pub(crate) exempt: bool,
}

impl Case {
    pub(crate) fn plan(&self) -> UserPlan {
        decide(&self.snapshot, self.now, &self.policy, self.budget)
    }

    /// The same call with the snapshot's keys in another order.
    fn plan_for(&self, keys: &[AccessKey]) -> UserPlan {
        let snapshot = UserSnapshot {
            keys: keys.to_vec(),
            tags: self.snapshot.tags.clone(),
        };
        decide(&snapshot, self.now, &self.policy, self.budget)
    }

    /// The input key with this id, as generated (not as echoed back in the plan).
    pub(crate) fn key(&self, access_key_id: &str) -> Option<&AccessKey> {
        self.snapshot
            .keys
            .iter()
            .find(|k| k.access_key_id.as_str() == access_key_id)
    }
}

/// Whether the verdict makes an IAM write call: `Deactivate`, `Mark` and `Delete` do, and
/// `Warn` (the state tag's warning record), a `Hold` does not (as documented on `Verdict`).
pub(crate) fn writes(verdict: Verdict) -> bool {
    !matches!(verdict, Verdict::Hold(_))
}

/// The action the report gives a key with this verdict, once carried out.
fn reported_action(verdict: Verdict) -> Action {
    match verdict {
        Verdict::Deactivate => Action::Deactivated,
        Verdict::Mark => Action::Marked,
        Verdict::Delete => Action::Deleted,
        Verdict::Warn => Action::Warned,
        Verdict::Hold(hold) => hold.into(),
    }
}

#[derive(Debug, Clone, Copy)]
enum MarkerStyle {
    /// Exactly what the function writes (`format_instant`).
    Ours,
    /// The same instant written in another UTC offset (whole minutes).
    Offset(i32),
    /// Ours with surrounding whitespace (in the state tag: around the entry).
    Padded,
    /// RFC 3339 with the sub-second part kept.
    Fractional,
}

/// Where a key's clock is written.
#[derive(Debug, Clone)]
enum MarkerFormat {
    /// An entry `<AccessKeyId>=<value>` of the state tag.
    State,
    /// The first format: a tag of its own, `access-key-remediator:deactivated:<AccessKeyId>`.
    PerKey,
    /// Both: the state tag's entry, and a per-key tag holding this other clock, which the
    /// state tag's entry overrides.
    Both(MarkerSpec),
}

/// How the tag keys the function reads are spelt: IAM keeps one tag per key ignoring case.
/// For the exemption tag any spelling counts; for the clock tags only `AsWritten` does.
#[derive(Debug, Clone, Copy)]
enum TagCase {
    AsWritten,
    Upper,
    /// `Access-Key-Remediator:State`.
    Title,
}

impl TagCase {
    fn spell(self, key: &str) -> String {
        match self {
            TagCase::AsWritten => key.to_owned(),
            TagCase::Upper => key.to_ascii_uppercase(),
            TagCase::Title => {
                let mut title = String::with_capacity(key.len());
                let mut start = true;
                for c in key.chars() {
                    title.push(if start { c.to_ascii_uppercase() } else { c });
                    start = !c.is_ascii_alphanumeric();
                }
                title
            }
        }
    }
}

#[derive(Debug, Clone)]
enum MarkerSpec {
    Absent,
    /// An RFC 3339 marker, `ago` before `now` (negative: in the future).
    At {
        ago: Ago,
        style: MarkerStyle,
    },
    Junk(String),
}

/// How long before `now` something happened: a number of days, or a number of days either
/// side of one of the configured limits (so that its boundary is hit whatever the policy),
/// plus `jitter_secs`.
#[derive(Debug, Clone, Copy)]
struct Ago {
    days: Days,
    jitter_secs: i64,
}

#[derive(Debug, Clone, Copy)]
enum Days {
    Exactly(i64),
    AroundAgeLimit(i64),
    AroundIdleLimit(i64),
    AroundGracePeriod(i64),
    /// About where WARN_BEFORE_DAYS starts before the age limit.
    AroundWarning(i64),
}

impl Ago {
    fn resolve(self, policy: &Policy) -> Duration {
        let days = match self.days {
            Days::Exactly(days) => days,
            Days::AroundAgeLimit(delta) => i64::from(policy.max_key_age_days) + delta,
            Days::AroundIdleLimit(delta) => {
                i64::from(policy.max_key_idle_days.unwrap_or(policy.max_key_age_days)) + delta
            }
            Days::AroundGracePeriod(delta) => i64::from(policy.delete_after_inactive_days) + delta,
            Days::AroundWarning(delta) => {
                i64::from(policy.max_key_age_days) - i64::from(policy.warn_before_days) + delta
            }
        };
        Duration::seconds(days * DAY + self.jitter_secs)
    }
}

#[derive(Debug, Clone, Copy)]
enum LastUsedSpec {
    Never,
    /// This many thousandths of the way from `created` to `now`.
    Between(u16),
    /// This many seconds after the key's marker (clamped into `created..=now`).
    NearMarker(i64),
    /// About the idle limit before `now` (clamped into `created..=now`).
    IdleFor(Ago),
}

#[derive(Debug, Clone)]
struct KeySpec {
    id_suffix: String,
    active: bool,
    created: Ago,
    last_used: LastUsedSpec,
    marker: MarkerSpec,
    format: MarkerFormat,
}

#[derive(Debug, Clone)]
enum ExemptSpec {
    Untagged,
    True(&'static str),
    /// A YYYY-MM-DD date this many days after `now`'s date, optionally padded with spaces.
    Date {
        days_from_today: i64,
        padded: bool,
    },
    /// Neither `true` nor a YYYY-MM-DD date.
    Junk(String),
}

impl ExemptSpec {
    fn exempts(&self) -> bool {
        match self {
            ExemptSpec::Untagged => false,
            ExemptSpec::True(_) | ExemptSpec::Junk(_) => true,
            ExemptSpec::Date {
                days_from_today, ..
            } => *days_from_today >= 0,
        }
    }

    fn value(&self, today: Date) -> Option<String> {
        match self {
            ExemptSpec::Untagged => None,
            ExemptSpec::True(value) => Some((*value).to_owned()),
            ExemptSpec::Date {
                days_from_today,
                padded,
            } => {
                let date = (today + Duration::days(*days_from_today))
                    .format(format_description!("[year]-[month]-[day]"))
                    .expect("a date formats");
                Some(if *padded { format!(" {date} ") } else { date })
            }
            ExemptSpec::Junk(value) => Some(value.clone()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// Any instant from 2020 through 2030, at any time of day, often with a sub-second part.
fn now() -> impl Strategy<Value = OffsetDateTime> {
    let start = datetime!(2020-01-01 0:00 UTC).unix_timestamp();
    let end = datetime!(2031-01-01 0:00 UTC).unix_timestamp();
    (start..end, prop_oneof![Just(0u32), 0u32..1_000_000_000]).prop_map(|(secs, nanos)| {
        OffsetDateTime::from_unix_timestamp(secs)
            .expect("in range")
            .replace_nanosecond(nanos)
            .expect("in range")
    })
}

/// A time `days` back, give or take: exactly, a second either side, or anywhere within the
/// next day, so the `<=`/`>` comparisons at each day limit are reached.
fn ago(days: impl Strategy<Value = Days>) -> impl Strategy<Value = Ago> {
    let jitter = prop_oneof![
        3 => Just(0i64),
        1 => Just(1i64),
        1 => Just(-1i64),
        2 => 0..DAY,
    ];
    (days, jitter).prop_map(|(days, jitter_secs)| Ago { days, jitter_secs })
}

fn around_a_limit() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), Just(-1i64), Just(1i64)]
}

/// A key's age: 0 to 800 days, or about one of its limits.
fn key_age() -> impl Strategy<Value = Ago> {
    ago(prop_oneof![
        4 => (0i64..=800).prop_map(Days::Exactly),
        1 => around_a_limit().prop_map(Days::AroundAgeLimit),
        1 => around_a_limit().prop_map(Days::AroundIdleLimit),
        1 => around_a_limit().prop_map(Days::AroundWarning),
    ])
}

/// A marker's age: -5 to 400 days, about the grace period, a year ahead, or a second either
/// side of the 5 minutes ahead a clock may be before it is not trusted.
fn marker_age() -> impl Strategy<Value = Ago> {
    prop_oneof![
        12 => ago(prop_oneof![
            2 => (-5i64..400).prop_map(Days::Exactly),
            1 => around_a_limit().prop_map(Days::AroundGracePeriod),
        ]),
        1 => Just(Ago { days: Days::Exactly(-365), jitter_secs: 0 }),
        2 => (-1i64..=1).prop_map(|delta| Ago {
            days: Days::Exactly(0),
            jitter_secs: -CLOCK_SKEW_SECS + delta,
        }),
    ]
}

fn marker_style() -> impl Strategy<Value = MarkerStyle> {
    prop_oneof![
        6 => Just(MarkerStyle::Ours),
        1 => (-14 * 60..=14 * 60).prop_map(MarkerStyle::Offset),
        1 => Just(MarkerStyle::Padded),
        1 => Just(MarkerStyle::Fractional),
    ]
}

fn junk_marker() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("last tuesday".to_owned()),
        Just("2026-01-01".to_owned()),
        Just("2026-01-01 00:00:00".to_owned()),
        Just("true".to_owned()),
        "[ -~]{0,24}",
    ]
}

/// A marker value: the real thing from -5 to 400 days back, or junk.
fn present_marker() -> impl Strategy<Value = MarkerSpec> {
    prop_oneof![
        5 => (marker_age(), marker_style())
            .prop_map(|(ago, style)| MarkerSpec::At { ago, style }),
        1 => junk_marker().prop_map(MarkerSpec::Junk),
    ]
}

fn marker_spec() -> impl Strategy<Value = MarkerSpec> {
    prop_oneof![
        1 => Just(MarkerSpec::Absent),
        2 => present_marker(),
    ]
}

fn marker_format() -> impl Strategy<Value = MarkerFormat> {
    prop_oneof![
        3 => Just(MarkerFormat::State),
        2 => Just(MarkerFormat::PerKey),
        1 => present_marker().prop_map(MarkerFormat::Both),
    ]
}

fn tag_case() -> impl Strategy<Value = TagCase> {
    prop_oneof![
        6 => Just(TagCase::AsWritten),
        1 => Just(TagCase::Upper),
        1 => Just(TagCase::Title),
    ]
}

fn last_used_spec() -> impl Strategy<Value = LastUsedSpec> {
    prop_oneof![
        2 => Just(LastUsedSpec::Never),
        3 => (0u16..=1000).prop_map(LastUsedSpec::Between),
        2 => prop_oneof![Just(0i64), Just(1), Just(-1), -3 * DAY..3 * DAY]
            .prop_map(LastUsedSpec::NearMarker),
        1 => ago(around_a_limit().prop_map(Days::AroundIdleLimit)).prop_map(LastUsedSpec::IdleFor),
    ]
}

prop_compose! {
    fn key_spec()(
        id_suffix in "[A-Z0-9]{16}",
        active in any::<bool>(),
        created in key_age(),
        last_used in last_used_spec(),
        marker in marker_spec(),
        format in marker_format(),
    ) -> KeySpec {
        KeySpec { id_suffix, active, created, last_used, marker, format }
    }
}

fn exempt_junk() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("false".to_owned()),
        Just("yes".to_owned()),
        Just("until the migration".to_owned()),
        Just("31/01/2027".to_owned()),
        Just("2027-02-30".to_owned()),
        Just("2027-13-01".to_owned()),
        Just("trueish".to_owned()),
        "x[a-z0-9 -]{0,12}",
    ]
}

fn exempt_spec() -> impl Strategy<Value = ExemptSpec> {
    prop_oneof![
        4 => Just(ExemptSpec::Untagged),
        1 => select(&["true", "TRUE", "True", " true "][..]).prop_map(ExemptSpec::True),
        2 => (
            prop_oneof![Just(-1i64), Just(0i64), Just(1i64), -400i64..400],
            any::<bool>(),
        )
            .prop_map(|(days_from_today, padded)| ExemptSpec::Date { days_from_today, padded }),
        1 => exempt_junk().prop_map(ExemptSpec::Junk),
    ]
}

/// Tags that are neither the exemption tag nor one of our markers, some of them close.
fn unrelated_tag() -> impl Strategy<Value = (String, String)> {
    select(
        &[
            ("team", "payments"),
            ("Name", "ci-deployer"),
            ("access-key-remediator:note", "rotated by hand"),
            ("access-key-remediator:deactivated", "2026-01-01T00:00:00Z"),
            ("aws:cloudformation:stack-name", "iam-users"),
            ("exempt", "true"),
        ][..],
    )
    .prop_map(|(k, v)| (k.to_owned(), v.to_owned()))
}

prop_compose! {
    fn policy(modes: &'static [Mode])(
        mode in select(modes),
        max_key_age_days in 1u32..=400,
        delete_after_inactive_days in 1u32..=60,
        max_key_idle_days in option::of(1u32..=400),
        custom_exempt_tag_key in any::<bool>(),
        max_actions_per_invocation in 1u32..=5,
        warn_before_days in prop_oneof![1 => Just(0u32), 3 => 1u32..=30],
    ) -> Policy {
        Policy {
            mode,
            max_key_age_days,
            delete_after_inactive_days,
            max_key_idle_days,
            exempt_tag_key: if custom_exempt_tag_key {
                CUSTOM_EXEMPT_TAG_KEY
            } else {
                DEFAULT_EXEMPT_TAG_KEY
            }
            .to_owned(),
            max_actions_per_invocation,
            warn_before_days,
        }
    }
}

prop_compose! {
    /// A whole case, with the mode drawn from `modes`.
    fn case_in(modes: &'static [Mode])(
        now in now(),
        keys in vec(key_spec(), 0..=3),
        orphans in vec(("[A-Z0-9]{16}", present_marker(), marker_format()), 0..=2),
        exemption in exempt_spec(),
        decoy in option::of(exempt_spec()),
        unrelated in vec(unrelated_tag(), 0..=2),
        // How many tags the user has in all, filled up with the user's own: often few, but
        // sometimes every one of IAM's 50 (or one short).
        fill_to in prop_oneof![5 => Just(0usize), 1 => TAGS_PER_USER - 1..=TAGS_PER_USER],
        tag_case in tag_case(),
        policy in policy(modes),
        budget in 0u32..=5,
    ) -> Case {
        let tags = Tags { orphans, unrelated, fill_to, case: tag_case };
        build(now, keys, tags, &exemption, decoy.as_ref(), policy, budget)
    }
}

pub(crate) fn any_case() -> impl Strategy<Value = Case> {
    case_in(ALL_MODES)
}

// ---------------------------------------------------------------------------------------------
// Building a case from its specs
// ---------------------------------------------------------------------------------------------

/// Makes the id suffixes pairwise distinct, changing only the last character of a repeat.
fn make_distinct(suffixes: &mut [String]) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for i in 0..suffixes.len() {
        while suffixes[..i].contains(&suffixes[i]) {
            let mut bytes = std::mem::take(&mut suffixes[i]).into_bytes();
            let last = bytes.last_mut().expect("16 characters");
            let at = ALPHABET.iter().position(|c| c == last).expect("alnum");
            *last = ALPHABET[(at + 1) % ALPHABET.len()];
            suffixes[i] = String::from_utf8(bytes).expect("ascii");
        }
    }
}

/// A marker's value, and whether it is padded with whitespace.
fn render_marker(
    spec: &MarkerSpec,
    now: OffsetDateTime,
    policy: &Policy,
) -> Option<(String, bool)> {
    match spec {
        MarkerSpec::Absent => None,
        MarkerSpec::Junk(value) => Some((value.clone(), false)),
        MarkerSpec::At { ago, style } => {
            let at = now - ago.resolve(policy);
            Some(match style {
                MarkerStyle::Ours => (format_instant(at), false),
                MarkerStyle::Offset(minutes) => {
                    let offset = UtcOffset::from_whole_seconds(minutes * 60).expect("within 14h");
                    (format_instant(at.to_offset(offset)), false)
                }
                MarkerStyle::Padded => (format_instant(at), true),
                MarkerStyle::Fractional => (at.format(&Rfc3339).expect("formats"), false),
            })
        }
    }
}

/// The tags of a user as they are built: the state tag's entries, gathered, and every other
/// tag.
struct TagsBuilt {
    tags: BTreeMap<String, String>,
    state_entries: Vec<String>,
    case: TagCase,
}

impl TagsBuilt {
    /// Writes the clock of `id` in `format`; no tag at all for an absent marker.
    fn write_clock(
        &mut self,
        id: &AccessKeyId,
        rendered: Option<(String, bool)>,
        format: &MarkerFormat,
        now: OffsetDateTime,
        policy: &Policy,
    ) {
        let per_key = |value: String| (self.case.spell(PER_KEY_PREFIX) + id.as_str(), value);
        let Some((value, padded)) = rendered else {
            return;
        };
        match format {
            MarkerFormat::PerKey => {
                let value = if padded { format!("  {value} ") } else { value };
                let (key, value) = per_key(value);
                self.tags.insert(key, value);
            }
            MarkerFormat::State | MarkerFormat::Both(_) => {
                let entry = format!("{id}={value}");
                self.state_entries.push(if padded {
                    format!("  {entry}  ")
                } else {
                    entry
                });
                if let MarkerFormat::Both(other) = format
                    && let Some((other, _)) = render_marker(other, now, policy)
                {
                    let (key, value) = per_key(other);
                    self.tags.insert(key, value);
                }
            }
        }
    }

    fn finish(mut self) -> BTreeMap<String, String> {
        if !self.state_entries.is_empty() {
            let key = self.case.spell(STATE_TAG);
            self.tags.insert(key, self.state_entries.join(" "));
        }
        self.tags
    }
}

/// The test's own reading of a clock, rather than `domain::marker::parse_instant`: the grace
/// period invariant must not take the policy's word for which values are instants.
fn parse_marker(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value.trim(), &Rfc3339).ok()
}

/// The state tag's value: the tag spelt exactly so.
fn state_tag(tags: &BTreeMap<String, String>) -> Option<&str> {
    tags.get(STATE_TAG).map(String::as_str)
}

/// The key id a per-key clock tag names: a tag under the prefix spelt exactly so.
fn per_key_id(tag_key: &str) -> Option<&str> {
    tag_key.strip_prefix(PER_KEY_PREFIX)
}

/// Every clock the tags record, by key id, as the format defines it: the per-key tags, and the
/// state tag's whitespace-separated `<id>=<value>` entries, which win.
fn recorded_clocks(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut clocks: BTreeMap<String, String> = tags
        .iter()
        .filter_map(|(key, value)| Some((per_key_id(key)?.to_owned(), value.clone())))
        .collect();
    for entry in state_tag(tags).unwrap_or_default().split_whitespace() {
        if let Some((id, value)) = entry.split_once('=') {
            clocks.insert(id.to_owned(), value.to_owned());
        }
    }
    clocks
}

/// Whether the user's tags leave no slot for the state tag: all 50 used, none of them ours.
fn no_tag_slot(tags: &BTreeMap<String, String>) -> bool {
    tags.len() >= TAGS_PER_USER
        && state_tag(tags).is_none()
        && !tags.keys().any(|key| per_key_id(key).is_some())
}

/// Whether a clock recorded for `key` can be waited on: an instant, not more than 5 minutes
/// ahead, not before the key was created, and not followed by a use of the key.
fn usable_clock(
    key: &AccessKey,
    clock: Option<&str>,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let at = parse_marker(clock?)?;
    let usable = at <= now + Duration::seconds(CLOCK_SKEW_SECS)
        && key.created <= at
        && key.last_used.is_none_or(|used| used <= at);
    usable.then_some(at)
}

/// The tags a case gets besides its keys' clocks.
struct Tags {
    orphans: Vec<(String, MarkerSpec, MarkerFormat)>,
    unrelated: Vec<(String, String)>,
    fill_to: usize,
    case: TagCase,
}

fn build(
    now: OffsetDateTime,
    key_specs: Vec<KeySpec>,
    extra: Tags,
    exemption: &ExemptSpec,
    decoy: Option<&ExemptSpec>,
    policy: Policy,
    budget: u32,
) -> Case {
    let Tags {
        orphans,
        unrelated,
        fill_to,
        case: tag_case,
    } = extra;
    let mut suffixes: Vec<String> = key_specs
        .iter()
        .map(|k| k.id_suffix.clone())
        .chain(orphans.iter().map(|(suffix, _, _)| suffix.clone()))
        .collect();
    make_distinct(&mut suffixes);
    let ids: Vec<AccessKeyId> = suffixes
        .iter()
        .map(|s| AccessKeyId::parse(&format!("AKIA{s}")).expect("20 letters and digits"))
        .collect();

    let mut tags = TagsBuilt {
        tags: unrelated.into_iter().collect(),
        state_entries: Vec::new(),
        case: tag_case,
    };
    let mut keys = Vec::with_capacity(key_specs.len());
    for (spec, id) in key_specs.iter().zip(&ids) {
        // Never in the future: a key is created at or before the snapshot.
        let created = now - spec.created.resolve(&policy).max(Duration::ZERO);
        let marker = render_marker(&spec.marker, now, &policy);
        let last_used = match spec.last_used {
            LastUsedSpec::Never => None,
            LastUsedSpec::Between(thousandths) => {
                let span = (now - created).whole_milliseconds();
                let offset = span * i128::from(thousandths) / 1000;
                Some(created + Duration::milliseconds(offset as i64))
            }
            LastUsedSpec::NearMarker(secs) => {
                let anchor = marker
                    .as_ref()
                    .and_then(|(value, _)| parse_marker(value))
                    .unwrap_or(created + (now - created) / 2);
                Some((anchor + Duration::seconds(secs)).clamp(created, now))
            }
            LastUsedSpec::IdleFor(ago) => Some((now - ago.resolve(&policy)).clamp(created, now)),
        };
        tags.write_clock(id, marker, &spec.format, now, &policy);
        keys.push(AccessKey {
            access_key_id: id.clone(),
            status: if spec.active {
                KeyStatus::Active
            } else {
                KeyStatus::Inactive
            },
            created,
            last_used,
            last_used_service: None,
            last_used_region: None,
        });
    }
    for ((_, spec, format), id) in orphans.iter().zip(&ids[key_specs.len()..]) {
        let marker = render_marker(spec, now, &policy);
        tags.write_clock(id, marker, format, now, &policy);
    }
    let mut tags = tags.finish();

    let today = now.date();
    if let Some(value) = exemption.value(today) {
        tags.insert(tag_case.spell(&policy.exempt_tag_key), value);
    }
    // The same kind of value under the exemption tag key that is *not* configured: it must
    // count for nothing.
    if let Some(value) = decoy.and_then(|d| d.value(today)) {
        let other = if policy.exempt_tag_key == DEFAULT_EXEMPT_TAG_KEY {
            CUSTOM_EXEMPT_TAG_KEY
        } else {
            DEFAULT_EXEMPT_TAG_KEY
        };
        tags.insert(other.to_owned(), value);
    }
    // The user's own tags, up to `fill_to` in all.
    for n in 0..fill_to.saturating_sub(tags.len()) {
        tags.insert(format!("cost-centre-{n:02}"), "4711".to_owned());
    }

    Case {
        snapshot: UserSnapshot { keys, tags },
        now,
        policy,
        budget,
        exempt: exemption.exempts(),
    }
}

pub(crate) fn within_limits(key: &AccessKey, now: OffsetDateTime, policy: &Policy) -> bool {
    let young = now - key.created <= Duration::days(policy.max_key_age_days.into());
    let recently_used = policy.max_key_idle_days.is_none_or(|idle| {
        now - key.last_used.unwrap_or(key.created) <= Duration::days(idle.into())
    });
    young && recently_used
}

fn permutations(keys: &[AccessKey]) -> Vec<Vec<AccessKey>> {
    if keys.len() <= 1 {
        return vec![keys.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..keys.len() {
        let mut rest = keys.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

// ---------------------------------------------------------------------------------------------
// The invariants
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(Config::default())]

    #[test]
    fn never_deletes_an_active_key(case in any_case()) {
        let plan = case.plan();
        for decision in &plan.keys {
            let key = case.key(decision.key.access_key_id.as_str()).expect("an input key");
            prop_assert!(
                !(decision.verdict == Verdict::Delete && key.status == KeyStatus::Active),
                "deleted active key {}: {}", key.access_key_id, decision.reason
            );
        }
    }

    // Only Delete mode can delete; deactivate_mode_never_deletes and report_mode_makes_no_writes
    // hold the other modes to that, so the cases here are all spent where deletions happen.
    #[test]
    fn never_deletes_before_the_recorded_grace_period(case in case_in(&[Mode::Delete])) {
        let plan = case.plan();
        let grace = Duration::days(case.policy.delete_after_inactive_days.into());
        let clocks = recorded_clocks(&case.snapshot.tags);
        for decision in plan.keys.iter().filter(|d| d.verdict == Verdict::Delete) {
            let key = case.key(decision.key.access_key_id.as_str()).expect("an input key");
            // The state tag's entry if it has one, else the key's per-key tag.
            let marker = clocks.get(key.access_key_id.as_str());
            prop_assert!(marker.is_some(), "deleted {} with no marker", key.access_key_id);
            let marked_at = parse_marker(marker.expect("checked"));
            prop_assert!(
                marked_at.is_some(),
                "deleted {} on an unreadable marker {:?}", key.access_key_id, marker
            );
            let marked_at = marked_at.expect("checked");
            prop_assert!(
                case.now - marked_at > grace,
                "deleted {} only {} after its marker {}", key.access_key_id,
                case.now - marked_at, marked_at
            );
            prop_assert!(
                key.created <= marked_at,
                "deleted {} on a marker {} older than the key", key.access_key_id, marked_at
            );
            if let Some(last_used) = key.last_used {
                prop_assert!(
                    last_used <= marked_at,
                    "deleted {}, used at {} after its marker {}",
                    key.access_key_id, last_used, marked_at
                );
            }
        }
    }

    #[test]
    fn never_acts_on_an_exempt_user(case in any_case()) {
        let plan = case.plan();
        if case.exempt {
            prop_assert!(plan.exemption.is_exempt(), "read as {:?}", plan.exemption);
            for decision in &plan.keys {
                prop_assert_eq!(decision.verdict, Verdict::Hold(Hold::Exempt));
            }
            // No tag write of any kind either: stale clocks stay, per-key tags are not folded.
            prop_assert!(plan.clocks.is_none(), "{:?}", plan.clocks);
            prop_assert_eq!(plan.actions_used, 0);
        } else {
            // The converse, so that the premise above is known to be read as generated.
            prop_assert!(!plan.exemption.is_exempt(), "read as {:?}", plan.exemption);
            for decision in &plan.keys {
                prop_assert_ne!(decision.verdict, Verdict::Hold(Hold::Exempt));
            }
        }
    }

    /// No key write on a key within the limits; a warning (a state tag record, no key write)
    /// is what `warnings` holds to its own invariants.
    #[test]
    fn never_acts_on_a_key_within_the_limits(case in any_case()) {
        let plan = case.plan();
        for decision in &plan.keys {
            let key = case.key(decision.key.access_key_id.as_str()).expect("an input key");
            if within_limits(key, case.now, &case.policy) {
                prop_assert!(
                    matches!(
                        decision.verdict,
                        Verdict::Hold(Hold::Kept | Hold::Exempt | Hold::WouldWarn) | Verdict::Warn
                    ),
                    "{} is within limits but got {:?}: {}",
                    key.access_key_id, decision.verdict, decision.reason
                );
            }
        }
    }

    #[test]
    fn report_mode_makes_no_writes(case in case_in(&[Mode::Report])) {
        let plan = case.plan();
        for decision in &plan.keys {
            prop_assert!(
                !writes(decision.verdict),
                "{:?} in report mode: {}", decision.verdict, decision.reason
            );
        }
        prop_assert!(plan.clocks.is_none(), "{:?}", plan.clocks);
    }

    #[test]
    fn deactivate_mode_never_deletes(case in case_in(&[Mode::Deactivate])) {
        let plan = case.plan();
        for decision in &plan.keys {
            prop_assert_ne!(decision.verdict, Verdict::Delete, "{}", decision.reason);
        }
    }

    #[test]
    fn decisions_are_deterministic(case in any_case()) {
        let plan = case.plan();
        prop_assert_eq!(&case.plan(), &plan);
        let mut reversed = case.snapshot.keys.clone();
        reversed.reverse();
        prop_assert_eq!(&case.plan_for(&reversed), &plan);
        for order in permutations(&case.snapshot.keys) {
            prop_assert_eq!(&case.plan_for(&order), &plan);
        }
    }

    #[test]
    fn the_budget_caps_deactivations_and_deletions(case in any_case()) {
        let plan = case.plan();
        let spent = plan
            .keys
            .iter()
            .filter(|d| {
                matches!(
                    d.verdict,
                    Verdict::Deactivate
                        | Verdict::Delete
                        | Verdict::Hold(Hold::WouldDeactivate)
                        | Verdict::Hold(Hold::WouldDelete)
                )
            })
            .count();
        let spent = u32::try_from(spent).expect("at most 3");
        prop_assert!(spent <= case.budget, "spent {} of a budget of {}", spent, case.budget);
        prop_assert_eq!(spent, plan.actions_used);
    }

    #[test]
    fn every_key_gets_exactly_one_decision_with_a_reason(case in any_case()) {
        let plan = case.plan();
        prop_assert_eq!(plan.keys.len(), case.snapshot.keys.len());
        let decided: BTreeSet<&str> =
            plan.keys.iter().map(|d| d.key.access_key_id.as_str()).collect();
        let given: BTreeSet<&str> =
            case.snapshot.keys.iter().map(|k| k.access_key_id.as_str()).collect();
        prop_assert_eq!(decided, given);
        for decision in &plan.keys {
            let key = case.key(decision.key.access_key_id.as_str()).expect("an input key");
            prop_assert_eq!(&decision.key, key);
            prop_assert!(
                !decision.reason.trim().is_empty(),
                "no reason for {:?} on {}", decision.verdict, key.access_key_id
            );
        }
        // Oldest first, as documented on `UserPlan::keys`.
        for pair in plan.keys.windows(2) {
            prop_assert!(pair[0].key.created <= pair[1].key.created);
        }
    }

    /// What the plan found is what the tags record, and it keeps exactly the clocks still
    /// guarding an Inactive key: every other clock (of a key gone, re-activated, or whose
    /// clock restarts) is dropped, so that a later deactivation cannot inherit an old clock.
    #[test]
    fn the_clocks_kept_are_exactly_those_guarding_an_inactive_key(case in any_case()) {
        let plan = case.plan();
        let Some(clocks) = &plan.clocks else {
            return Ok(());
        };
        let recorded = recorded_clocks(&case.snapshot.tags);
        let found: BTreeSet<&str> = clocks.found.key_ids().collect();
        let expected: BTreeSet<&str> = recorded.keys().map(String::as_str).collect();
        prop_assert_eq!(found, expected);
        let legacy: BTreeSet<&str> = clocks.found.legacy_tags.iter().map(String::as_str).collect();
        let per_key: BTreeSet<&str> = case
            .snapshot
            .tags
            .keys()
            .map(String::as_str)
            .filter(|key| per_key_id(key).is_some())
            .collect();
        prop_assert_eq!(legacy, per_key, "the per-key tags to fold in");

        for decision in &plan.keys {
            let id = &decision.key.access_key_id;
            let key = case.key(id.as_str()).expect("an input key");
            let usable = usable_clock(key, recorded.get(id.as_str()).map(String::as_str), case.now);
            let restarts = matches!(decision.verdict, Verdict::Mark | Verdict::Deactivate);
            let guarding = key.status == KeyStatus::Inactive && !restarts;
            match (clocks.keep.get(id), guarding.then_some(usable).flatten()) {
                (Some(kept), Some(at)) => prop_assert_eq!(*kept, at, "{} kept as recorded", id),
                (None, None) => {}
                (kept, should) => prop_assert!(
                    false,
                    "{:?} key {} ({:?}): kept {:?}, expected {:?}",
                    key.status, id, decision.verdict, kept, should
                ),
            }
        }
        for id in clocks.keep.keys() {
            prop_assert!(case.key(id.as_str()).is_some(), "kept the clock of a vanished key {}", id);
        }
    }

    /// A clock dated more than 5 minutes ahead is not waited on (it would keep the key
    /// pending for as long as it is ahead): the grace clock starts again now.
    #[test]
    fn a_clock_in_the_future_restarts_rather_than_holding_the_key(
        case in case_in(&[Mode::Deactivate, Mode::Delete])
    ) {
        let plan = case.plan();
        let recorded = recorded_clocks(&case.snapshot.tags);
        if plan.exemption.is_exempt() || no_tag_slot(&case.snapshot.tags) {
            return Ok(());
        }
        for decision in &plan.keys {
            let key = case.key(decision.key.access_key_id.as_str()).expect("an input key");
            let Some(at) = recorded.get(key.access_key_id.as_str()).and_then(|c| parse_marker(c))
            else {
                continue;
            };
            let ahead = at > case.now + Duration::seconds(CLOCK_SKEW_SECS);
            if ahead
                && key.status == KeyStatus::Inactive
                && !within_limits(key, case.now, &case.policy)
            {
                prop_assert_eq!(decision.verdict, Verdict::Mark, "{}", decision.reason);
                prop_assert!(decision.reason.contains("in the future"), "{}", decision.reason);
                prop_assert!(
                    plan.warnings.iter().any(|w| w.starts_with(key.access_key_id.as_str())),
                    "no warning for {}: {:?}", key.access_key_id, plan.warnings
                );
            }
        }
    }

    /// With all of IAM's 50 tags the user's own, no clock can be recorded: a key is still
    /// deactivated (the security action), none is marked, and nothing is deleted without a
    /// clock (`never_deletes_before_the_recorded_grace_period`).
    #[test]
    fn without_a_tag_slot_keys_are_deactivated_but_no_clock_is_started(case in any_case()) {
        let plan = case.plan();
        let full = no_tag_slot(&case.snapshot.tags);
        if let Some(clocks) = &plan.clocks {
            prop_assert_eq!(clocks.tag_slot, !full);
            let all_used = case.snapshot.tags.len() >= TAGS_PER_USER
                && state_tag(&case.snapshot.tags).is_none();
            prop_assert_eq!(clocks.untag_legacy_first, all_used);
        }
        if !full {
            return Ok(());
        }
        for decision in &plan.keys {
            prop_assert_ne!(decision.verdict, Verdict::Mark, "{}", decision.reason);
            if decision.verdict == Verdict::Deactivate {
                prop_assert!(
                    decision.reason.contains("no tag slot for the grace clock (50 of 50 tags used)"),
                    "{}", decision.reason
                );
            }
        }
    }
}

/// Guards the tests above against vacuity: the generated cases reach every verdict the policy
/// can give, and dropped clocks, per-key tags, deletions on each format's clock, users with no
/// tag slot and clocks in the future, often enough to be seen in a fixed-seed sample.
#[test]
fn the_generated_cases_reach_every_verdict() {
    let mut runner = TestRunner::deterministic();
    let strategy = any_case();
    let mut seen = BTreeSet::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut exempt_users = 0;
    for _ in 0..4000 {
        let case = strategy
            .new_tree(&mut runner)
            .expect("no rejection")
            .current();
        let plan = case.plan();
        seen.extend(plan.keys.iter().map(|d| reported_action(d.verdict)));
        let mut count =
            |what, happened: bool| *counts.entry(what).or_default() += usize::from(happened);
        if let Some(clocks) = &plan.clocks {
            count(
                "plans that drop a clock",
                clocks.found.key_ids().count() > clocks.keep.len(),
            );
            count(
                "plans that fold per-key tags",
                !clocks.found.legacy_tags.is_empty(),
            );
            count("plans with no tag slot", !clocks.tag_slot);
        }
        let tags = &case.snapshot.tags;
        for decision in plan.keys.iter().filter(|d| d.verdict == Verdict::Delete) {
            let id = decision.key.access_key_id.as_str();
            let in_state = state_tag(tags).is_some_and(|state| {
                state
                    .split_whitespace()
                    .any(|e| e.starts_with(&format!("{id}=")))
            });
            count("deletions on a state-tag clock", in_state);
            count("deletions on a per-key clock", !in_state);
        }
        count(
            "clocks in the future restarted",
            plan.keys.iter().any(|d| d.reason.contains("in the future")),
        );
        count(
            "clock tags spelt in another case (no clocks)",
            tags.contains_key("ACCESS-KEY-REMEDIATOR:STATE"),
        );
        count(
            "exemptions under a key spelt in another case",
            case.exempt && !tags.contains_key(&case.policy.exempt_tag_key),
        );
        exempt_users += usize::from(case.exempt);
    }
    let reachable: BTreeSet<Action> = Action::ALL
        .into_iter()
        // Set when carrying out the plan: a write failed, or found the key or user gone.
        .filter(|a| !matches!(a, Action::Failed | Action::Gone))
        .collect();
    assert_eq!(seen, reachable);
    for (what, count) in &counts {
        // Deletions and full users are rare by construction (a deletion needs its clock, the
        // mode, the budget and the age to line up).
        let least = if what.starts_with("deletions") || what.contains("no tag slot") {
            10
        } else {
            40
        };
        assert!(*count > least, "only {count} {what} in 4000: {counts:?}");
    }
    assert_eq!(counts.len(), 8, "{counts:?}");
    assert!(
        (500..3500).contains(&exempt_users),
        "{exempt_users} exempt users in 4000"
    );
}
