//! The fake AWS Config inventory: the cheap UserId-to-name lookup, with a record a test sets
//! by hand so it can lag behind IAM, as Config's does, or refuse, as a role without Config
//! access is refused; and the account's Config rules, which by default it has none of.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::faults::aws_error;
use super::lock;
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::{AwsError, ConfigRules, UserInventory};
use crate::domain::ids::UserId;
use crate::domain::rules::{RuleLookup, RuleSource};

const OPERATION: &str = "ListDiscoveredResources";

#[derive(Debug, Default)]
struct InventoryState {
    names: BTreeMap<UserId, String>,
    failures_left: u32,
    /// What DescribeConfigRules answers, by rule name; a rule not here is `NotFound`.
    rules: BTreeMap<String, RuleLookup>,
    api_calls: ApiCallCounter,
}

/// What AWS Config records of UserIds' names: set by hand, so it can be stale on purpose.
#[derive(Debug, Clone, Default)]
pub struct FakeInventory {
    state: Arc<Mutex<InventoryState>>,
}

impl FakeInventory {
    fn state(&self) -> MutexGuard<'_, InventoryState> {
        lock(&self.state)
    }

    /// Config recording no IAM user: every lookup answers `None`.
    pub fn empty() -> FakeInventory {
        FakeInventory::default()
    }

    /// Config recording these `(user_id, name)` pairs.
    #[track_caller]
    pub fn recording<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> FakeInventory {
        let inventory = FakeInventory::empty();
        for (user_id, name) in pairs {
            inventory.record(user_id, name);
        }
        inventory
    }

    #[track_caller]
    pub fn record(&self, user_id: &str, name: &str) -> &FakeInventory {
        let user_id = UserId::parse(user_id).expect("a valid UserId");
        self.state().names.insert(user_id, name.to_owned());
        self
    }

    /// Every lookup fails (AccessDeniedException, as when the role may not read Config).
    pub fn failing(self) -> FakeInventory {
        // More lookups than any test makes.
        self.failing_times(u32::MAX)
    }

    /// The next `times` lookups fail; those after are answered.
    pub fn failing_times(self, times: u32) -> FakeInventory {
        self.state().failures_left = times;
        self
    }

    /// The AWS-managed ACCESS_KEYS_ROTATED under `rule_name`, with this `maxAccessKeyAge`.
    pub fn with_managed_rule(
        self,
        rule_name: &str,
        max_access_key_age: Option<u32>,
    ) -> FakeInventory {
        let source = RuleSource {
            owner: "AWS".to_owned(),
            identifier: crate::domain::rules::ACCESS_KEYS_ROTATED.to_owned(),
            max_access_key_age,
        };
        self.with_rule(rule_name, RuleLookup::Described(source))
    }

    /// What DescribeConfigRules answers for `rule_name`.
    pub fn with_rule(self, rule_name: &str, lookup: RuleLookup) -> FakeInventory {
        self.state().rules.insert(rule_name.to_owned(), lookup);
        self
    }

    pub fn with_api_calls(self, counter: ApiCallCounter) -> FakeInventory {
        self.state().api_calls = counter;
        self
    }
}

impl UserInventory for FakeInventory {
    async fn user_name_for_id(&self, user_id: &UserId) -> Result<Option<String>, AwsError> {
        let mut state = self.state();
        state.api_calls.record(OPERATION);
        if state.failures_left == 0 {
            return Ok(state.names.get(user_id).cloned());
        }
        state.failures_left -= 1;
        let message = format!("User is not authorized to perform: config:{OPERATION}");
        Err(aws_error(
            "Config",
            OPERATION,
            "AccessDeniedException",
            message,
        ))
    }
}

impl ConfigRules for FakeInventory {
    async fn describe_rule(&self, rule_name: &str) -> RuleLookup {
        let state = self.state();
        state.api_calls.record("DescribeConfigRules");
        state
            .rules
            .get(rule_name)
            .cloned()
            .unwrap_or(RuleLookup::NotFound)
    }
}
