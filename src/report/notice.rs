//! What the report says of each user's owner notice: published or not, emailed or not, and
//! why not. A send is claimed only when the service accepted it.

use serde::Serialize;

/// What became of one user's notice: `sent` only when SNS accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeReport {
    pub sent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The email to the owner through SES, when SES_FROM_ADDRESS is set and the owner is an
    /// email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailReport {
    pub to: String,
    pub sent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl NoticeReport {
    /// A send that was tried and failed: the publish, or the email.
    pub fn failed(&self) -> bool {
        self.error.is_some()
            || self
                .email
                .as_ref()
                .is_some_and(|email| email.error.is_some())
    }
}
