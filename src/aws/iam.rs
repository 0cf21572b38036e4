//! IAM over the AWS SDK: the one place that calls IAM. Paginates every list, maps IAM's
//! NoSuchEntity to "gone" and every other failure (after the SDK's retries) to `AwsError`.

use std::collections::BTreeMap;

use futures::future::try_join_all;
use std::time::Duration;

use aws_runtime::retries::classifiers::AwsErrorCodeClassifier;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::operation::delete_access_key::DeleteAccessKeyError;
use aws_sdk_iam::operation::tag_user::TagUserError;
use aws_sdk_iam::operation::untag_user::UntagUserError;
use aws_sdk_iam::operation::update_access_key::UpdateAccessKeyError;
use aws_sdk_iam::types::{ReportStateType, StatusType};
use time::OffsetDateTime;

use crate::aws::{AwsError, IamDirectory, IamUser, IamWrites, WriteOutcome};
use crate::domain::ids::{AccessKeyId, UserId};
use crate::domain::user::{AccessKey, KeyStatus, UserSnapshot};

/// ListUsers' largest page: fewer round trips in accounts with thousands of users.
const LIST_USERS_PAGE_SIZE: i32 = 1000;

/// How long to wait for IAM to finish a credential report: the delay between
/// GenerateCredentialReport polls doubles from the first to the longest, for at most
/// `REPORT_POLLS` polls. IAM usually needs seconds; this allows about a minute.
const REPORT_POLLS: u32 = 10;
const FIRST_POLL_DELAY: Duration = Duration::from_millis(500);
const LONGEST_POLL_DELAY: Duration = Duration::from_secs(8);

#[derive(Debug, Clone)]
pub struct AwsIam {
    client: Client,
}

impl AwsIam {
    pub fn new(client: Client) -> Self {
        AwsIam { client }
    }
}

/// The call's result, with IAM's NoSuchEntity ("the user or key is gone") as `None`.
fn found<T, E>(
    operation: &'static str,
    result: Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>,
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.code() == Some("NoSuchEntity") => Ok(None),
        Err(error) => Err(AwsError {
            service: "IAM",
            operation,
            source: Box::new(error),
        }),
    }
}

fn written<T>(found: Option<T>) -> WriteOutcome {
    match found {
        Some(_) => WriteOutcome::Applied,
        None => WriteOutcome::Gone,
    }
}

/// An IAM answer's user, when IAM sent a UserId we can read.
fn iam_user(user: &aws_sdk_iam::types::User) -> Option<IamUser> {
    Some(IamUser {
        user_name: user.user_name().to_owned(),
        user_id: UserId::parse(user.user_id()).ok()?,
    })
}

pub(crate) fn to_offset(date: &aws_smithy_types::DateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(date.as_nanos())
        .expect("AWS timestamps are within time's range")
}

fn key_status(status: Option<&StatusType>) -> KeyStatus {
    match status {
        Some(StatusType::Inactive) | Some(StatusType::Expired) => KeyStatus::Inactive,
        // Anything we do not recognise is treated as Active: the worst we then do is
        // deactivate it, never delete it.
        _ => KeyStatus::Active,
    }
}

impl IamDirectory for AwsIam {
    async fn find_user_by_id(&self, user_id: &UserId) -> Result<Option<IamUser>, AwsError> {
        let mut pages = self
            .client
            .list_users()
            .max_items(LIST_USERS_PAGE_SIZE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let Some(page) = found("ListUsers", page)? else {
                return Ok(None);
            };
            if let Some(user) = page.users().iter().find(|u| user_id == u.user_id()) {
                return Ok(iam_user(user));
            }
        }
        Ok(None)
    }

    async fn get_user(&self, user_name: &str) -> Result<Option<IamUser>, AwsError> {
        let output = found(
            "GetUser",
            self.client.get_user().user_name(user_name).send().await,
        )?;
        Ok(output.and_then(|output| output.user().and_then(iam_user)))
    }

