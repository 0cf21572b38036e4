//! The failures a test injects into the fake IAM, and the errors every fake answers with:
//! each an `AwsError` whose source carries the service's own error code and message, as the
//! SDK's would, so a test can assert on the code.

use std::fmt;

use super::{ACCOUNT, TAGS_PER_USER, known_operation};
use crate::aws::AwsError;

/// The IAM errors a fault answers with; each variant's name is IAM's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    AccessDenied,
    /// HTTP 500, on every attempt the SDK made.
    ServiceFailure,
    Throttling,
    /// Answered as the adapter answers it: not as an error.
    NoSuchEntity,
    ConcurrentModification,
    LimitExceeded,
}

impl ErrorKind {
    /// The error IAM answers `operation` (about `user`, if any) with, in IAM's words.
    pub(super) fn error(self, operation: &'static str, user: Option<&str>) -> AwsError {
        let on = user.map_or("*".to_owned(), |user| format!("user {user}"));
        let message = match self {
            ErrorKind::AccessDenied => format!(
                "User: arn:aws:sts::{ACCOUNT}:assumed-role/remediator/remediator is not \
                 authorized to perform: iam:{operation} on resource: {on}"
            ),
            ErrorKind::ServiceFailure => "Request processing has failed due to some unknown \
                error, exception or failure."
                .to_owned(),
            ErrorKind::Throttling => "Rate exceeded".to_owned(),
            ErrorKind::NoSuchEntity => format!("The {on} cannot be found."),
            ErrorKind::ConcurrentModification => {
                format!(
                    "Cannot perform the operation on {on} because of a concurrent modification."
                )
            }
            ErrorKind::LimitExceeded => {
                format!("Cannot exceed quota for TagsPerUser: {TAGS_PER_USER}")
            }
        };
        aws_error("IAM", operation, &format!("{self:?}"), message)
    }
}

/// The source of each `AwsError` the fakes return: the service's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeError {
    code: String,
    message: String,
}

impl FakeError {
    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error code of an `AwsError` a fake returned; `None` for any other error.
    pub fn code_of(error: &AwsError) -> Option<&str> {
        Some(error.source.downcast_ref::<FakeError>()?.code())
    }
}

impl fmt::Display for FakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for FakeError {}

pub(super) fn aws_error(
    service: &'static str,
    operation: &'static str,
    code: &str,
    message: String,
) -> AwsError {
    let code = code.to_owned();
    let source = Box::new(FakeError { code, message });
    AwsError {
        service,
        operation,
        source,
    }
}

/// An injected failure: `kind` for calls of `operation` (about `user`, if set), always unless
/// `once` or `times` limits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    operation: &'static str,
    user: Option<String>,
    kind: ErrorKind,
    /// `None`: always.
    left: Option<u32>,
}

impl Fault {
    #[track_caller]
    pub fn on(operation: &str, kind: ErrorKind) -> Fault {
        Fault {
            operation: known_operation(operation),
            user: None,
            kind,
            left: None,
        }
    }

    /// Only calls about this user (ListRoleTags: this role); ListUsers and the credential
    /// report are about none.
    pub fn for_user(mut self, user: &str) -> Fault {
        self.user = Some(user.to_owned());
        self
    }

    pub fn once(self) -> Fault {
        self.times(1)
    }

    pub fn times(mut self, times: u32) -> Fault {
        self.left = Some(times);
        self
    }

    fn matches(&self, operation: &str, user: Option<&str>) -> bool {
        let about = self.user.is_none() || self.user.as_deref() == user;
        self.operation == operation && about && self.left != Some(0)
    }
}

/// Fires the first of `faults` that matches this call, using up one of its times: the kind
/// of error the call answers with, if any.
pub(super) fn fire(faults: &mut [Fault], operation: &str, user: Option<&str>) -> Option<ErrorKind> {
    let fault = faults
        .iter_mut()
        .find(|fault| fault.matches(operation, user))?;
    if let Some(left) = &mut fault.left {
        *left -= 1;
    }
    Some(fault.kind)
}
