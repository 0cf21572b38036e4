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
pub mod findings;
pub mod iam;
pub mod notices;
pub mod organizations;
pub mod run_store;

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::future::Future;

use thiserror::Error;

use time::OffsetDateTime;

use crate::domain::ids::{AccessKeyId, UserId};
use crate::domain::notice::{KeyCall, Notice};
use crate::domain::rules::RuleLookup;
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

/// An error and its sources, outermost first: "IAM TagUser failed: service error: …".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut previous = text.clone();
    let mut source = error.source();
    while let Some(cause) = source {
        // The SDK's modelled errors repeat their message as their own cause.
        let message = cause.to_string();
        if message != previous {
            text.push_str(": ");
            text.push_str(&message);
        }
        previous = message;
        source = cause.source();
    }
    text
}

/// Everything one account's IAM client does for the function: reads and writes.
pub trait Iam: IamDirectory + IamWrites {}
impl<T: IamDirectory + IamWrites> Iam for T {}

/// Everything one account's Config client does for the function.
pub trait Config: UserInventory + ConfigRules {}
impl<T: UserInventory + ConfigRules> Config for T {}

/// Everything one account's finding and notice services do for it: Security Hub, Access
/// Analyzer, CloudTrail (a key's recent callers) and SNS and SES (owner notices, sent with the
/// home account's clients).
pub trait Findings: FindingsWorkflow + UnusedAccessFindings + KeyActivity + Notices {}
impl<T: FindingsWorkflow + UnusedAccessFindings + KeyActivity + Notices> Findings for T {}

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

    /// ListRoleTags: the value of tag `key` on role `role_name`, `None` when the role has no
    /// such tag or there is no such role.
    fn role_tag(
        &self,
        role_name: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
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

/// What Config says a rule is (DescribeConfigRules). Denied or failed is `Unknown`, which the
/// caller logs and decides by name; only a rule that is not there is `NotFound`.
pub trait ConfigRules: Send + Sync {
    fn describe_rule(&self, rule_name: &str) -> impl Future<Output = RuleLookup> + Send;
}

/// Security Hub's workflow status we set on a finding we acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum WorkflowStatus {
    /// Nothing of the finding's is left to do: no key of the user is active and over limits.
    Resolved,
    /// The action is pending (the cap reached), and the note says what remains.
    Notified,
}

impl WorkflowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Resolved => "RESOLVED",
            WorkflowStatus::Notified => "NOTIFIED",
        }
    }
}

/// One BatchUpdateFindings of one finding: its workflow status and a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingUpdate {
    pub finding_id: String,
    pub product_arn: String,
    pub status: WorkflowStatus,
    pub note: String,
}

/// The note's `UpdatedBy`, which Security Hub shows beside the note.
pub const NOTE_AUTHOR: &str = "access-key-remediator";

/// What the function writes to Security Hub.
pub trait FindingsWorkflow: Send + Sync {
    /// Sets the finding's workflow status and note. A finding Security Hub reports as
    /// unprocessed is an error, with its error code.
    fn update_finding(
        &self,
        update: &FindingUpdate,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// An Access Analyzer finding, as GetFindingV2 tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedKeyFinding {
    pub finding_type: String,
    pub status: String,
    /// The user ARN the finding is about.
    pub resource: Option<String>,
    /// The key of an `UnusedIAMUserAccessKey` finding.
    pub access_key_id: Option<AccessKeyId>,
    pub last_accessed: Option<OffsetDateTime>,
}

/// What the function reads from IAM Access Analyzer.
pub trait UnusedAccessFindings: Send + Sync {
    /// `None` when the analyzer no longer has the finding.
    fn unused_access_finding(
        &self,
        analyzer_arn: &str,
        finding_id: &str,
    ) -> impl Future<Output = Result<Option<UnusedKeyFinding>, AwsError>> + Send;

    /// The analyzer's `unusedAccessAge` in days: how long unused before it reports a key.
    fn unused_access_age_days(
        &self,
        analyzer_arn: &str,
    ) -> impl Future<Output = Result<Option<u32>, AwsError>> + Send;
}

/// What CloudTrail's event history says a key was used for lately.
pub trait KeyActivity: Send + Sync {
    /// The key's most recent events (LookupEvents with LookupAttribute `AccessKeyId`), newest
    /// first, at most `max`; empty when the trail holds none. One call: the caller keeps
    /// LookupEvents within its limit of 2 requests a second per account.
    fn recent_calls(
        &self,
        access_key_id: &AccessKeyId,
        max: usize,
    ) -> impl Future<Output = Result<Vec<KeyCall>, AwsError>> + Send;
}

/// Where owner notices go: an SNS topic (with the notice's message attributes), and an
/// owner's inbox through SES. Each answers the service's MessageId.
pub trait Notices: Send + Sync {
    fn publish(
        &self,
        topic_arn: &str,
        notice: &Notice,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;

    fn email(
        &self,
        from: &str,
        to: &str,
        notice: &Notice,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;
}
