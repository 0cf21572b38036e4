//! Layer-2 tests of the IAM adapter: `AwsIam` through the `IamDirectory` and `IamWrites`
//! ports, against a real `aws_sdk_iam::Client` whose transport is `aws-smithy-mocks`. Where it
//! matters (errors, retries, status strings, dates) the mock answers with IAM's own awsQuery
//! XML, so the SDK's real deserializer and retry classifier are in the loop.

use std::collections::BTreeMap;

use access_key_remediator::aws::iam::{self, AwsIam};
use access_key_remediator::aws::{AwsError, IamDirectory, IamUser, IamWrites, WriteOutcome};
use access_key_remediator::domain::ids::{AccessKeyId, UserId};
use access_key_remediator::domain::user::{AccessKey, KeyStatus, UserSnapshot};
use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ErrorMetadata, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::operation::delete_access_key::{DeleteAccessKeyError, DeleteAccessKeyOutput};
use aws_sdk_iam::operation::list_access_keys::{ListAccessKeysInput, ListAccessKeysOutput};
use aws_sdk_iam::operation::list_user_tags::{ListUserTagsInput, ListUserTagsOutput};
use aws_sdk_iam::operation::list_users::{ListUsersInput, ListUsersOutput};
use aws_sdk_iam::operation::tag_user::{TagUserError, TagUserInput, TagUserOutput};
use aws_sdk_iam::operation::untag_user::{UntagUserInput, UntagUserOutput};
use aws_sdk_iam::operation::update_access_key::{
    UpdateAccessKeyError, UpdateAccessKeyInput, UpdateAccessKeyOutput,
};
use aws_sdk_iam::types::error::NoSuchEntityException;
use aws_sdk_iam::types::{StatusType, Tag};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use time::macros::datetime;

use crate::support::mocks::{
    access_denied_xml, concurrent_modification_xml, iam_error_xml, iam_user, request_log,
    three_quick_attempts, throttling_xml,
};

// ---------------------------------------------------------------------------------------------
// Clients and canned IAM responses
// ---------------------------------------------------------------------------------------------

/// An adapter whose client answers from `rules`, in order.
fn iam(rules: &[&Rule]) -> AwsIam {
    iam_with_mode(RuleMode::Sequential, rules)
}

/// The client is configured as the function's own (`iam::client_config`, which startup.rs
/// uses too), with three quick attempts instead of the SDK's backoff.
fn iam_with_mode(mode: RuleMode, rules: &[&Rule]) -> AwsIam {
    AwsIam::new(mock_client!(aws_sdk_iam, mode, rules, |config| {
        iam::client_config(config).retry_config(three_quick_attempts())
    }))
}

fn key_id(text: &str) -> AccessKeyId {
    AccessKeyId::parse(text).expect("a valid access key id")
}

fn user_id(text: &str) -> UserId {
    UserId::parse(text).expect("a valid UserId")
}

/// A rule answering every ListAccessKeys with no keys.
fn no_keys() -> Rule {
    mock!(Client::list_access_keys).then_output(|| {
        ListAccessKeysOutput::builder()
            .set_access_key_metadata(Some(Vec::new()))
            .build()
            .expect("access_key_metadata is set")
    })
}

/// A rule answering every ListUserTags with no tags.
fn no_tags() -> Rule {
    mock!(Client::list_user_tags).then_output(|| tags_page(&[], None))
}

/// A rule answering ListAccessKeys once, with `key_id`: Active, created 2024-01-15.
fn one_key(key_id: &str) -> Rule {
    mock!(Client::list_access_keys)
        .sequence()
        .http_status(
            200,
            Some(list_access_keys_xml(
                &[(key_id, "Active", "2024-01-15T10:00:00Z")],
                None,
            )),
        )
        .build()
}

/// An adapter over these rules, matched in any order: a snapshot's reads run concurrently.
fn iam_any_order(rules: &[&Rule]) -> AwsIam {
    iam_with_mode(RuleMode::MatchAny, rules)
}

fn no_such_user_xml(user_name: &str) -> String {
    iam_error_xml(
        "Sender",
        "NoSuchEntity",
        &format!("The user with name {user_name} cannot be found."),
    )
}

