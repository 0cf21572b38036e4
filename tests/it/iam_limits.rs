//! IAM's limits that moto lacks, modelled by the emulator (tests/emulator/emulator.py): 50 tags
//! per user (409 LimitExceeded), IAM's tag pattern (400 ValidationError), and another writer
//! changing the same user at once (409 ConcurrentModification, on demand with `contend`).
//!
//! The emulator's answers are pinned down first, through the SDK client, so that the
//! end-to-end test below can rely on them: with half of the TagUser and UntagUser calls
//! answered ConcurrentModification, the handler, through its real SDK clients with the
//! production retry settings, must succeed on every invocation and leave the account as a run
//! without contention does. The counts are printed (`-- --nocapture`).

use std::collections::BTreeMap;
use std::time::Instant;

use access_key_remediator::handler::handle;
use access_key_remediator::remediate::outcome::error_chain;
use access_key_remediator::settings::Settings;
use access_key_remediator::startup;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::operation::tag_user::TagUserError;
use aws_sdk_iam::types::Tag;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::audit::{
    FROM_BEFORE_THE_RUN, NormalState, NormalUser, STATE_TAG, Seeded, WRITTEN_BY_THE_RUN,
    grace_clocks, is_marker_tag,
};
use crate::support::faults::{production_sdk_config, sdk_config_with_retries};
use crate::support::{Emulator, compliance_event, invocation};

const CONTENDED_ACTIONS: [&str; 2] = ["TagUser", "UntagUser"];
const CONTENTION_RATE: f64 = 0.5;
const CONTENTION_SEED: u64 = 7;

// ---------------------------------------------------------------------------------------------
// The emulator answers as IAM does
// ---------------------------------------------------------------------------------------------

async fn tag_user(
    iam: &aws_sdk_iam::Client,
    user_name: &str,
    tags: &[(&str, &str)],
) -> Result<(), SdkError<TagUserError>> {
    let tags = tags
        .iter()
        .map(|(key, value)| Tag::builder().key(*key).value(*value).build().unwrap())
        .collect();
    iam.tag_user()
        .user_name(user_name)
        .set_tags(Some(tags))
        .send()
        .await
        .map(drop)
}

/// The IAM error code, message and HTTP status of a refused call.
fn refusal(error: &SdkError<TagUserError>) -> (Option<&str>, Option<&str>, Option<u16>) {
    let status = error.raw_response().map(|r| r.status().as_u16());
    (error.code(), error.message(), status)
}