    async fn credential_report(&self) -> Result<Vec<u8>, AwsError> {
        let mut delay = FIRST_POLL_DELAY;
        for poll in 1..=REPORT_POLLS {
            let generated = self.client.generate_credential_report().send().await;
            let Some(generated) = found("GenerateCredentialReport", generated)? else {
                break;
            };
            if generated.state() == Some(&ReportStateType::Complete) {
                let report = self.client.get_credential_report().send().await;
                let Some(report) = found("GetCredentialReport", report)? else {
                    break;
                };
                return Ok(report
                    .content()
                    .map(|blob| blob.as_ref().to_vec())
                    .unwrap_or_default());
            }
            if poll < REPORT_POLLS {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(LONGEST_POLL_DELAY);
            }
        }
        Err(AwsError {
            service: "IAM",
            operation: "GenerateCredentialReport",
            source: format!("the credential report was not complete after {REPORT_POLLS} polls")
                .into(),
        })
    }

    async fn snapshot(&self, user_name: &str) -> Result<Option<UserSnapshot>, AwsError> {
        let (keys, tags) = tokio::try_join!(
            self.list_access_keys(user_name),
            self.list_user_tags(user_name)
        )?;
        let (Some(mut keys), Some(tags)) = (keys, tags) else {
            return Ok(None);
        };
        let last_used = try_join_all(
            keys.iter()
                .map(|key| self.key_last_used(&key.access_key_id)),
        )
        .await?;
        for (key, last_used) in keys.iter_mut().zip(last_used) {
            (key.last_used, key.last_used_service, key.last_used_region) = last_used;
        }
        Ok(Some(UserSnapshot { keys, tags }))
    }

    async fn key_statuses(
        &self,
        user_name: &str,
    ) -> Result<Option<BTreeMap<AccessKeyId, KeyStatus>>, AwsError> {
        let keys = self.list_access_keys(user_name).await?;
        Ok(keys.map(|keys| {
            keys.into_iter()
                .map(|key| (key.access_key_id, key.status))
                .collect()
        }))
    }

    async fn role_tag(&self, role_name: &str, key: &str) -> Result<Option<String>, AwsError> {
        let request = self.client.list_role_tags().role_name(role_name);
        let mut tags = request.into_paginator().items().send();
        while let Some(tag) = tags.next().await {
            let Some(tag) = found("ListRoleTags", tag)? else {
                return Ok(None);
            };
            // IAM keeps one tag per key, ignoring case, so any spelling of `key` is that tag.
            if tag.key().eq_ignore_ascii_case(key) {
                return Ok(Some(tag.value().to_owned()));
            }
        }
        Ok(None)
    }
}

/// A key's last use: its date, service and region.
type LastUse = (Option<OffsetDateTime>, Option<String>, Option<String>);

