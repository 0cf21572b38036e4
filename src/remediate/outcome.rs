//! What a piece of work came to: the report of what was done, and, when some of it could not
//! be done, why. Failures are data here; only the handler turns one into a Lambda error.

use thiserror::Error;

use crate::aws::AwsError;
pub use crate::aws::error_chain;
use crate::domain::ids::{AccountId, UserId};
use crate::domain::nomination::ReportError;
use crate::report::Report;

/// Why work could not be (fully) done. Each is worth a Lambda retry, or, for an operator's
/// mistake, an error all the same so that the Errors alarm fires and the dead-letter queue
/// keeps the event for after the fix.
#[derive(Debug, Error)]
pub enum RemediationError {
    #[error("could not resolve UserId {user_id} to a user")]
    Resolve {
        user_id: UserId,
        #[source]
        source: AwsError,
    },
    #[error("could not read the keys and tags of user {user_name}")]
    Read {
        user_name: String,
        #[source]
        source: AwsError,
    },
    #[error("could not get the IAM credential report")]
    CredentialReport(#[source] AwsError),
    #[error(transparent)]
    UnreadableReport(#[from] ReportError),
    #[error(
        "the event is for account {account}, but this function runs in {home} and MEMBER_ROLE_NAME \
         is not set, so it may act only in its own account; nothing was changed"
    )]
    ForeignAccount { account: AccountId, home: AccountId },
    #[error(
        "the event is for account {account}, but the function's own account is unknown (its \
         invoked ARN is not a Lambda function ARN, and AWS_ACCOUNT_ID is unset), so it cannot \
         tell whether {account} is its own; nothing was changed"
    )]
    HomeUnknown { account: AccountId },
    /// Some calls failed after the SDK's retries; everything else was still carried out.
    #[error("{failed} AWS call(s) failed; everything else was carried out")]
    Incomplete {
        failed: usize,
        #[source]
        first: AwsError,
    },
    #[error("could not read Access Analyzer finding {finding_id}")]
    AnalyzerFinding {
        finding_id: String,
        #[source]
        source: AwsError,
    },
    /// Everything else was done; only the finding still shows its old workflow status.
    #[error("the remediation was done, but Security Hub finding {finding_id} was not updated")]
    FindingUpdate {
        finding_id: String,
        #[source]
        source: AwsError,
    },
    /// Organizations would not say what mode an account runs in (ORG_MODE_TAGS=on): nothing
    /// was done there, since guessing a mode could mean acting above the one intended.
    #[error("could not read account {account}'s place and mode tags in AWS Organizations")]
    AccountMode {
        account: AccountId,
        #[source]
        source: AwsError,
    },
    #[error("could not read account {account}'s role ceiling (ListRoleTags on the member role)")]
    Ceiling {
        account: AccountId,
        #[source]
        source: AwsError,
    },
    /// The walk of the organisation failed: no account was planned.
    #[error(
        "could not discover the organisation's accounts: the central account must be the \
         management account or a delegated administrator allowed ListRoots, \
         ListOrganizationalUnitsForParent, ListAccountsForParent and ListTagsForResource \
         (docs/deploy.md)"
    )]
    Discovery(#[source] AwsError),
    /// The sweep's items or results could not be written to or read from SWEEP_BUCKET.
    #[error("could not write or read the organisation sweep's items or results in S3")]
    RunStore(#[source] AwsError),
    /// What the bucket holds is not what the state machine writes.
    #[error("the organisation sweep's {what} in S3 is not what Step Functions writes: {message}")]
    RunUnreadable { what: &'static str, message: String },
    /// SWEEP_BUCKET is set, but no S3 client was built.
    #[error("SWEEP_BUCKET is set, but no S3 client is configured")]
    NoRunStore,
    /// ORG_MODE_TAGS or SWEEP_ORGANIZATION is on, but no Organizations client was built.
    #[error(
        "ORG_MODE_TAGS or SWEEP_ORGANIZATION is on, but no AWS Organizations client is configured"
    )]
    NoOrganization,
    #[error("the sweep of {failed} account(s) failed, first {account}")]
    Accounts {
        failed: usize,
        account: AccountId,
        #[source]
        first: Box<RemediationError>,
    },
}

/// The report, whole or partial, and the failure that kept it from being whole.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub failure: Option<RemediationError>,
}

impl Outcome {
    pub fn done(report: Report) -> Self {
        Outcome {
            report,
            failure: None,
        }
    }

    /// The report of work during which these calls failed: incomplete if any did.
    pub fn with_failed_calls(report: Report, failures: Vec<AwsError>) -> Self {
        let failed = failures.len();
        let failure = failures
            .into_iter()
            .next()
            .map(|first| RemediationError::Incomplete { failed, first });
        Outcome { report, failure }
    }
}
