//! access-key-remediator: acts on AWS Config `access-keys-rotated` NON_COMPLIANT events by
//! deactivating over-age IAM access keys and, after a recorded grace period of inactivity,
//! deleting them.
//!
//! Layout: `domain::policy` decides (pure), `intake` reads events, `ports` names the AWS
//! calls and `adapters` makes them, `handler` wires one invocation together.

/// Serializes a unit-only enum as its `as_str()` name, so the JSON report and the log lines
/// spell each value from one place.
macro_rules! serialize_as_str {
    ($($type:ty),+) => {$(
        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    )+};
}

pub mod adapters;
pub mod credential_report;
pub mod domain;
pub mod handler;
pub mod intake;
pub mod ports;
pub mod report;
pub mod settings;

use aws_config::SdkConfig;

use crate::adapters::api_calls::ApiCallCounter;
use crate::adapters::config::AwsConfigInventory;
use crate::adapters::iam::AwsIam;
use crate::handler::Remediator;
use crate::settings::{Settings, SettingsError};

/// The remediator as deployed: IAM and Config through the AWS SDK.
pub type AwsRemediator = Remediator<AwsIam, AwsConfigInventory>;

impl AwsRemediator {
    /// Builds the SDK clients once, from a shared SDK configuration, each with the
    /// interceptor that counts its calls for the report's `apiCalls`.
    pub fn from_sdk_config(settings: Settings, sdk: &SdkConfig) -> Self {
        let api_calls = ApiCallCounter::default();
        let iam = aws_sdk_iam::config::Builder::from(sdk)
            .interceptor(api_calls.clone())
            .build();
        let config = aws_sdk_config::config::Builder::from(sdk)
            .interceptor(api_calls.clone())
            .build();
        Remediator::new(
            settings,
            AwsIam::new(aws_sdk_iam::Client::from_conf(iam)),
            AwsConfigInventory::new(aws_sdk_config::Client::from_conf(config)),
        )
        .with_api_call_counter(api_calls)
    }

    /// What a cold start does: settings from the environment, then the SDK's default chain
    /// (which honours AWS_ENDPOINT_URL, AWS_REGION, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE).
    pub async fn from_env() -> Result<Self, SettingsError> {
        let settings = Settings::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Self::from_sdk_config(settings, &sdk))
    }
}