impl AwsIam {
    /// The user's keys, with `last_used` not yet filled in.
    async fn list_access_keys(&self, user_name: &str) -> Result<Option<Vec<AccessKey>>, AwsError> {
        let items = self
            .client
            .list_access_keys()
            .user_name(user_name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        let Some(items) = found("ListAccessKeys", items)? else {
            return Ok(None);
        };
        let keys = items
            .into_iter()
            .filter_map(|key| {
                let id = key
                    .access_key_id()
                    .and_then(|id| AccessKeyId::parse(id).ok());
                let (Some(id), Some(created)) = (id, key.create_date()) else {
                    // IAM always sends both; a key without them cannot be judged, so say so.
                    tracing::warn!(
                        user = user_name,
                        ?key,
                        "access key without a valid id or creation date; skipped"
                    );
                    return None;
                };
                Some(AccessKey {
                    access_key_id: id,
                    status: key_status(key.status()),
                    created: to_offset(created),
                    last_used: None,
                    last_used_service: None,
                    last_used_region: None,
                })
            })
            .collect();
        Ok(Some(keys))
    }

    /// When, with which service and in which region, the key was last used; `None`s if never
    /// (or if the key has since vanished). IAM says `N/A` for a service or region it has none of.
    async fn key_last_used(&self, access_key_id: &AccessKeyId) -> Result<LastUse, AwsError> {
        let output = found(
            "GetAccessKeyLastUsed",
            self.client
                .get_access_key_last_used()
                .access_key_id(access_key_id.as_str())
                .send()
                .await,
        )?;
        let used = output
            .as_ref()
            .and_then(|output| output.access_key_last_used());
        let named = |name: Option<&str>| {
            name.filter(|name| !name.is_empty() && *name != "N/A")
                .map(str::to_owned)
        };
        Ok((
            used.and_then(|used| used.last_used_date()).map(to_offset),
            named(used.map(|used| used.service_name())),
            named(used.map(|used| used.region())),
        ))
    }

    async fn list_user_tags(
        &self,
        user_name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        let items = self
            .client
            .list_user_tags()
            .user_name(user_name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        Ok(found("ListUserTags", items)?.map(|tags| {
            tags.into_iter()
                .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
                .collect()
        }))
    }
}

impl IamWrites for AwsIam {
    async fn deactivate_key(
        &self,
        user_name: &str,
        access_key_id: &AccessKeyId,
    ) -> Result<WriteOutcome, AwsError> {
        let result = self
            .client
            .update_access_key()
            .user_name(user_name)
            .access_key_id(access_key_id.as_str())
            .status(StatusType::Inactive)
            .send()
            .await;
        found("UpdateAccessKey", result).map(written)
    }

    async fn delete_key(
        &self,
        user_name: &str,
        access_key_id: &AccessKeyId,
    ) -> Result<WriteOutcome, AwsError> {
        let result = self
            .client
            .delete_access_key()
            .user_name(user_name)
            .access_key_id(access_key_id.as_str())
            .send()
            .await;
        found("DeleteAccessKey", result).map(written)
    }

    async fn tag_user(
        &self,
        user_name: &str,
        key: &str,
        value: &str,
    ) -> Result<WriteOutcome, AwsError> {
        let tag = aws_sdk_iam::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .expect("key and value are both set");
        let result = self
            .client
            .tag_user()
            .user_name(user_name)
            .tags(tag)
            .send()
            .await;
        found("TagUser", result).map(written)
    }

    async fn untag_user(&self, user_name: &str, keys: &[String]) -> Result<WriteOutcome, AwsError> {
        let result = self
            .client
            .untag_user()
            .user_name(user_name)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await;
        found("UntagUser", result).map(written)
    }
}

// ---------------------------------------------------------------------------------------------
// Retries: ConcurrentModification
// ---------------------------------------------------------------------------------------------

/// IAM's answer (HTTP 409) when another request is changing the same entity at that moment,
/// such as an event's TagUser racing a sweep's on one user. IAM applied nothing, so the
/// request is safe to send again; the SDK's own classifiers do not retry this code.
pub const CONCURRENT_MODIFICATION: &str = "ConcurrentModification";

/// Everything an IAM client of the function is configured with beyond the shared SDK
/// configuration: the SDK's error-code classifier, told that ConcurrentModification is
/// transient, on each write, so that it is retried with the SDK's own backoff and attempt
/// budget (AWS_RETRY_MODE, AWS_MAX_ATTEMPTS) like a throttled call. Every IAM client is built
/// through this function: the composition root's and the adapter tests' alike.
pub fn client_config(builder: aws_sdk_iam::config::Builder) -> aws_sdk_iam::config::Builder {
    builder
        .retry_classifier(concurrent_modification_retried::<TagUserError>())
        .retry_classifier(concurrent_modification_retried::<UntagUserError>())
        .retry_classifier(concurrent_modification_retried::<UpdateAccessKeyError>())
        .retry_classifier(concurrent_modification_retried::<DeleteAccessKeyError>())
}

fn concurrent_modification_retried<E>() -> AwsErrorCodeClassifier<E> {
    AwsErrorCodeClassifier::builder()
        .transient_errors(&[CONCURRENT_MODIFICATION][..])
        .build()
}
