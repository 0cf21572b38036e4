//! IAM over the AWS SDK: the one place that calls IAM. Paginates every list, maps IAM's
//! NoSuchEntity to "gone" and every other failure (after the SDK's retries) to `AwsError`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{ReportStateType, StatusType};
use time::OffsetDateTime;

use crate::domain::policy::{AccessKey, KeyStatus};
use crate::ports::{AwsError, IamDirectory, IamUser, WriteOutcome};

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

/// The result of a call whose NoSuchEntity means "the user or key is gone".
enum Found<T> {
    Yes(T),
    Gone,
}

fn classify<T, E>(
    operation: &'static str,
    result: Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>,
) -> Result<Found<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(value) => Ok(Found::Yes(value)),
        Err(error) if error.code() == Some("NoSuchEntity") => Ok(Found::Gone),
        Err(error) => Err(AwsError {
            service: "IAM",
            operation,
            source: Box::new(error),
        }),
    }
}

fn written<T>(found: Found<T>) -> WriteOutcome {
    match found {
        Found::Yes(_) => WriteOutcome::Applied,
        Found::Gone => WriteOutcome::AlreadyGone,
    }
}

fn found<T>(found: Found<T>) -> Option<T> {
    match found {
        Found::Yes(value) => Some(value),
        Found::Gone => None,
    }
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
    async fn find_user_by_id(&self, user_id: &str) -> Result<Option<IamUser>, AwsError> {
        let mut pages = self
            .client
            .list_users()
            .max_items(LIST_USERS_PAGE_SIZE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let Found::Yes(page) = classify("ListUsers", page)? else {
                return Ok(None);
            };
            if let Some(user) = page.users().iter().find(|u| u.user_id() == user_id) {
                return Ok(Some(IamUser {
                    user_name: user.user_name().to_owned(),
                    user_id: user.user_id().to_owned(),
                }));
            }
        }
        Ok(None)
    }

    async fn get_user(&self, user_name: &str) -> Result<Option<IamUser>, AwsError> {
        let output = classify(
            "GetUser",
            self.client.get_user().user_name(user_name).send().await,
        )?;
        Ok(found(output).and_then(|output| {
            output.user().map(|user| IamUser {
                user_name: user.user_name().to_owned(),
                user_id: user.user_id().to_owned(),
            })
        }))
    }

    async fn credential_report(&self) -> Result<Vec<u8>, AwsError> {
        let mut delay = FIRST_POLL_DELAY;
        for poll in 1..=REPORT_POLLS {
            let generated = self.client.generate_credential_report().send().await;
            let Found::Yes(generated) = classify("GenerateCredentialReport", generated)? else {
                break;
            };
            if generated.state() == Some(&ReportStateType::Complete) {
                let report = self.client.get_credential_report().send().await;
                let Found::Yes(report) = classify("GetCredentialReport", report)? else {
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
        let Some(items) = found(classify("ListAccessKeys", items)?) else {
            return Ok(None);
        };
        let keys = items
            .into_iter()
            .filter_map(|key| {
                let (Some(id), Some(created)) = (key.access_key_id(), key.create_date()) else {
                    // IAM always sends both; a key without them cannot be judged, so say so.
                    tracing::warn!(
                        user = user_name,
                        ?key,
                        "access key without id or creation date; skipped"
                    );
                    return None;
                };
                Some(AccessKey {
                    access_key_id: id.to_owned(),
                    status: key_status(key.status()),
                    created: to_offset(created),
                    last_used: None,
                })
            })
            .collect();
        Ok(Some(keys))
    }

    async fn key_last_used(&self, access_key_id: &str) -> Result<Option<OffsetDateTime>, AwsError> {
        let output = classify(
            "GetAccessKeyLastUsed",
            self.client
                .get_access_key_last_used()
                .access_key_id(access_key_id)
                .send()
                .await,
        )?;
        Ok(found(output).and_then(|output| {
            output
                .access_key_last_used()
                .and_then(|used| used.last_used_date())
                .map(to_offset)
        }))
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
        Ok(found(classify("ListUserTags", items)?).map(|tags| {
            tags.into_iter()
                .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
                .collect()
        }))
    }

    async fn deactivate_key(
        &self,
        user_name: &str,
        access_key_id: &str,
    ) -> Result<WriteOutcome, AwsError> {
        let result = self
            .client
            .update_access_key()
            .user_name(user_name)
            .access_key_id(access_key_id)
            .status(StatusType::Inactive)
            .send()
            .await;
        classify("UpdateAccessKey", result).map(written)
    }

    async fn delete_key(
        &self,
        user_name: &str,
        access_key_id: &str,
    ) -> Result<WriteOutcome, AwsError> {
        let result = self
            .client
            .delete_access_key()
            .user_name(user_name)
            .access_key_id(access_key_id)
            .send()
            .await;
        classify("DeleteAccessKey", result).map(written)
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
        classify("TagUser", result).map(written)
    }

    async fn untag_user(&self, user_name: &str, keys: &[String]) -> Result<WriteOutcome, AwsError> {
        let result = self
            .client
            .untag_user()
            .user_name(user_name)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await;
        classify("UntagUser", result).map(written)
    }
}