/// `n` tags of the user's own, `<prefix>-00`, `<prefix>-01`, ….
fn own_tags(prefix: &str, n: usize) -> Value {
    (0..n)
        .map(|i| (format!("{prefix}-{i:02}"), json!("theirs")))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[tokio::test]
async fn a_tag_past_the_fiftieth_is_limit_exceeded_and_an_overwrite_is_not() {
    let mut aws = Emulator::start();
    aws.seed(json!([
        { "name": "full", "tags": own_tags("tag", 50) },
        { "name": "nearly", "tags": own_tags("tag", 49) },
    ]));
    let iam = aws.iam();
    let full = aws.tags("full").await;

    let error = tag_user(
        &iam,
        "full",
        &[(STATE_TAG, "AKIAIOSFODNN7EXAMPLE=2026-11-01T10:00:00Z")],
    )
    .await
    .expect_err("a 51st tag");
    assert_eq!(
        refusal(&error),
        (
            Some("LimitExceeded"),
            Some("Cannot exceed quota for TagsPerUser: 50"),
            Some(409)
        )
    );
    assert_eq!(
        aws.tags("full").await,
        full,
        "a refused TagUser changes nothing"
    );

    // Tag keys are case-insensitive for uniqueness: TAG-07 is tag-07, overwritten in place.
    tag_user(&iam, "full", &[("tag-03", "new"), ("TAG-07", "new")])
        .await
        .expect("overwriting two of the 50 adds no tag");
    let tags = aws.tags("full").await;
    assert_eq!(tags.len(), 50, "{tags:?}");
    assert_eq!(tags.get("tag-03").map(String::as_str), Some("new"));
    assert_eq!(tags.get("TAG-07").map(String::as_str), Some("new"));
    assert!(!tags.contains_key("tag-07"), "{tags:?}");

    // 49 tags: one slot. Two new tags in one call do not fit, and neither is written.
    let error = tag_user(&iam, "nearly", &[("one", "1"), ("two", "2")])
        .await
        .expect_err("two new tags on 49");
    assert_eq!(refusal(&error).0, Some("LimitExceeded"));
    assert_eq!(aws.tags("nearly").await.len(), 49);
    tag_user(&iam, "nearly", &[("one", "1")])
        .await
        .expect("the 50th tag fits");
    assert_eq!(aws.tags("nearly").await.len(), 50);
}

#[tokio::test]
async fn a_tag_value_outside_iams_pattern_or_length_is_a_validation_error() {
    let mut aws = Emulator::start();
    aws.seed(json!([{ "name": "alice", "tags": { "team": "data" } }]));
    let iam = aws.iam();
    let pattern = "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*";

    let semicolons =
        "AKIAIOSFODNN7EXAMPLE=2026-11-01T10:00:00Z;AKIAIOSFODNN7EXAMPLF=2026-11-01T10:00:00Z";
    let error = tag_user(&iam, "alice", &[(STATE_TAG, semicolons)])
        .await
        .expect_err("';' is not in IAM's tag pattern");
    let (code, message, status) = refusal(&error);
    assert_eq!((code, status), (Some("ValidationError"), Some(400)));
    assert_eq!(
        message,
        Some(
            format!(
                "1 validation error detected: Value '{semicolons}' at 'tags.1.member.value' \
                 failed to satisfy constraint: {pattern}"
            )
            .as_str()
        )
    );

    let long = "a".repeat(257);
    let error = tag_user(&iam, "alice", &[("note", &long)])
        .await
        .expect_err("257 characters");
    let (code, message, status) = refusal(&error);
    assert_eq!((code, status), (Some("ValidationError"), Some(400)));
    assert!(
        message.is_some_and(|m| m.ends_with("Member must have length less than or equal to 256")),
        "{message:?}"
    );
    assert_eq!(
        aws.tags("alice").await,
        BTreeMap::from([("team".to_owned(), "data".to_owned())]),
        "refused TagUsers change nothing"
    );

    // The state tag's own format is within the pattern: space, '=', ':', '-', letters, digits.
    let state = format!(
        "AKIAIOSFODNN7EXAMPLE=2026-11-01T10:00:00Z AKIAI44QH8DHBEXAMPLE=2026-11-02T10:00:00Z {}",
        "x".repeat(256 - 84)
    );
    assert_eq!(state.len(), 256);
    tag_user(&iam, "alice", &[(STATE_TAG, &state)])
        .await
        .expect("256 characters of the state format");
}

#[tokio::test]
async fn contend_answers_concurrent_modification_without_applying_the_write() {
    let mut aws = Emulator::start();
    aws.seed(json!([{ "name": "alice", "tags": { "team": "data" } }]));
    // One attempt per call: the emulator's answer as the SDK first sees it.
    let sdk = sdk_config_with_retries(&aws.endpoint, RetryConfig::standard().with_max_attempts(1));
    let iam = aws_sdk_iam::Client::new(&sdk);

    aws.command(json!({ "op": "contend", "actions": ["TagUser"], "rate": 1.0, "seed": 1 }));
    let error = tag_user(&iam, "alice", &[("team", "platform")])
        .await
        .expect_err("every TagUser is contended");
    let (code, _, status) = refusal(&error);
    assert_eq!((code, status), (Some("ConcurrentModification"), Some(409)));
    assert_eq!(aws.tags("alice").await["team"], "data", "nothing applied");
    iam.untag_user()
        .user_name("alice")
        .tag_keys("absent")
        .send()
        .await
        .expect("UntagUser is not among the contended actions");
    let contended = aws.command(json!({ "op": "contended" }));
    assert_eq!(contended["contended"], json!({ "TagUser": 1 }));

    aws.command(json!({ "op": "contend", "rate": 0 }));
    tag_user(&iam, "alice", &[("team", "platform")])
        .await
        .expect("rate 0 turns contention off");
    assert_eq!(aws.tags("alice").await["team"], "platform");
}

// ---------------------------------------------------------------------------------------------
// ConcurrentModification end to end: every invocation succeeds
// ---------------------------------------------------------------------------------------------

/// Six users with over-age keys, each remediated by its own event. Between them their events
/// make every kind of tag write: a first grace clock (ada, ben, cleo, dan), a key deleted and
/// its clock removed (eve), and a clock of the first format kept beside a new one (fay).
fn six_users() -> Value {
    json!([
        { "name": "ada", "tags": { "team": "a" },
          "keys": [{ "ageDays": 120, "lastUsedDaysAgo": 2 }] },
        { "name": "ben", "tags": { "team": "b" },
          "keys": [{ "ageDays": 100 }, { "ageDays": 200, "lastUsedDaysAgo": 30 }] },
        { "name": "cleo", "tags": { "team": "c" },
          "keys": [{ "ageDays": 150 }, { "ageDays": 10 }] },
        { "name": "dan", "tags": { "team": "d" },
          "keys": [{ "ageDays": 300, "status": "Inactive" }] },
        { "name": "eve", "tags": { "team": "e" },
          "keys": [{ "ageDays": 200, "status": "Inactive", "lastUsedDaysAgo": 45, "markerDaysAgo": 20 },
                   { "ageDays": 120 }] },
        { "name": "fay", "tags": { "team": "f" },
          "keys": [{ "ageDays": 150, "status": "Inactive", "lastUsedDaysAgo": 10, "markerDaysAgo": 5 },
                   { "ageDays": 95 }] },
    ])
}

/// What the six events must leave, contention or not: every over-age key Inactive with its
/// grace clock, eve's past-grace key deleted with its clock, cleo's young key untouched,
/// fay's earlier clock kept, and every user's own tag as it was.
fn expected_state() -> NormalState {
    let user = |team: &str, keys: &[(&str, &str)], clocks: &[(&str, &str)]| NormalUser {
        keys: keys
            .iter()
            .map(|(label, status)| ((*label).to_owned(), (*status).to_owned()))
            .collect(),
        tags: std::iter::once(("team".to_owned(), team.to_owned()))
            .chain(
                clocks
                    .iter()
                    .map(|(label, kind)| (format!("clock of {label}"), (*kind).to_owned())),
            )
            .collect(),
    };
    let (run, before) = (WRITTEN_BY_THE_RUN, FROM_BEFORE_THE_RUN);
    BTreeMap::from([
        (
            "ada".to_owned(),
            user("a", &[("ada#0", "Inactive")], &[("ada#0", run)]),
        ),
        (
            "ben".to_owned(),
            user(
                "b",
                &[("ben#0", "Inactive"), ("ben#1", "Inactive")],
                &[("ben#0", run), ("ben#1", run)],
            ),
        ),
        (
            "cleo".to_owned(),
            user(
                "c",
                &[("cleo#0", "Inactive"), ("cleo#1", "Active")],
                &[("cleo#0", run)],
            ),
        ),
        (
            "dan".to_owned(),
            user("d", &[("dan#0", "Inactive")], &[("dan#0", run)]),
        ),
        (
            "eve".to_owned(),
            user("e", &[("eve#1", "Inactive")], &[("eve#1", run)]),
        ),
        (
            "fay".to_owned(),
            user(
                "f",
                &[("fay#0", "Inactive"), ("fay#1", "Inactive")],
                &[("fay#0", before), ("fay#1", run)],
            ),
        ),
    ])
}

/// The account normalised whatever the marker format: each user's keys by label, their own
/// tags, and one `clock of <label>` entry per grace clock, valued by whether this run wrote
/// it (`grace_clocks` reads both formats).
fn normal_state(aws: &mut Emulator, seeded: &Seeded) -> NormalState {
    let now = OffsetDateTime::now_utc();
    aws.account_state()
        .into_iter()
        .map(|(name, user)| {
            let keys = user
                .keys
                .iter()
                .map(|(id, status)| (seeded.label(id), status.clone()))
                .collect();
            let own = user
                .tags
                .iter()
                .filter(|(key, _)| !is_marker_tag(key))
                .map(|(key, value)| (key.clone(), value.clone()));
            let clocks = grace_clocks(&user.tags).into_iter().map(|(id, at)| {
                let kind = match at {
                    Some(at) if at > now + time::Duration::seconds(5) => "in the future",
                    Some(at) if at >= seeded.started - time::Duration::seconds(5) => {
                        WRITTEN_BY_THE_RUN
                    }
                    Some(_) => FROM_BEFORE_THE_RUN,
                    None => "unparseable",
                };
                (format!("clock of {}", seeded.label(&id)), kind.to_owned())
            });
            let tags = own.chain(clocks).collect();
            (name, NormalUser { keys, tags })
        })
        .collect()
}

/// One run of the six events, in a fixed order, through one remediator (a warm container).
struct Run {
    state: NormalState,
    /// The invocations that returned an error, with the error.
    failed: Vec<String>,
    /// ConcurrentModification answers the emulator served, by action.
    contended: BTreeMap<String, u64>,
    /// TagUser and UntagUser requests that reached the emulator, retries included.
    tag_requests: u64,
    seconds: f64,
}

async fn run_six_events(aws: &mut Emulator, contention: Option<f64>) -> Run {
    let seeded = Seeded::seed(aws, &six_users(), 0);
    if let Some(rate) = contention {
        aws.command(json!({
            "op": "contend", "actions": CONTENDED_ACTIONS, "rate": rate, "seed": CONTENTION_SEED,
        }));
    }
    // Production's retries (template.yaml: AWS_RETRY_MODE=adaptive, AWS_MAX_ATTEMPTS=8) and
    // the composition root's clients, ConcurrentModification classifier included.
    let remediator =
        startup::from_sdk_config(Settings::default(), &production_sdk_config(&aws.endpoint));
    let started = Instant::now();
    let mut failed = Vec::new();
    let mut users: Vec<_> = seeded.user_ids.iter().collect();
    users.sort();
    for (name, user_id) in users {
        if let Err(error) = handle(&remediator, invocation(compliance_event(user_id))).await {
            failed.push(format!("{name}: {}", error_chain(&error)));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let contended =
        serde_json::from_value(aws.command(json!({ "op": "contended" }))["contended"].clone())
            .expect("contended counts");
    let calls = aws.calls();
    let tag_requests = CONTENDED_ACTIONS
        .iter()
        .filter_map(|action| calls.get(*action))
        .sum();
    Run {
        state: normal_state(aws, &seeded),
        failed,
        contended,
        tag_requests,
        seconds,
    }
}

#[tokio::test]
async fn half_the_tag_writes_answered_concurrent_modification_and_every_invocation_succeeds() {
    let mut aws = Emulator::start();
    let calm = run_six_events(&mut aws, None).await;
    let contended = run_six_events(&mut aws, Some(CONTENTION_RATE)).await;

    let served: u64 = contended.contended.values().sum();
    println!(
        "iam_limits: 6 events, TagUser/UntagUser {:.0}% ConcurrentModification (seed \
         {CONTENTION_SEED}), adaptive retries, 8 attempts: {} invocations failed; the emulator \
         served {served} ConcurrentModification answers ({:?}); TagUser+UntagUser requests {} \
         (without contention {}); {:.1} s (without contention {:.1} s)",
        CONTENTION_RATE * 100.0,
        contended.failed.len(),
        contended.contended,
        contended.tag_requests,
        calm.tag_requests,
        contended.seconds,
        calm.seconds,
    );
    assert_eq!(calm.failed, Vec::<String>::new(), "without contention");
    assert_eq!(calm.state, expected_state(), "without contention");
    assert!(
        served > 0,
        "the emulator served no ConcurrentModification: the test proves nothing"
    );
    assert_eq!(
        contended.failed,
        Vec::<String>::new(),
        "every invocation must succeed under ConcurrentModification"
    );
    assert_eq!(
        contended.tag_requests,
        calm.tag_requests + served,
        "each ConcurrentModification answer is retried once, and nothing else is"
    );
    assert_eq!(
        contended.state, calm.state,
        "the same account as without contention"
    );
}
