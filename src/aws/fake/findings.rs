//! The fake Security Hub and IAM Access Analyzer: the finding updates the function wrote, and
//! the unused-access findings and analyzers a test sets up, with failures on demand. And the
//! notice services: CloudTrail's events per key (answered under LookupEvents' limit of 2
//! requests a second, as AWS does: a third within a second is throttled), and the notices
//! published to SNS and emailed through SES.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::faults::aws_error;
use super::lock;
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::{
    AwsError, FindingUpdate, FindingsWorkflow, KeyActivity, Notices, UnusedAccessFindings,
    UnusedKeyFinding,
};
use crate::domain::ids::AccessKeyId;
use crate::domain::notice::{KeyCall, Notice};

/// LookupEvents' account limit: this many requests in any second.
const LOOKUPS_PER_SECOND: usize = 2;

/// Timers wake a little early or late; a window this much under a second still catches a
/// caller that ignores the limit.
const LOOKUP_WINDOW: Duration = Duration::from_millis(950);

/// A notice emailed through SES.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    pub from: String,
    pub to: String,
    pub notice: Notice,
}

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
    /// CloudTrail events by access key id, newest first.
    trail: BTreeMap<String, Vec<KeyCall>>,
    /// When each LookupEvents was answered, and how many were throttled.
    lookups: Vec<Instant>,
    throttled: u32,
    published: Vec<(String, Notice)>,
    emails: Vec<SentEmail>,
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

    /// Every call of `operation` (BatchUpdateFindings, GetFindingV2, GetAnalyzer,
    /// LookupEvents, Publish, SendEmail) fails with `code`.
    pub fn failing(self, operation: &'static str, code: &'static str) -> FakeFindings {
        self.state().failing.insert(operation, code);
        self
    }

    /// The updates written, in order.
    pub fn updates(&self) -> Vec<FindingUpdate> {
        self.state().updates.clone()
    }

    /// CloudTrail's events made with `access_key_id`, newest first.
    pub fn with_trail(self, access_key_id: &str, calls: Vec<KeyCall>) -> FakeFindings {
        self.state().trail.insert(access_key_id.to_owned(), calls);
        self
    }

    /// The notices published, with their topic, in order.
    pub fn published(&self) -> Vec<(String, Notice)> {
        self.state().published.clone()
    }

    pub fn emails(&self) -> Vec<SentEmail> {
        self.state().emails.clone()
    }

    /// The LookupEvents answered, and those throttled for exceeding 2 a second.
    pub fn lookups(&self) -> (usize, u32) {
        let state = self.state();
        (state.lookups.len(), state.throttled)
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

impl KeyActivity for FakeFindings {
    async fn recent_calls(
        &self,
        access_key_id: &AccessKeyId,
        max: usize,
    ) -> Result<Vec<KeyCall>, AwsError> {
        let mut state = self.call("CloudTrail", "LookupEvents")?;
        let now = Instant::now();
        let recent = state
            .lookups
            .iter()
            .filter(|at| now.duration_since(**at) < LOOKUP_WINDOW)
            .count();
        if recent >= LOOKUPS_PER_SECOND {
            state.throttled += 1;
            let message = "Rate exceeded".to_owned();
            return Err(aws_error(
                "CloudTrail",
                "LookupEvents",
                "ThrottlingException",
                message,
            ));
        }
        state.lookups.push(now);
        let calls = state.trail.get(access_key_id.as_str()).cloned();
        Ok(calls.unwrap_or_default().into_iter().take(max).collect())
    }
}

impl Notices for FakeFindings {
    async fn publish(&self, topic_arn: &str, notice: &Notice) -> Result<String, AwsError> {
        let mut state = self.call("SNS", "Publish")?;
        state.published.push((topic_arn.to_owned(), notice.clone()));
        Ok(format!("fake-sns-{}", state.published.len()))
    }

    async fn email(&self, from: &str, to: &str, notice: &Notice) -> Result<String, AwsError> {
        let mut state = self.call("SES", "SendEmail")?;
        let (from, to, notice) = (from.to_owned(), to.to_owned(), notice.clone());
        state.emails.push(SentEmail { from, to, notice });
        Ok(format!("fake-ses-{}", state.emails.len()))
    }
}
