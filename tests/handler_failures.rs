//! The handler's failure paths, end to end through `handler::handle`: a real `Remediator` over
//! `AwsIam` and `AwsConfigInventory`, whose SDK clients answer from `aws-smithy-mocks`. Errors
//! are sent as the services' own bodies (IAM's awsQuery XML, Config's JSON), so the SDK's real
//! error parser and retry classifier decide what is retried and what surfaces.
//!
//! The clients match rules in any order (`RuleMode::MatchAny`), because the handler reads
//! concurrently; each rule matches only the requests it is meant for, so a call nobody expected
//! finds no rule and panics the mock, failing the test.

use std::sync::{Arc, Mutex};

use access_key_remediator::adapters::config::AwsConfigInventory;
use access_key_remediator::adapters::iam::AwsIam;
use access_key_remediator::domain::policy::Action;
use access_key_remediator::handler::{HandlerError, Remediator, error_chain, handle};
use access_key_remediator::report::{Outcome, Report};
use access_key_remediator::settings::Settings;
use aws_sdk_config::Client as ConfigClient;
use aws_sdk_config::types::ResourceType;
use aws_sdk_iam::Client as IamClient;
use aws_sdk_iam::operation::delete_access_key::DeleteAccessKeyOutput;
use aws_sdk_iam::operation::get_access_key_last_used::GetAccessKeyLastUsedOutput;
use aws_sdk_iam::operation::get_user::GetUserOutput;
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput;
use aws_sdk_iam::operation::list_user_tags::ListUserTagsOutput;
use aws_sdk_iam::operation::list_users::ListUsersOutput;
use aws_sdk_iam::operation::tag_user::{TagUserInput, TagUserOutput};
use aws_sdk_iam::operation::untag_user::UntagUserOutput;
use aws_sdk_iam::operation::update_access_key::{UpdateAccessKeyInput, UpdateAccessKeyOutput};
use aws_sdk_iam::types::{AccessKeyMetadata, StatusType, Tag};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration as Days, OffsetDateTime};

mod support;
use support::mocks::{
    access_denied_xml, iam_error_xml, iam_user, request_log, three_quick_attempts, throttling_xml,
};

/// The UserId events/non-compliant-alice.json names.
const ALICE_ID: &str = "AIDAZ4ALICEEXAMPLE001";
/// The UserId of a different user IAM now holds under the name "alice".
const NEW_ALICE_ID: &str = "AIDAZ4ALICERECREATED9";
const BOB_ID: &str = "AIDAZ4BOBEXAMPLE00002";
const OLD_KEY: &str = "AKIAZ4ALICEOLDKEY0001";
const NEWER_KEY: &str = "AKIAZ4ALICENEWKEY0002";

// ---------------------------------------------------------------------------------------------
// The remediator, its clients and the event
// ---------------------------------------------------------------------------------------------

/// The remediator as deployed (default settings: delete mode, 90-day age limit, 14-day
/// grace), over SDK clients that answer from the given rules.
fn remediator(
    iam_rules: &[&Rule],
    config_rules: &[&Rule],
) -> Remediator<AwsIam, AwsConfigInventory> {
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, iam_rules, |config| {
        config.retry_config(three_quick_attempts())
    });
    let config = mock_client!(aws_sdk_config, RuleMode::MatchAny, config_rules, |config| {
        config.retry_config(three_quick_attempts())
    });
    Remediator::new(
        Settings::default(),
        AwsIam::new(iam),
        AwsConfigInventory::new(config),
    )
}

/// The NON_COMPLIANT event for alice, as EventBridge delivers it.
fn alice_event() -> LambdaEvent<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/non-compliant-alice.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let payload: Value = serde_json::from_str(&text).expect("the fixture is JSON");
    assert_eq!(
        payload["detail"]["resourceId"], ALICE_ID,
        "the fixture must name alice's UserId"
    );
    LambdaEvent::new(payload, Context::default())
}