fn no_such_key_xml(access_key_id: &str) -> String {
    iam_error_xml(
        "Sender",
        "NoSuchEntity",
        &format!("The Access Key with id {access_key_id} cannot be found."),
    )
}

/// One ListUsers page; `next_marker` set means "truncated, ask again with this Marker".
fn list_users_page(users: &[(&str, &str)], next_marker: Option<&str>) -> ListUsersOutput {
    ListUsersOutput::builder()
        .set_users(Some(
            users.iter().map(|(name, id)| iam_user(name, id)).collect(),
        ))
        .is_truncated(next_marker.is_some())
        .set_marker(next_marker.map(str::to_owned))
        .build()
        .expect("users is set")
}

fn tags_page(tags: &[(&str, &str)], next_marker: Option<&str>) -> ListUserTagsOutput {
    ListUserTagsOutput::builder()
        .set_tags(Some(
            tags.iter()
                .map(|(key, value)| {
                    Tag::builder()
                        .key(*key)
                        .value(*value)
                        .build()
                        .expect("key and value are set")
                })
                .collect(),
        ))
        .is_truncated(next_marker.is_some())
        .set_marker(next_marker.map(str::to_owned))
        .build()
        .expect("tags is set")
}

fn markers<'a>(requests: impl IntoIterator<Item = Option<&'a str>>) -> Vec<Option<String>> {
    requests.into_iter().map(|m| m.map(str::to_owned)).collect()
}

