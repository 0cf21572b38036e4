//! The fake Security Hub and IAM Access Analyzer: the finding updates the function wrote, and
//! the unused-access findings and analyzers a test sets up, with failures on demand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::faults::aws_error;
use super::lock;
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::{
    AwsError, FindingUpdate, FindingsWorkflow, UnusedAccessFindings, UnusedKeyFinding,
};

#[derive(Debug, Default)]
struct FindingsState {
    updates: Vec<FindingUpdate>,
    /// By (analyzer ARN, finding id).
    findings: BTreeMap<(String, String), UnusedKeyFinding>,
    /// Each analyzer's `unusedAccessAge`, by ARN.
    analyzers: BTreeMap<String, u32>,
    /// Operations that fail, with the error code they fail with.
    failing: BTreeMap<&'static str, &'static str>,
    api_calls: ApiCallCounter,
}

/// What Security Hub and Access Analyzer hold; a clone shares them.
#[derive(Debug, Clone, Default)]
pub struct FakeFindings {
    state: Arc<Mutex<FindingsState>>,
}

impl FakeFindings {
    fn state(&self) -> MutexGuard<'_, FindingsState> {
        lock(&self.state)
    }

    pub fn with_api_calls(self, counter: ApiCallCounter) -> FakeFindings {
        self.state().api_calls = counter;
        self
    }

    /// An analyzer reporting keys unused for `days`.
    pub fn with_analyzer(self, analyzer_arn: &str, days: u32) -> FakeFindings {
        self.state().analyzers.insert(analyzer_arn.to_owned(), days);
        self
    }

    pub fn with_finding(
        self,
        analyzer_arn: &str,
        finding_id: &str,
        finding: UnusedKeyFinding,
    ) -> FakeFindings {
        let key = (analyzer_arn.to_owned(), finding_id.to_owned());
        self.state().findings.insert(key, finding);
        self
    }

    /// Every call of `operation` (BatchUpdateFindings, GetFindingV2, GetAnalyzer) fails with
    /// `code`.
    pub fn failing(self, operation: &'static str, code: &'static str) -> FakeFindings {
        self.state().failing.insert(operation, code);
        self
    }

    /// The updates written, in order.
    pub fn updates(&self) -> Vec<FindingUpdate> {
        self.state().updates.clone()
    }

    fn call(
        &self,
        service: &'static str,
        operation: &'static str,
    ) -> Result<MutexGuard<'_, FindingsState>, AwsError> {
        let state = self.state();
        state.api_calls.record(operation);
        match state.failing.get(operation) {
            Some(code) => Err(aws_error(
                service,
                operation,
                code,
                format!("injected {code}"),
            )),
            None => Ok(state),
        }
    }
}

impl FindingsWorkflow for FakeFindings {
    async fn update_finding(&self, update: &FindingUpdate) -> Result<(), AwsError> {
        self.call("SecurityHub", "BatchUpdateFindings")?
            .updates
            .push(update.clone());
        Ok(())
    }
}

impl UnusedAccessFindings for FakeFindings {
    async fn unused_access_finding(
        &self,
        analyzer_arn: &str,
        finding_id: &str,
    ) -> Result<Option<UnusedKeyFinding>, AwsError> {
        let state = self.call("AccessAnalyzer", "GetFindingV2")?;
        let key = (analyzer_arn.to_owned(), finding_id.to_owned());
        Ok(state.findings.get(&key).cloned())
    }

    async fn unused_access_age_days(&self, analyzer_arn: &str) -> Result<Option<u32>, AwsError> {
        let state = self.call("AccessAnalyzer", "GetAnalyzer")?;
        Ok(state.analyzers.get(analyzer_arn).copied())
    }
}
