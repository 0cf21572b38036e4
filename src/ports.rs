//! The narrow interfaces the handler needs from AWS. Adapters in `crate::adapters`
//! implement them over the SDK; nothing outside an adapter makes an AWS call.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::future::Future;

use thiserror::Error;
use time::OffsetDateTime;

use crate::domain::policy::AccessKey;

/// An IAM user as IAM names it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamUser {
    pub user_name: String,
    pub user_id: String,
}

/// How a write call ended. `AlreadyGone` is IAM's NoSuchEntity: the key or user vanished
/// since the snapshot, which for our purposes means the work is done. It is what makes a
/// re-delivered event harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Applied,
    AlreadyGone,
}

/// An AWS call that failed after the SDK's own retries.
#[derive(Debug, Error)]
#[error("{service} {operation} failed")]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
}

/// The IAM calls the remediation makes. Reads return `None` when the user no longer exists.
pub trait IamDirectory: Send + Sync {
    /// Scans every page of ListUsers for the user with this UserId.
    fn find_user_by_id(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<IamUser>, AwsError>> + Send;

    fn get_user(
        &self,
        user_name: &str,
    ) -> impl Future<Output = Result<Option<IamUser>, AwsError>> + Send;

    /// The account's IAM credential report (CSV), generated first if there is none fresh.
    fn credential_report(&self) -> impl Future<Output = Result<Vec<u8>, AwsError>> + Send;

    /// The user's keys, with `last_used` not yet filled in.
    fn list_access_keys(
        &self,
        user_name: &str,
    ) -> impl Future<Output = Result<Option<Vec<AccessKey>>, AwsError>> + Send;

    /// When the key was last used; `None` if never (or if the key has since vanished).
    fn key_last_used(
        &self,
        access_key_id: &str,
    ) -> impl Future<Output = Result<Option<OffsetDateTime>, AwsError>> + Send;

    fn list_user_tags(
        &self,
        user_name: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>, AwsError>> + Send;

    fn deactivate_key(
        &self,
        user_name: &str,
        access_key_id: &str,
    ) -> impl Future<Output = Result<WriteOutcome, AwsError>> + Send;

    fn delete_key(
        &self,
        user_name: &str,
        access_key_id: &str,
    ) -> impl Future<Output = Result<WriteOutcome, AwsError>> + Send;

    fn tag_user(
        &self,
        user_name: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<WriteOutcome, AwsError>> + Send;

    fn untag_user(
        &self,
        user_name: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<WriteOutcome, AwsError>> + Send;
}

/// A cheap lookup of a UserId's name. AWS Config answers it with one call where it records
/// IAM users; IAM's ListUsers scan is the authoritative fallback.
pub trait UserInventory: Send + Sync {
    /// The user name recorded for this UserId, or `None` when there is no record.
    fn user_name_for_id(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
}
