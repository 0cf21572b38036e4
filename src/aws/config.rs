//! AWS Config over the SDK: the one place that calls Config. Used to turn a UserId into a
//! user name in one call (the caller falls back to IAM when Config has no answer), and to
//! learn what a rule whose event arrived is (DescribeConfigRules).

use aws_sdk_config::Client;
use aws_sdk_config::types::ResourceType;
use tracing::warn;

use crate::aws::error_chain;
use crate::aws::{AwsError, ConfigRules, UserInventory};
use crate::domain::ids::UserId;
use crate::domain::rules::{RuleLookup, RuleSource};

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

impl ConfigRules for AwsConfigInventory {
    async fn describe_rule(&self, rule_name: &str) -> RuleLookup {
        let described = self
            .client
            .describe_config_rules()
            .config_rule_names(rule_name)
            .send()
            .await;
        let output = match described {
            Ok(output) => output,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_config_rule_exception()) =>
            {
                return RuleLookup::NotFound;
            }
            Err(error) => {
                let error = AwsError {
                    service: "Config",
                    operation: "DescribeConfigRules",
                    source: Box::new(error),
                };
                warn!(rule = rule_name, error = %error_chain(&error), "cannot tell what the Config rule is; deciding by its name");
                return RuleLookup::Unknown;
            }
        };
        let Some(source) = output
            .config_rules()
            .iter()
            .find(|rule| rule.config_rule_name() == Some(rule_name))
            .and_then(|rule| rule.source().map(|source| (rule, source)))
        else {
            return RuleLookup::NotFound;
        };
        let (rule, source) = source;
        RuleLookup::Described(RuleSource {
            owner: source.owner().as_str().to_owned(),
            identifier: source.source_identifier().unwrap_or_default().to_owned(),
            max_access_key_age: rule.input_parameters().and_then(max_access_key_age),
        })
    }
}

/// The managed rule's `maxAccessKeyAge` from its input parameters, a JSON object whose values
/// Config keeps as strings (`{"maxAccessKeyAge":"90"}`); a number is accepted too.
fn max_access_key_age(input_parameters: &str) -> Option<u32> {
    let parameters: serde_json::Value = serde_json::from_str(input_parameters).ok()?;
    match parameters.get("maxAccessKeyAge")? {
        serde_json::Value::String(days) => days.trim().parse().ok(),
        serde_json::Value::Number(days) => days.as_u64().and_then(|d| u32::try_from(d).ok()),
        _ => None,
    }
}