/// The SDK error an `AwsError` wraps, for checking which IAM error code surfaced.
fn sdk_error_code<E>(error: &AwsError) -> Option<String>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    error
        .source
        .downcast_ref::<SdkError<E>>()
        .expect("an IAM AwsError wraps the SDK error of its operation")
        .code()
        .map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// find_user_by_id: ListUsers pagination
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn finds_a_user_on_the_third_page_of_list_users() {
    let (requests, log) = request_log::<ListUsersInput>();
    let list_users = mock!(Client::list_users)
        .match_requests(log)
        .sequence()
        .output(|| list_users_page(&[("alice", "AIDAALICE0000000001")], Some("marker-page-2")))
        .output(|| list_users_page(&[("bob", "AIDABOB00000000000002")], Some("marker-page-3")))
        .output(|| {
            list_users_page(
                &[
                    ("carol", "AIDACAROL0000000003"),
                    ("dave", "AIDADAVE00000000004"),
                ],
                None,
            )
        })
        .build();

    let found = iam(&[&list_users])
        .find_user_by_id(&user_id("AIDADAVE00000000004"))
        .await
        .expect("ListUsers succeeds");

    assert_eq!(
        found,
        Some(IamUser {
            user_name: "dave".to_owned(),
            user_id: user_id("AIDADAVE00000000004"),
        })
    );
    assert_eq!(list_users.num_calls(), 3);
    let requests = requests.lock().unwrap();
    assert_eq!(
        markers(requests.iter().map(ListUsersInput::marker)),
        [
            None,
            Some("marker-page-2".to_owned()),
            Some("marker-page-3".to_owned())
        ],
        "each page must be asked for with the previous page's Marker"
    );
    assert!(
        requests.iter().all(|r| r.max_items() == Some(1000)),
        "every page must ask for MaxItems=1000, got {:?}",
        requests.iter().map(|r| r.max_items()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn stops_listing_users_once_the_id_is_found() {
    // Only two pages are answered; asking for the third would panic the mock ("all rules were
    // exhausted"), so a passing test proves the scan stopped at the page holding the id.
    let list_users = mock!(Client::list_users)
        .sequence()
        .output(|| list_users_page(&[("alice", "AIDAALICE0000000001")], Some("marker-page-2")))
        .output(|| list_users_page(&[("bob", "AIDABOB00000000000002")], Some("marker-page-3")))
        .build();

    let found = iam(&[&list_users])
        .find_user_by_id(&user_id("AIDABOB00000000000002"))
        .await
        .expect("ListUsers succeeds");

    assert_eq!(found.map(|u| u.user_name), Some("bob".to_owned()));
    assert_eq!(list_users.num_calls(), 2);
}

#[tokio::test]
async fn find_user_by_id_returns_none_when_no_page_has_the_id() {
    let (requests, log) = request_log::<ListUsersInput>();
    let list_users = mock!(Client::list_users)
        .match_requests(log)
        .sequence()
        .output(|| list_users_page(&[("alice", "AIDAALICE0000000001")], Some("marker-page-2")))
        .output(|| list_users_page(&[("bob", "AIDABOB00000000000002")], None))
        .build();

    let found = iam(&[&list_users])
        .find_user_by_id(&user_id("AIDAGONE00000000009"))
        .await
        .expect("ListUsers succeeds");

    assert_eq!(found, None);
    // The last page carried no Marker, so no third request was made (the mock would have
    // panicked on it: its only rule is exhausted after two answers).
    assert_eq!(list_users.num_calls(), 2);
    assert_eq!(
        markers(requests.lock().unwrap().iter().map(ListUsersInput::marker)),
        [None, Some("marker-page-2".to_owned())]
    );
}

// ---------------------------------------------------------------------------------------------
// NoSuchEntity: reads are None, writes are Gone
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_user_returns_none_when_iam_has_no_such_user() {
    let get_user = mock!(Client::get_user)
        .sequence()
        .http_status(404, Some(no_such_user_xml("alice")))
        .build();

    let user = iam(&[&get_user]).get_user("alice").await;

    assert_eq!(user.expect("NoSuchEntity is not an error"), None);
    assert_eq!(get_user.num_calls(), 1);
}

#[tokio::test]
async fn snapshot_is_none_when_list_access_keys_finds_no_such_user() {
    let list_access_keys = mock!(Client::list_access_keys)
        .sequence()
        .http_status(404, Some(no_such_user_xml("alice")))
        .build();
    let list_user_tags = no_tags();

    let snapshot = iam_any_order(&[&list_access_keys, &list_user_tags])
        .snapshot("alice")
        .await;

    assert_eq!(snapshot.expect("NoSuchEntity is not an error"), None);
    assert_eq!(list_access_keys.num_calls(), 1);
}

#[tokio::test]
async fn snapshot_is_none_when_list_user_tags_finds_no_such_user() {
    let list_access_keys = one_key("AKIAIOSFODNN7EXAMPLE");
    let list_user_tags = mock!(Client::list_user_tags)
        .sequence()
        .http_status(404, Some(no_such_user_xml("alice")))
        .build();

    // No GetAccessKeyLastUsed rule: a user already gone has no key to ask about.
    let snapshot = iam_any_order(&[&list_access_keys, &list_user_tags])
        .snapshot("alice")
        .await;

    assert_eq!(snapshot.expect("NoSuchEntity is not an error"), None);
    assert_eq!(list_user_tags.num_calls(), 1);
}

#[tokio::test]
async fn snapshot_has_no_last_use_for_a_key_iam_no_longer_has() {
    // GetAccessKeyLastUsed models no NoSuchEntity error, so the SDK hands back an unmodeled
    // error; only its code says NoSuchEntity.
    let get_last_used = mock!(Client::get_access_key_last_used)
        .sequence()
        .http_status(404, Some(no_such_key_xml("AKIAIOSFODNN7EXAMPLE")))
        .build();
    let (list_access_keys, list_user_tags) = (one_key("AKIAIOSFODNN7EXAMPLE"), no_tags());

    let snapshot = iam_any_order(&[&list_access_keys, &list_user_tags, &get_last_used])
        .snapshot("alice")
        .await
        .expect("NoSuchEntity is not an error")
        .expect("the user exists");

    let last_used: Vec<_> = snapshot.keys.iter().map(|key| key.last_used).collect();
    assert_eq!(last_used, [None]);
    assert_eq!(get_last_used.num_calls(), 1);
}

#[tokio::test]
async fn deactivating_a_key_iam_no_longer_has_is_gone() {
    let update = mock!(Client::update_access_key)
        .sequence()
        .http_status(404, Some(no_such_key_xml("AKIAIOSFODNN7EXAMPLE")))
        .build();

    let outcome = iam(&[&update])
        .deactivate_key("alice", &key_id("AKIAIOSFODNN7EXAMPLE"))
        .await;

    assert_eq!(
        outcome.expect("NoSuchEntity is not an error"),
        WriteOutcome::Gone
    );
    assert_eq!(update.num_calls(), 1, "NoSuchEntity is not retried");
}

#[tokio::test]
async fn deleting_a_key_iam_no_longer_has_is_gone() {
    // The modeled error, as the SDK's parser would build it: the code travels in the metadata.
    let delete = mock!(Client::delete_access_key).then_error(|| {
        DeleteAccessKeyError::NoSuchEntityException(
            NoSuchEntityException::builder()
                .message("The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found.")
                .meta(
                    ErrorMetadata::builder()
                        .code("NoSuchEntity")
                        .message("The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found.")
                        .build(),
                )
                .build(),
        )
    });

    let outcome = iam(&[&delete])
        .delete_key("alice", &key_id("AKIAIOSFODNN7EXAMPLE"))
        .await;

    assert_eq!(
        outcome.expect("NoSuchEntity is not an error"),
        WriteOutcome::Gone,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn deleting_a_key_of_a_user_iam_no_longer_has_is_gone() {
    let delete = mock!(Client::delete_access_key)
        .sequence()
        .http_status(404, Some(no_such_user_xml("alice")))
        .build();

    let outcome = iam(&[&delete])
        .delete_key("alice", &key_id("AKIAIOSFODNN7EXAMPLE"))
        .await;

    assert_eq!(
        outcome.expect("NoSuchEntity is not an error"),
        WriteOutcome::Gone,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn tagging_a_user_iam_no_longer_has_is_gone() {
    let tag_user = mock!(Client::tag_user)
        .sequence()
        .http_status(404, Some(no_such_user_xml("alice")))
        .build();

    let outcome = iam(&[&tag_user])
        .tag_user("alice", "some-key", "some-value")
        .await;

    assert_eq!(
        outcome.expect("NoSuchEntity is not an error"),
        WriteOutcome::Gone,
        "nothing was tagged"
    );
}

#[tokio::test]
async fn untagging_a_user_iam_no_longer_has_is_gone() {
    let untag_user = mock!(Client::untag_user)
        .sequence()
        .http_status(404, Some(no_such_user_xml("alice")))
        .build();

    let outcome = iam(&[&untag_user])
        .untag_user("alice", &["some-key".to_owned()])
        .await;

    assert_eq!(
        outcome.expect("NoSuchEntity is not an error"),
        WriteOutcome::Gone,
        "nothing was untagged"
    );
}

// ---------------------------------------------------------------------------------------------
// Throttling and retries
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn deactivate_key_succeeds_after_two_throttled_attempts() {
    let update = mock!(Client::update_access_key)
        .sequence()
        .http_status(400, Some(throttling_xml()))
        .times(2)
        .output(|| UpdateAccessKeyOutput::builder().build())
        .build();

    let outcome = iam(&[&update])
        .deactivate_key("alice", &key_id("AKIAIOSFODNN7EXAMPLE"))
        .await;

    assert_eq!(
        outcome.expect("the third attempt succeeds"),
        WriteOutcome::Applied
    );
    assert_eq!(
        update.num_calls(),
        3,
        "two throttled attempts, then success"
    );
}

#[tokio::test]
async fn throttling_on_every_attempt_is_an_iam_update_access_key_error() {
    // The rule would keep throttling for five attempts; the client must give up after three.
    let update = mock!(Client::update_access_key)
        .sequence()
        .http_status(400, Some(throttling_xml()))
        .times(5)
        .build();

    let error = iam(&[&update])
        .deactivate_key("alice", &key_id("AKIAIOSFODNN7EXAMPLE"))
        .await
        .expect_err("throttled past the retry budget");

    assert_eq!(error.service, "IAM");
    assert_eq!(error.operation, "UpdateAccessKey");
    assert_eq!(error.to_string(), "IAM UpdateAccessKey failed");
    assert_eq!(
        sdk_error_code::<UpdateAccessKeyError>(&error).as_deref(),
        Some("Throttling")
    );
    assert_eq!(update.num_calls(), 3, "max_attempts is 3");
}

// ---------------------------------------------------------------------------------------------
// ConcurrentModification: retried like throttling, by the function's own classifier
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tag_user_succeeds_after_two_concurrent_modifications() {
    let tag_user = mock!(Client::tag_user)
        .sequence()
        .http_status(409, Some(concurrent_modification_xml()))
        .times(2)
        .output(|| TagUserOutput::builder().build())
        .build();

    let outcome = iam(&[&tag_user])
        .tag_user(
            "alice",
            "access-key-remediator:state",
            "AKIAIOSFODNN7EXAMPLE=2024-05-01T00:00:00Z",
        )
        .await;

    assert_eq!(
        outcome.expect("the third attempt succeeds"),
        WriteOutcome::Applied
    );
    assert_eq!(
        tag_user.num_calls(),
        3,
        "two ConcurrentModification answers, then success"
    );
}

#[tokio::test]
async fn concurrent_modification_on_every_attempt_is_an_iam_tag_user_error() {
    // The rule would answer ConcurrentModification five times; the client gives up after three.
    let tag_user = mock!(Client::tag_user)
        .sequence()
        .http_status(409, Some(concurrent_modification_xml()))
        .times(5)
        .build();

    let error = iam(&[&tag_user])
        .tag_user(
            "alice",
            "access-key-remediator:state",
            "AKIAIOSFODNN7EXAMPLE=2024-05-01T00:00:00Z",
        )
        .await
        .expect_err("ConcurrentModification past the retry budget");

    assert_eq!((error.service, error.operation), ("IAM", "TagUser"));
    assert_eq!(
        sdk_error_code::<TagUserError>(&error).as_deref(),
        Some("ConcurrentModification")
    );
    assert_eq!(tag_user.num_calls(), 3, "max_attempts is 3");
}

#[tokio::test]
async fn concurrent_modification_is_retried_on_any_iam_operation() {
    // The classifier reads the code from the answer, not from one operation's error type.
    let untag_user = mock!(Client::untag_user)
        .sequence()
        .http_status(409, Some(concurrent_modification_xml()))
        .output(|| UntagUserOutput::builder().build())
        .build();
    let update = mock!(Client::update_access_key)
        .sequence()
        .http_status(409, Some(concurrent_modification_xml()))
        .output(|| UpdateAccessKeyOutput::builder().build())
        .build();
    let adapter = iam_any_order(&[&untag_user, &update]);

    adapter
        .untag_user("alice", &["access-key-remediator:state".to_owned()])
        .await
        .expect("the second UntagUser attempt succeeds");
    adapter
        .deactivate_key("alice", &key_id("AKIAIOSFODNN7EXAMPLE"))
        .await
        .expect("the second UpdateAccessKey attempt succeeds");

    assert_eq!((untag_user.num_calls(), update.num_calls()), (2, 2));
}

#[tokio::test]
async fn access_denied_on_tag_user_is_not_retried() {
    let tag_user = mock!(Client::tag_user)
        .sequence()
        .http_status(403, Some(access_denied_xml("TagUser", "alice")))
        .times(3)
        .build();

    let error = iam(&[&tag_user])
        .tag_user(
            "alice",
            "access-key-remediator:state",
            "AKIAIOSFODNN7EXAMPLE=2024-05-01T00:00:00Z",
        )
        .await
        .expect_err("AccessDenied is an error");

    assert_eq!(
        sdk_error_code::<TagUserError>(&error).as_deref(),
        Some("AccessDenied")
    );
    assert_eq!(tag_user.num_calls(), 1, "AccessDenied is not retried");
}

#[tokio::test]
async fn limit_exceeded_on_tag_user_is_not_retried() {
    // IAM's 50-tags-per-user answer is a 409 too, but no retry can make room.
    let tag_user = mock!(Client::tag_user)
        .sequence()
        .http_status(
            409,
            Some(iam_error_xml(
                "Sender",
                "LimitExceeded",
                "Cannot exceed quota for TagsPerUser: 50",
            )),
        )
        .times(3)
        .build();

    let error = iam(&[&tag_user])
        .tag_user(
            "alice",
            "access-key-remediator:state",
            "AKIAIOSFODNN7EXAMPLE=2024-05-01T00:00:00Z",
        )
        .await
        .expect_err("LimitExceeded is an error");

    assert_eq!(
        sdk_error_code::<TagUserError>(&error).as_deref(),
        Some("LimitExceeded")
    );
    assert_eq!(tag_user.num_calls(), 1, "LimitExceeded is not retried");
}

// ---------------------------------------------------------------------------------------------
// Other errors are errors, never "gone"
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn access_denied_on_delete_is_an_error_not_already_gone() {
    let delete = mock!(Client::delete_access_key)
        .sequence()
        .http_status(403, Some(access_denied_xml("DeleteAccessKey", "alice")))
        .build();

    let error = iam(&[&delete])
        .delete_key("alice", &key_id("AKIAIOSFODNN7EXAMPLE"))
        .await
        .expect_err("AccessDenied must not read as Gone");

    assert_eq!(error.service, "IAM");
    assert_eq!(error.operation, "DeleteAccessKey");
    assert_eq!(
        sdk_error_code::<DeleteAccessKeyError>(&error).as_deref(),
        Some("AccessDenied")
    );
}

#[tokio::test]
async fn access_denied_on_list_access_keys_is_an_error_not_a_missing_user() {
    let list_access_keys = mock!(Client::list_access_keys)
        .sequence()
        .http_status(403, Some(access_denied_xml("ListAccessKeys", "alice")))
        .build();

    let error = iam(&[&list_access_keys])
        .key_statuses("alice")
        .await
        .expect_err("AccessDenied must not read as a missing user");

    assert_eq!(error.service, "IAM");
    assert_eq!(error.operation, "ListAccessKeys");
}

// ---------------------------------------------------------------------------------------------
// A snapshot's keys: statuses, dates, pages
// ---------------------------------------------------------------------------------------------

fn list_access_keys_xml(members: &[(&str, &str, &str)], next_marker: Option<&str>) -> String {
    let members: String = members
        .iter()
        .map(|(id, status, created)| {
            format!(
                "<member><UserName>alice</UserName><AccessKeyId>{id}</AccessKeyId>\
                 <Status>{status}</Status><CreateDate>{created}</CreateDate></member>"
            )
        })
        .collect();
    let truncation = match next_marker {
        Some(marker) => format!("<IsTruncated>true</IsTruncated><Marker>{marker}</Marker>"),
        None => "<IsTruncated>false</IsTruncated>".to_owned(),
    };
    format!(
        r#"<ListAccessKeysResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListAccessKeysResult>
    <AccessKeyMetadata>{members}</AccessKeyMetadata>
    {truncation}
  </ListAccessKeysResult>
  <ResponseMetadata><RequestId>0c1d2e3f-0000-4000-8000-000000000001</RequestId></ResponseMetadata>
</ListAccessKeysResponse>"#
    )
}

#[tokio::test]
async fn snapshot_maps_key_statuses_and_creation_dates_across_two_pages() {
    let (requests, log) = request_log::<ListAccessKeysInput>();
    let list_access_keys = mock!(Client::list_access_keys)
        .match_requests(log)
        .sequence()
        .http_status(
            200,
            Some(list_access_keys_xml(
                &[
                    ("AKIAACTIVE0000000001", "Active", "2024-01-15T10:00:00Z"),
                    ("AKIAINACTIVE00000002", "Inactive", "2023-06-30T23:59:59Z"),
                ],
                Some("keys-marker-2"),
            )),
        )
        .http_status(
            200,
            Some(list_access_keys_xml(
                &[("AKIAEXPIRED000000003", "Expired", "2022-02-01T08:30:00Z")],
                None,
            )),
        )
        .build();
    let never_used = mock!(Client::get_access_key_last_used)
        .sequence()
        .http_status(200, Some(last_used_xml(NEVER_USED)))
        .times(3)
        .build();

    let snapshot = iam_any_order(&[&list_access_keys, &no_tags(), &never_used])
        .snapshot("alice")
        .await
        .expect("ListAccessKeys succeeds");

    assert_eq!(
        snapshot.map(|snapshot| snapshot.keys),
        Some(vec![
            AccessKey {
                access_key_id: key_id("AKIAACTIVE0000000001"),
                status: KeyStatus::Active,
                created: datetime!(2024-01-15 10:00:00 UTC),
                last_used: None,
                last_used_service: None,
                last_used_region: None,
            },
            AccessKey {
                access_key_id: key_id("AKIAINACTIVE00000002"),
                status: KeyStatus::Inactive,
                created: datetime!(2023-06-30 23:59:59 UTC),
                last_used: None,
                last_used_service: None,
                last_used_region: None,
            },
            AccessKey {
                access_key_id: key_id("AKIAEXPIRED000000003"),
                status: KeyStatus::Inactive,
                created: datetime!(2022-02-01 08:30:00 UTC),
                last_used: None,
                last_used_service: None,
                last_used_region: None,
            },
        ])
    );
    assert_eq!(list_access_keys.num_calls(), 2);
    assert_eq!(
        never_used.num_calls(),
        3,
        "one GetAccessKeyLastUsed per key"
    );
    let requests = requests.lock().unwrap();
    assert_eq!(
        markers(requests.iter().map(ListAccessKeysInput::marker)),
        [None, Some("keys-marker-2".to_owned())]
    );
    assert!(requests.iter().all(|r| r.user_name() == Some("alice")));
}

// ---------------------------------------------------------------------------------------------
// A snapshot's last use of each key
// ---------------------------------------------------------------------------------------------

fn last_used_xml(access_key_last_used: &str) -> String {
    format!(
        r#"<GetAccessKeyLastUsedResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetAccessKeyLastUsedResult>
    <AccessKeyLastUsed>{access_key_last_used}</AccessKeyLastUsed>
    <UserName>alice</UserName>
  </GetAccessKeyLastUsedResult>
  <ResponseMetadata><RequestId>0c1d2e3f-0000-4000-8000-000000000002</RequestId></ResponseMetadata>
</GetAccessKeyLastUsedResponse>"#
    )
}

/// What IAM really returns for a never-used key: no LastUsedDate, N/A service and region.
const NEVER_USED: &str = "<ServiceName>N/A</ServiceName><Region>N/A</Region>";

#[tokio::test]
async fn snapshot_has_each_keys_last_used_date() {
    let get_last_used = mock!(Client::get_access_key_last_used)
        .match_requests(|input| input.access_key_id() == Some("AKIAIOSFODNN7EXAMPLE"))
        .sequence()
        .http_status(
            200,
            Some(last_used_xml(
                "<LastUsedDate>2024-03-01T12:34:56Z</LastUsedDate>\
                 <ServiceName>s3</ServiceName><Region>eu-west-1</Region>",
            )),
        )
        .build();
    let (list_access_keys, list_user_tags) = (one_key("AKIAIOSFODNN7EXAMPLE"), no_tags());

    let snapshot = iam_any_order(&[&list_access_keys, &list_user_tags, &get_last_used])
        .snapshot("alice")
        .await
        .expect("GetAccessKeyLastUsed succeeds")
        .expect("the user exists");

    let last_used: Vec<_> = snapshot.keys.iter().map(|key| key.last_used).collect();
    assert_eq!(last_used, [Some(datetime!(2024-03-01 12:34:56 UTC))]);
    assert_eq!(get_last_used.num_calls(), 1);
}

#[tokio::test]
async fn snapshot_has_no_last_use_for_a_key_that_was_never_used() {
    let get_last_used = mock!(Client::get_access_key_last_used)
        .sequence()
        .http_status(200, Some(last_used_xml(NEVER_USED)))
        .build();
    let (list_access_keys, list_user_tags) = (one_key("AKIAIOSFODNN7EXAMPLE"), no_tags());

    let snapshot = iam_any_order(&[&list_access_keys, &list_user_tags, &get_last_used])
        .snapshot("alice")
        .await
        .expect("GetAccessKeyLastUsed succeeds")
        .expect("the user exists");

    let last_used: Vec<_> = snapshot.keys.iter().map(|key| key.last_used).collect();
    assert_eq!(last_used, [None]);
    assert_eq!(get_last_used.num_calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// A snapshot's tags
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn snapshot_gathers_tags_from_both_pages() {
    let (requests, log) = request_log::<ListUserTagsInput>();
    let list_user_tags = mock!(Client::list_user_tags)
        .match_requests(log)
        .sequence()
        .output(|| {
            tags_page(
                &[("team", "payments"), ("owner", "alice@example.com")],
                Some("tags-marker-2"),
            )
        })
        .output(|| {
            tags_page(
                &[(
                    "access-key-remediator:deactivated:AKIAIOSFODNN7EXAMPLE",
                    "2024-05-01T00:00:00Z",
                )],
                None,
            )
        })
        .build();

    let snapshot = iam_any_order(&[&no_keys(), &list_user_tags])
        .snapshot("alice")
        .await
        .expect("ListUserTags succeeds");

    let expected: BTreeMap<String, String> = [
        ("team", "payments"),
        ("owner", "alice@example.com"),
        (
            "access-key-remediator:deactivated:AKIAIOSFODNN7EXAMPLE",
            "2024-05-01T00:00:00Z",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(
        snapshot,
        Some(UserSnapshot {
            keys: Vec::new(),
            tags: expected
        })
    );
    let requests = requests.lock().unwrap();
    assert_eq!(
        markers(requests.iter().map(ListUserTagsInput::marker)),
        [None, Some("tags-marker-2".to_owned())]
    );
    assert!(requests.iter().all(|r| r.user_name() == Some("alice")));
}

// ---------------------------------------------------------------------------------------------
// What the writes send
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn deactivate_key_sends_status_inactive_for_that_user_and_key() {
    let (requests, log) = request_log::<UpdateAccessKeyInput>();
    // In MatchAny mode a request this rule does not match finds no rule, and the mock panics.
    let update = mock!(Client::update_access_key)
        .match_requests(move |input| {
            log(input)
                && input.user_name() == Some("alice")
                && input.access_key_id() == Some("AKIAIOSFODNN7EXAMPLE")
                && input.status() == Some(&StatusType::Inactive)
        })
        .then_output(|| UpdateAccessKeyOutput::builder().build());

    let outcome = iam_with_mode(RuleMode::MatchAny, &[&update])
        .deactivate_key("alice", &key_id("AKIAIOSFODNN7EXAMPLE"))
        .await
        .expect("UpdateAccessKey succeeds");

    assert_eq!(outcome, WriteOutcome::Applied);
    assert_eq!(update.num_calls(), 1);
    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].user_name(), Some("alice"));
    assert_eq!(requests[0].access_key_id(), Some("AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(requests[0].status(), Some(&StatusType::Inactive));
}

#[tokio::test]
async fn delete_key_sends_that_user_and_key() {
    let delete = mock!(Client::delete_access_key)
        .match_requests(|input| {
            input.user_name() == Some("alice")
                && input.access_key_id() == Some("AKIAIOSFODNN7EXAMPLE")
        })
        .then_output(|| DeleteAccessKeyOutput::builder().build());

    iam_with_mode(RuleMode::MatchAny, &[&delete])
        .delete_key("alice", &key_id("AKIAIOSFODNN7EXAMPLE"))
        .await
        .expect("DeleteAccessKey succeeds");

    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn tag_user_sends_exactly_the_one_tag() {
    let (requests, log) = request_log::<TagUserInput>();
    let tag_user = mock!(Client::tag_user)
        .match_requests(log)
        .then_output(|| TagUserOutput::builder().build());

    iam(&[&tag_user])
        .tag_user(
            "alice",
            "access-key-remediator:deactivated:AKIAIOSFODNN7EXAMPLE",
            "2024-05-01T00:00:00Z",
        )
        .await
        .expect("TagUser succeeds");

    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].user_name(), Some("alice"));
    let sent: Vec<(&str, &str)> = requests[0]
        .tags()
        .iter()
        .map(|tag| (tag.key(), tag.value()))
        .collect();
    assert_eq!(
        sent,
        [(
            "access-key-remediator:deactivated:AKIAIOSFODNN7EXAMPLE",
            "2024-05-01T00:00:00Z"
        )]
    );
}

#[tokio::test]
async fn untag_user_sends_every_key_given() {
    let (requests, log) = request_log::<UntagUserInput>();
    let untag_user = mock!(Client::untag_user)
        .match_requests(log)
        .then_output(|| UntagUserOutput::builder().build());

    let keys = [
        "access-key-remediator:deactivated:AKIA1".to_owned(),
        "access-key-remediator:deactivated:AKIA2".to_owned(),
    ];
    iam(&[&untag_user])
        .untag_user("alice", &keys)
        .await
        .expect("UntagUser succeeds");

    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].user_name(), Some("alice"));
    assert_eq!(requests[0].tag_keys(), keys);
}
