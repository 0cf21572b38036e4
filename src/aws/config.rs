//! AWS Config over the SDK: the one place that calls Config. Used only to turn a UserId
//! into a user name in one call; the caller falls back to IAM when Config has no answer.

use aws_sdk_config::Client;
use aws_sdk_config::types::ResourceType;

use crate::aws::{AwsError, UserInventory};
use crate::domain::ids::UserId;

#[derive(Debug, Clone)]
pub struct AwsConfigInventory {
    client: Client,
}

impl AwsConfigInventory {
    pub fn new(client: Client) -> Self {
        AwsConfigInventory { client }
    }
}

impl UserInventory for AwsConfigInventory {
    async fn user_name_for_id(&self, user_id: &UserId) -> Result<Option<String>, AwsError> {
        let output = self
            .client
            .list_discovered_resources()
            .resource_type(ResourceType::User)
            .resource_ids(user_id.as_str())
            .send()
            .await
            .map_err(|error| AwsError {
                service: "Config",
                operation: "ListDiscoveredResources",
                source: Box::new(error),
            })?;
        Ok(output
            .resource_identifiers()
            .iter()
            .find(|resource| resource.resource_id() == Some(user_id.as_str()))
            .and_then(|resource| resource.resource_name())
            .map(str::to_owned))
    }
}
