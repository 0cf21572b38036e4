//! The notice settings: where owner notices go (NOTICE_TOPIC_ARN, SES_FROM_ADDRESS) and who
//! owns a user (OWNER_TAG_KEY).

use super::{Environment, SettingsError};
use crate::domain::ids::AccountId;

/// Owner notices (a user warned, or a key deactivated or deleted): NOTICE_TOPIC_ARN,
/// OWNER_TAG_KEY, SES_FROM_ADDRESS. Without a topic, no notice is composed or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeSettings {
    /// The SNS topic each notice is published to, in the function's own account.
    pub topic_arn: Option<String>,
    /// The user tag naming the user's owner (matched ignoring case, as IAM holds tag keys).
    pub owner_tag_key: String,
    /// The verified SES identity owners' notices are emailed from; unset, none is emailed.
    pub ses_from: Option<String>,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        NoticeSettings {
            topic_arn: None,
            owner_tag_key: "owner".to_owned(),
            ses_from: None,
        }
    }
}

pub(super) fn read_notices<F: Fn(&str) -> Option<String>>(
    env: &Environment<F>,
    defaults: NoticeSettings,
) -> Result<NoticeSettings, SettingsError> {
    let topic_arn = env.matching(
        "NOTICE_TOPIC_ARN",
        is_topic_arn,
        "an SNS topic ARN, arn:<partition>:sns:<region>:<account>:<topic name>",
    )?;
    let owner_tag_key = env.matching(
        "OWNER_TAG_KEY",
        |key| (1..=128).contains(&key.len()) && !key.to_ascii_lowercase().starts_with("aws:"),
        "an IAM tag key of 1 to 128 characters, not starting with aws:",
    )?;
    let ses_from = env.matching(
        "SES_FROM_ADDRESS",
        crate::domain::notice::is_email,
        "an email address (an identity verified in SES), such as security@example.com",
    )?;
    Ok(NoticeSettings {
        topic_arn,
        owner_tag_key: owner_tag_key.unwrap_or(defaults.owner_tag_key),
        ses_from,
    })
}

/// `arn:<partition>:sns:<region>:<12-digit account>:<name>`, the name SNS's 1 to 256 of
/// letters, digits, `-` and `_` (a FIFO topic's with `.fifo`).
fn is_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let [prefix, partition, service, region, account, name] = parts[..] else {
        return false;
    };
    let name_ok = (1..=256).contains(&name.len())
        && name
            .trim_end_matches(".fifo")
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    prefix == "arn"
        && partition.starts_with("aws")
        && service == "sns"
        && !region.is_empty()
        && AccountId::parse(account).is_ok()
        && name_ok
}