async fn invoke(
    remediator: &Remediator<AwsIam, AwsConfigInventory>,
) -> Result<Report, HandlerError> {
    handle(remediator, alice_event()).await
}

fn days_ago(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - Days::days(days)
}

fn smithy_days_ago(days: i64) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(days_ago(days).unix_timestamp())
}

/// The (key id, action) of each key in a report that covers one user.
fn only_user_keys(report: &Report) -> Vec<(String, Action)> {
    assert_eq!(report.users.len(), 1, "one user in {report:?}");
    report.users[0]
        .keys
        .iter()
        .map(|key| (key.access_key_id.clone(), key.action))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Service bodies
// ---------------------------------------------------------------------------------------------

fn iam_service_failure_xml() -> String {
    iam_error_xml(
        "Receiver",
        "ServiceFailure",
        "The request processing has failed because of an unknown error, exception or failure.",
    )
}

fn config_internal_failure_json() -> String {
    r#"{"__type":"InternalFailure","message":"An internal error occurred."}"#.to_owned()
}

/// A ListDiscoveredResources body, as Config sends it.
fn discovered_json(user_id: &str, user_name: &str) -> String {
    format!(
        r#"{{"resourceIdentifiers":[{{"resourceType":"AWS::IAM::User","resourceId":"{user_id}","resourceName":"{user_name}"}}]}}"#
    )
}

fn access_key(
    user_name: &str,
    access_key_id: &str,
    status: StatusType,
    age_days: i64,
) -> AccessKeyMetadata {
    AccessKeyMetadata::builder()
        .user_name(user_name)
        .access_key_id(access_key_id)
        .status(status)
        .create_date(smithy_days_ago(age_days))
        .build()
}

fn access_keys(keys: Vec<AccessKeyMetadata>) -> ListAccessKeysOutput {
    ListAccessKeysOutput::builder()
        .set_access_key_metadata(Some(keys))
        .is_truncated(false)
        .build()
        .expect("access key metadata is set")
}

fn user_tags(tags: &[(String, String)]) -> ListUserTagsOutput {
    ListUserTagsOutput::builder()
        .set_tags(Some(
            tags.iter()
                .map(|(key, value)| {
                    Tag::builder()
                        .key(key)
                        .value(value)
                        .build()
                        .expect("key and value are set")
                })
                .collect(),
        ))
        .is_truncated(false)
        .build()
        .expect("tags is set")
}

// ---------------------------------------------------------------------------------------------
// Rules shared by the cases
// ---------------------------------------------------------------------------------------------

/// Config records `user_id` under `user_name`; answers only a lookup of exactly that UserId.
fn config_names(user_id: &'static str, user_name: &str) -> Rule {
    mock!(ConfigClient::list_discovered_resources)
        .match_requests(move |input| {
            input.resource_type() == Some(&ResourceType::User)
                && input.resource_ids() == [user_id.to_owned()]
        })
        .sequence()
        .http_status(200, Some(discovered_json(user_id, user_name)))
        .repeatedly()
        .build()
}

/// IAM's GetUser for `user_name` answers the user with `user_id`.
fn get_user(user_name: &'static str, user_id: &'static str) -> Rule {
    mock!(IamClient::get_user)
        .match_requests(move |input| input.user_name() == Some(user_name))
        .then_output(move || {
            GetUserOutput::builder()
                .user(iam_user(user_name, user_id))
                .build()
        })
}

/// One page of ListUsers holding these (name, UserId) pairs.
fn list_users(users: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(IamClient::list_users).then_output(move || {
        ListUsersOutput::builder()
            .set_users(Some(
                users.iter().map(|(name, id)| iam_user(name, id)).collect(),
            ))
            .is_truncated(false)
            .build()
            .expect("users is set")
    })
}

/// `user_name`'s tags.
fn tags_of(user_name: &'static str, tags: &[(&str, &str)]) -> Rule {
    let tags: Vec<(String, String)> = tags
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    mock!(IamClient::list_user_tags)
        .match_requests(move |input| input.user_name() == Some(user_name))
        .then_output(move || user_tags(&tags))
}

/// Every key was never used.
fn never_used() -> Rule {
    mock!(IamClient::get_access_key_last_used)
        .then_output(|| GetAccessKeyLastUsedOutput::builder().build())
}

/// UpdateAccessKey setting `user_name`'s `access_key_id` Inactive succeeds.
fn deactivates(user_name: &'static str, access_key_id: &'static str) -> Rule {
    mock!(IamClient::update_access_key)
        .match_requests(move |input| is_deactivation(input, user_name, access_key_id))
        .then_output(|| UpdateAccessKeyOutput::builder().build())
}

fn is_deactivation(input: &UpdateAccessKeyInput, user_name: &str, access_key_id: &str) -> bool {
    input.user_name() == Some(user_name)
        && input.access_key_id() == Some(access_key_id)
        && input.status() == Some(&StatusType::Inactive)
}

/// TagUser succeeds, logging every request it answers.
fn tag_user_logged() -> (Rule, Arc<Mutex<Vec<TagUserInput>>>) {
    let requests = request_log::<TagUserInput>();
    let log = requests.clone();
    let rule = mock!(IamClient::tag_user)
        .match_requests(move |input| {
            log.lock().unwrap().push(input.clone());
            true
        })
        .then_output(|| TagUserOutput::builder().build());
    (rule, requests)
}

/// The (user, tag key) of every tag sent.
fn tag_keys_sent(requests: &Mutex<Vec<TagUserInput>>) -> Vec<(String, String)> {
    requests
        .lock()
        .unwrap()
        .iter()
        .flat_map(|request| {
            let user = request.user_name().unwrap_or_default().to_owned();
            request
                .tags()
                .iter()
                .map(move |tag| (user.clone(), tag.key().to_owned()))
        })
        .collect()
}

/// Write rules that answer any request, so that a write the test forbids is counted, not
/// turned into a panic that could hide which write it was.
struct AnyWrite {
    update: Rule,
    delete: Rule,
    tag: Rule,
    untag: Rule,
}

impl AnyWrite {
    fn new() -> Self {
        AnyWrite {
            update: mock!(IamClient::update_access_key)
                .then_output(|| UpdateAccessKeyOutput::builder().build()),
            delete: mock!(IamClient::delete_access_key)
                .then_output(|| DeleteAccessKeyOutput::builder().build()),
            tag: mock!(IamClient::tag_user).then_output(|| TagUserOutput::builder().build()),
            untag: mock!(IamClient::untag_user).then_output(|| UntagUserOutput::builder().build()),
        }
    }

    fn calls(&self) -> [(&'static str, usize); 4] {
        [
            ("UpdateAccessKey", self.update.num_calls()),
            ("DeleteAccessKey", self.delete.num_calls()),
            ("TagUser", self.tag.num_calls()),
            ("UntagUser", self.untag.num_calls()),
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// Write failures
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_failed_deactivation_is_reported_and_the_other_keys_are_still_remediated() {
    let config = config_names(ALICE_ID, "alice");
    let get_alice = get_user("alice", ALICE_ID);
    let list_keys = mock!(IamClient::list_access_keys)
        .match_requests(|input| input.user_name() == Some("alice"))
        .then_output(|| {
            access_keys(vec![
                access_key("alice", OLD_KEY, StatusType::Active, 200),
                access_key("alice", NEWER_KEY, StatusType::Active, 150),
            ])
        });
    let tags = tags_of("alice", &[]);
    let last_used = never_used();
    let deny_old = mock!(IamClient::update_access_key)
        .match_requests(|input| is_deactivation(input, "alice", OLD_KEY))
        .sequence()
        .http_status(403, Some(access_denied_xml("UpdateAccessKey", "alice")))
        .repeatedly()
        .build();
    let deactivate_newer = deactivates("alice", NEWER_KEY);
    let (tag_user, tag_requests) = tag_user_logged();

    let remediator = remediator(
        &[
            &get_alice,
            &list_keys,
            &tags,
            &last_used,
            &deny_old,
            &deactivate_newer,
            &tag_user,
        ],
        &[&config],
    );
    let error = invoke(&remediator)
        .await
        .expect_err("a failed write fails the invocation, so Lambda retries the event");

    let chain = error_chain(&error);
    let HandlerError::Incomplete { failed, first, .. } = &error else {
        panic!("expected HandlerError::Incomplete, got {error:?}");
    };
    assert_eq!(*failed, 1, "only the old key's deactivation failed");
    assert_eq!((first.service, first.operation), ("IAM", "UpdateAccessKey"));
    assert!(
        chain.contains("IAM UpdateAccessKey failed") && chain.contains("AccessDenied"),
        "the error must name the call and IAM's error code: {chain}"
    );
    assert_eq!(deny_old.num_calls(), 1, "AccessDenied is not retried");
    assert_eq!(
        deactivate_newer.num_calls(),
        1,
        "the newer key is still deactivated after the old key's failure"
    );
    assert_eq!(
        tag_user.num_calls(),
        1,
        "only the deactivated key is marked"
    );
    assert_eq!(
        tag_keys_sent(&tag_requests),
        [(
            "alice".to_owned(),
            format!("access-key-remediator:deactivated:{NEWER_KEY}")
        )],
        "no marker may be written for the key that is still Active"
    );
}

#[tokio::test]
async fn a_throttled_deactivation_is_retried_and_succeeds() {
    let config = config_names(ALICE_ID, "alice");
    let get_alice = get_user("alice", ALICE_ID);
    let list_keys = mock!(IamClient::list_access_keys)
        .match_requests(|input| input.user_name() == Some("alice"))
        .then_output(|| access_keys(vec![access_key("alice", OLD_KEY, StatusType::Active, 200)]));
    let tags = tags_of("alice", &[]);
    let last_used = never_used();
    let update = mock!(IamClient::update_access_key)
        .match_requests(|input| is_deactivation(input, "alice", OLD_KEY))
        .sequence()
        .http_status(400, Some(throttling_xml()))
        .times(2)
        .output(|| UpdateAccessKeyOutput::builder().build())
        .build();
    let (tag_user, tag_requests) = tag_user_logged();

    let remediator = remediator(
        &[
            &get_alice, &list_keys, &tags, &last_used, &update, &tag_user,
        ],
        &[&config],
    );
    let report = invoke(&remediator)
        .await
        .expect("the third attempt succeeds, so the invocation does");

    assert_eq!(report.outcome, Outcome::Remediated);
    assert_eq!(
        only_user_keys(&report),
        [(OLD_KEY.to_owned(), Action::Deactivated)]
    );
    assert_eq!(
        update.num_calls(),
        3,
        "two throttled attempts, then success"
    );
    assert_eq!(
        tag_keys_sent(&tag_requests),
        [(
            "alice".to_owned(),
            format!("access-key-remediator:deactivated:{OLD_KEY}")
        )]
    );
}

// ---------------------------------------------------------------------------------------------
// Read failures
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_read_failure_is_an_invocation_error_and_nothing_is_written() {
    let config = config_names(ALICE_ID, "alice");
    let get_alice = get_user("alice", ALICE_ID);
    let list_keys = mock!(IamClient::list_access_keys)
        .match_requests(|input| input.user_name() == Some("alice"))
        .sequence()
        .http_status(500, Some(iam_service_failure_xml()))
        .repeatedly()
        .build();
    let tags = tags_of("alice", &[]);
    let last_used = never_used();
    let writes = AnyWrite::new();

    let remediator = remediator(
        &[
            &get_alice,
            &list_keys,
            &tags,
            &last_used,
            &writes.update,
            &writes.delete,
            &writes.tag,
            &writes.untag,
        ],
        &[&config],
    );
    let error = invoke(&remediator)
        .await
        .expect_err("a user whose keys cannot be read cannot be remediated");

    let chain = error_chain(&error);
    let HandlerError::Read { user_name, source } = &error else {
        panic!("expected HandlerError::Read, got {error:?}");
    };
    assert_eq!(user_name, "alice");
    assert_eq!(
        (source.service, source.operation),
        ("IAM", "ListAccessKeys")
    );
    assert!(
        chain.contains("IAM ListAccessKeys failed"),
        "the error must name the failed call: {chain}"
    );
    assert_eq!(
        list_keys.num_calls(),
        3,
        "a 500 is retried up to max_attempts"
    );
    assert_eq!(
        writes.calls(),
        [
            ("UpdateAccessKey", 0),
            ("DeleteAccessKey", 0),
            ("TagUser", 0),
            ("UntagUser", 0)
        ],
        "nothing may be written from an incomplete read"
    );
}

// ---------------------------------------------------------------------------------------------
// Resolving the user
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_config_failure_falls_back_to_scanning_iam_users() {
    let config = mock!(ConfigClient::list_discovered_resources)
        .sequence()
        .http_status(500, Some(config_internal_failure_json()))
        .repeatedly()
        .build();
    let get_alice = get_user("alice", ALICE_ID);
    let users = list_users(&[("bob", BOB_ID), ("alice", ALICE_ID)]);
    let list_keys = mock!(IamClient::list_access_keys)
        .match_requests(|input| input.user_name() == Some("alice"))
        .then_output(|| access_keys(vec![access_key("alice", OLD_KEY, StatusType::Active, 200)]));
    let tags = tags_of("alice", &[]);
    let last_used = never_used();
    let deactivate = deactivates("alice", OLD_KEY);
    let (tag_user, tag_requests) = tag_user_logged();

    let remediator = remediator(
        &[
            &get_alice,
            &users,
            &list_keys,
            &tags,
            &last_used,
            &deactivate,
            &tag_user,
        ],
        &[&config],
    );
    let report = invoke(&remediator)
        .await
        .expect("a Config outage must not stop the remediation");

    assert_eq!(config.num_calls(), 3, "Config was retried before giving up");
    assert_eq!(users.num_calls(), 1, "IAM's ListUsers found alice");
    assert_eq!(
        get_alice.num_calls(),
        0,
        "with no name from Config there is nothing to confirm"
    );
    assert_eq!(report.outcome, Outcome::Remediated);
    assert_eq!(report.users[0].user_name, "alice");
    assert_eq!(report.users[0].user_id.as_deref(), Some(ALICE_ID));
    assert_eq!(
        only_user_keys(&report),
        [(OLD_KEY.to_owned(), Action::Deactivated)]
    );
    assert_eq!(deactivate.num_calls(), 1);
    assert_eq!(
        tag_keys_sent(&tag_requests),
        [(
            "alice".to_owned(),
            format!("access-key-remediator:deactivated:{OLD_KEY}")
        )]
    );
}

#[tokio::test]
async fn a_stale_config_name_is_not_trusted() {
    // alice was renamed alice-renamed, and a new user took the name alice; Config still has
    // the old name on file.
    let config = config_names(ALICE_ID, "alice");
    let get_alice = get_user("alice", NEW_ALICE_ID);
    let users = list_users(&[("alice", NEW_ALICE_ID), ("alice-renamed", ALICE_ID)]);
    let keys_of_renamed = mock!(IamClient::list_access_keys)
        .match_requests(|input| input.user_name() == Some("alice-renamed"))
        .then_output(|| {
            access_keys(vec![access_key(
                "alice-renamed",
                OLD_KEY,
                StatusType::Active,
                200,
            )])
        });
    // The new alice's keys are answered too, so a wrong call is counted rather than panicking.
    let keys_of_new_alice = mock!(IamClient::list_access_keys)
        .match_requests(|input| input.user_name() == Some("alice"))
        .then_output(|| {
            access_keys(vec![access_key(
                "alice",
                NEWER_KEY,
                StatusType::Active,
                200,
            )])
        });
    let tags_of_renamed = tags_of("alice-renamed", &[]);
    let tags_of_new_alice = tags_of("alice", &[]);
    let last_used = never_used();
    let update_requests = request_log::<UpdateAccessKeyInput>();
    let log = update_requests.clone();
    let update = mock!(IamClient::update_access_key)
        .match_requests(move |input| {
            log.lock().unwrap().push(input.clone());
            true
        })
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let (tag_user, tag_requests) = tag_user_logged();

    let remediator = remediator(
        &[
            &get_alice,
            &users,
            &keys_of_renamed,
            &keys_of_new_alice,
            &tags_of_renamed,
            &tags_of_new_alice,
            &last_used,
            &update,
            &tag_user,
        ],
        &[&config],
    );
    let report = invoke(&remediator)
        .await
        .expect("the user is found by scan");

    assert_eq!(get_alice.num_calls(), 1, "Config's name was checked in IAM");
    assert_eq!(users.num_calls(), 1, "then IAM was scanned for the UserId");
    assert!(
        keys_of_renamed.num_calls() >= 1,
        "ListAccessKeys must be asked for alice-renamed"
    );
    assert_eq!(
        keys_of_new_alice.num_calls(),
        0,
        "ListAccessKeys must never be asked for the new alice"
    );
    assert_eq!(report.users[0].user_name, "alice-renamed");
    assert_eq!(report.users[0].user_id.as_deref(), Some(ALICE_ID));
    assert_eq!(
        only_user_keys(&report),
        [(OLD_KEY.to_owned(), Action::Deactivated)]
    );
    let updated: Vec<(String, String)> = update_requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.user_name().unwrap_or_default().to_owned(),
                r.access_key_id().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        updated,
        [("alice-renamed".to_owned(), OLD_KEY.to_owned())],
        "only alice-renamed's key is deactivated"
    );
    assert_eq!(
        tag_keys_sent(&tag_requests),
        [(
            "alice-renamed".to_owned(),
            format!("access-key-remediator:deactivated:{OLD_KEY}")
        )]
    );
}

// ---------------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_key_reactivated_between_read_and_delete_is_not_deleted() {
    let marker_key = format!("access-key-remediator:deactivated:{OLD_KEY}");
    let marker_value = days_ago(30)
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
        .format(&Rfc3339)
        .expect("UTC formats as RFC 3339");

    let config = config_names(ALICE_ID, "alice");
    let get_alice = get_user("alice", ALICE_ID);
    // The snapshot finds the key Inactive, 30 days past its marker; by the time the handler
    // re-reads it before deleting, someone has made it Active again.
    let list_keys = mock!(IamClient::list_access_keys)
        .match_requests(|input| input.user_name() == Some("alice"))
        .sequence()
        .output(|| {
            access_keys(vec![access_key(
                "alice",
                OLD_KEY,
                StatusType::Inactive,
                200,
            )])
        })
        .output(|| access_keys(vec![access_key("alice", OLD_KEY, StatusType::Active, 200)]))
        .build();
    let tags = tags_of("alice", &[(&marker_key, &marker_value)]);
    let last_used = never_used();
    let writes = AnyWrite::new();

    let remediator = remediator(
        &[
            &get_alice,
            &list_keys,
            &tags,
            &last_used,
            &writes.update,
            &writes.delete,
            &writes.tag,
            &writes.untag,
        ],
        &[&config],
    );
    let report = invoke(&remediator)
        .await
        .expect("a key found re-activated is not a failure");

    assert_eq!(
        list_keys.num_calls(),
        2,
        "the key's status is read again right before deleting"
    );
    assert_eq!(
        only_user_keys(&report),
        [(OLD_KEY.to_owned(), Action::Pending)]
    );
    assert_eq!(
        writes.calls(),
        [
            ("UpdateAccessKey", 0),
            ("DeleteAccessKey", 0),
            ("TagUser", 0),
            ("UntagUser", 0)
        ],
        "a re-activated key is neither deleted nor has its marker touched"
    );
}
