//! What IAM says about one user at one moment: the keys, their last use, and the user's tags.
//! The policy decides on exactly one such snapshot.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::ids::AccessKeyId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

/// One access key as IAM reported it in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: AccessKeyId,
    pub status: KeyStatus,
    pub created: OffsetDateTime,
    /// `None` when IAM has no record of a use.
    pub last_used: Option<OffsetDateTime>,
    /// The service and region of that last use, as GetAccessKeyLastUsed names them (`None`
    /// when never used, or IAM's `N/A`): what an owner's notice says of where the key works.
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
}

/// One user's keys (each with its last use) and tags, read together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSnapshot {
    pub keys: Vec<AccessKey>,
    pub tags: BTreeMap<String, String>,
}
