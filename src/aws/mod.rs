//! Every AWS call the function makes, behind narrow traits (the ports), with their SDK
//! implementations beside them and an in-memory fake for tests. Nothing outside `aws` makes
//! an AWS call or sees an SDK type.
//!
//! A read answers `None` when the user no longer exists: IAM's NoSuchEntity is an answer, not
//! a failure. An `AwsError` is a call that failed after the SDK's own retries.

pub mod accounts;
pub mod api_calls;
pub mod config;
pub mod fake;
pub mod iam;

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::future::Future;

use thiserror::Error;

use crate::domain::ids::{AccessKeyId, UserId};
use crate::domain::user::{KeyStatus, UserSnapshot};

/// An IAM user as IAM names it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamUser {
    pub user_name: String,
    pub user_id: UserId,
}

/// How a write ended. `Gone` is IAM's NoSuchEntity: the key or the user vanished since the
/// snapshot (deleted, or the user renamed), and nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Applied,
    Gone,
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

/// What the function reads from IAM.
pub trait IamDirectory: Send + Sync {
    /// Scans every page of ListUsers for the user with this UserId.
    fn find_user_by_id(
        &self,
        user_id: &UserId,
    ) -> impl Future<Output = Result<Option<IamUser>, AwsError>> + Send;

    fn get_user(
        &self,
        user_name: &str,
    ) -> impl Future<Output = Result<Option<IamUser>, AwsError>> + Send;

    /// The account's IAM credential report (CSV), generated first if there is none fresh.
    fn credential_report(&self) -> impl Future<Output = Result<Vec<u8>, AwsError>> + Send;

    /// The user's keys, each with its last use, and the user's tags.
    fn snapshot(
        &self,
        user_name: &str,
    ) -> impl Future<Output = Result<Option<UserSnapshot>, AwsError>> + Send;

    /// The statuses of the user's keys now: the fresh read a deletion is checked against.
    fn key_statuses(
        &self,
        user_name: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<AccessKeyId, KeyStatus>>, AwsError>> + Send;
}

/// What the function changes in IAM.
pub trait IamWrites: Send + Sync {
    fn deactivate_key(
        &self,
        user_name: &str,
        access_key_id: &AccessKeyId,
    ) -> impl Future<Output = Result<WriteOutcome, AwsError>> + Send;

    fn delete_key(
        &self,
        user_name: &str,
        access_key_id: &AccessKeyId,
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
        user_id: &UserId,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
}
