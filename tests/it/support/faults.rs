//! The fault proxy (tests/emulator/fault_proxy.py) from the test's side: started in front
//! of an emulator, configured per run, and read back for what it injected.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Controlled, sdk_config_for};

/// The fault kinds fault_proxy.py injects (its module doc says what each does).
pub const KINDS: [&str; 6] = [
    "throttling",
    "http-500",
    "http-503",
    "drop-before",
    "drop-after",
    "slow",
];

pub struct FaultProxy {
    control: Controlled,
    pub endpoint: String,
}

/// What the proxy counted: requests per operation and faults per kind and operation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FaultStats {
    pub requests: BTreeMap<String, u64>,
    pub faults: BTreeMap<String, BTreeMap<String, u64>>,
}

impl FaultStats {
    pub fn faults_of_kind(&self, kind: &str) -> u64 {
        self.faults.get(kind).map_or(0, |ops| ops.values().sum())
    }

    pub fn total_faults(&self) -> u64 {
        self.faults.values().flat_map(|ops| ops.values()).sum()
    }
}

/// One SDK operation (all attempts of one call) as the proxy saw it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SdkOperation {
    pub operation: String,
    pub attempts: u32,
    /// The error fault the last attempt got: the SDK gave up with that error.
    pub last_fault: Option<String>,
}

impl FaultProxy {
    /// A proxy in front of `upstream` that injects nothing until configured.
    pub fn start(upstream: &str) -> FaultProxy {
        let control = Controlled::start("fault_proxy.py", &["--upstream", upstream]);
        let endpoint = control.url.clone();
        FaultProxy { control, endpoint }
    }

    /// Faults `rate` of the requests from now on, drawn from `seed`, among `kinds`.
    pub fn configure(&mut self, rate: f64, seed: u64, kinds: &[&str]) {
        self.control.command(json!({
            "op": "configure", "rate": rate, "seed": seed.to_string(), "kinds": kinds,
        }));
    }

    pub fn stats(&mut self) -> FaultStats {
        let answer = self.control.command(json!({ "op": "stats" }));
        serde_json::from_value(answer).expect("stats")
    }

    /// The SDK operations seen since the previous call.
    pub fn take_operations(&mut self) -> Vec<SdkOperation> {
        let answer = self.control.command(json!({ "op": "operations" }));
        serde_json::from_value(answer["operations"].clone()).expect("operations")
    }

    pub fn command(&mut self, command: Value) -> Value {
        self.control.command(command)
    }
}

/// The SDK configuration Lambda gives the function in production (template.yaml sets
/// AWS_RETRY_MODE=adaptive and AWS_MAX_ATTEMPTS=8), calling `endpoint`.
pub fn production_sdk_config(endpoint: &str) -> SdkConfig {
    sdk_config_with_retries(endpoint, RetryConfig::adaptive().with_max_attempts(8))
}

/// The tests' SDK configuration (`sdk_config_for`) with these retries.
pub fn sdk_config_with_retries(endpoint: &str, retry: RetryConfig) -> SdkConfig {
    sdk_config_for(endpoint)
        .into_builder()
        .retry_config(retry)
        .build()
}
