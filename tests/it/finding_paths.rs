//! The pipeline and the handler against the in-memory fakes (`aws::fake`) for the ways in that
//! need more than IAM: a Config rule recognised by what it is (`config_rule`); a Security Hub
//! finding closed afterwards (`security_hub`), and its event delivered again
//! (`security_hub_redelivery`); and an Access Analyzer finding naming one unused key
//! (`access_analyzer`). Each case builds a fresh account (IAM, Config's rules, Security Hub
//! and Access Analyzer) and checks the report, the Lambda result, the IAM writes, the finding
//! updates and the calls made.
//!
//! This file holds what they share: the account, its users, and the events, written
//! inline from the documented formats.

mod access_analyzer;
mod config_rule;
mod security_hub;
mod security_hub_redelivery;

use std::sync::{Arc, Mutex};

use access_key_remediator::aws::accounts::{AccountClients, MemberAccounts};
use access_key_remediator::aws::api_calls::ApiCallCounter;
use access_key_remediator::aws::fake::{FakeFindings, FakeIam, FakeInventory, Write};
use access_key_remediator::domain::marker::{STATE_TAG_KEY, format_instant};
use access_key_remediator::domain::policy::{Mode, Policy};
use access_key_remediator::domain::user::KeyStatus;
use access_key_remediator::handler::{HandlerError, handle};
use access_key_remediator::remediate::Remediator;
use access_key_remediator::remediate::outcome::{Outcome as PipelineOutcome, RemediationError};
use access_key_remediator::report::{Action, ApiCalls, Report};
use access_key_remediator::settings::{MemberRole, Settings};
use access_key_remediator::triggers;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::support::{compliance_event, home, invocation};

const HOME: &str = "123456789012";
const MEMBER: &str = "210987654321";
const MEMBER_ROLE: &str = "AccessKeyRemediatorMember";

/// The UserId events/non-compliant-alice.json names.
const ALICE_ID: &str = "AIDAZ4ALICEEXAMPLE001";
const OLD_KEY: &str = "AKIAZ4ALICEOLDKEY0001";
const NEWER_KEY: &str = "AKIAZ4ALICENEWKEY0002";

// ---------------------------------------------------------------------------------------------
// Settings and users
// ---------------------------------------------------------------------------------------------

/// The deployed settings in `mode`, with MAX_ACTIONS_PER_INVOCATION=`cap` where given.
fn settings(mode: Mode, cap: Option<u32>) -> Settings {
    let defaults = Policy::default();
    Settings {
        policy: Policy {
            mode,
            max_actions_per_invocation: cap.unwrap_or(defaults.max_actions_per_invocation),
            ..defaults
        },
        ..Settings::default()
    }
}

fn days_ago(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - Duration::days(days)
}

fn alice(iam: &FakeIam) {
    iam.add_user("alice", ALICE_ID);
}

/// alice with one key, created `age` days ago, last used `used` days ago (or never).
fn alice_with_key(iam: &FakeIam, key: &str, status: KeyStatus, age: i64, used: Option<i64>) {
    if iam.user("alice").is_none() {
        alice(iam);
    }
    iam.add_key("alice", key, status, days_ago(age), used.map(days_ago));
}

fn over_age_active(iam: &FakeIam) {
    alice_with_key(iam, OLD_KEY, KeyStatus::Active, 200, None);
}

fn two_over_age_keys(iam: &FakeIam) {
    alice_with_key(iam, OLD_KEY, KeyStatus::Active, 200, None);
    alice_with_key(iam, NEWER_KEY, KeyStatus::Active, 150, None);
}

/// Deactivated by us 5 days ago: inside the default 14-day grace period.
fn inactive_pending(iam: &FakeIam) {
    alice_with_key(iam, OLD_KEY, KeyStatus::Inactive, 200, None);
    let clock = format!("{OLD_KEY}={}", format_instant(days_ago(5)));
    iam.set_tag("alice", STATE_TAG_KEY, &clock);
}

fn within_limits(iam: &FakeIam) {
    alice_with_key(iam, OLD_KEY, KeyStatus::Active, 10, Some(1));
}

fn exempt(iam: &FakeIam) {
    over_age_active(iam);
    iam.set_tag("alice", &Policy::default().exempt_tag_key, "true");
}

fn no_user(_: &FakeIam) {}

// ---------------------------------------------------------------------------------------------
// The account
// ---------------------------------------------------------------------------------------------

/// One account's fakes; clones share what they hold, so a test keeps these to look at what
/// the function did through its own.
#[derive(Clone, Default)]
struct Fakes {
    iam: FakeIam,
    inventory: FakeInventory,
    findings: FakeFindings,
}

impl Fakes {
    /// IAM seeded by `seed`, Config recording its users, no Config rule (DescribeConfigRules
    /// answers NotFound), no finding and no analyzer.
    fn seeded(seed: impl FnOnce(&FakeIam)) -> Fakes {
        let iam = FakeIam::new();
        seed(&iam);
        let inventory = iam.inventory();
        Fakes {
            iam,
            inventory,
            findings: FakeFindings::default(),
        }
    }

    fn rules(self, add: impl FnOnce(FakeInventory) -> FakeInventory) -> Fakes {
        Fakes {
            inventory: add(self.inventory),
            ..self
        }
    }

    fn findings(self, add: impl FnOnce(FakeFindings) -> FakeFindings) -> Fakes {
        Fakes {
            findings: add(self.findings),
            ..self
        }
    }

    fn counted_by(self, calls: &ApiCallCounter) -> Fakes {
        Fakes {
            iam: self.iam.with_api_calls(calls.clone()),
            inventory: self.inventory.with_api_calls(calls.clone()),
            findings: self.findings.with_api_calls(calls.clone()),
        }
    }

    fn clients(&self) -> AccountClients<FakeIam, FakeInventory, FakeFindings> {
        AccountClients {
            iam: self.iam.clone(),
            inventory: self.inventory.clone(),
            findings: self.findings.clone(),
        }
    }

    /// The IAM writes applied, as `deactivate alice AKIA…`, `tag alice <key>`, ….
    fn writes(&self) -> Vec<String> {
        self.iam.writes().iter().map(described).collect()
    }
}

fn described(write: &Write) -> String {
    match write {
        Write::Deactivated { user, key } => format!("deactivate {user} {key}"),
        Write::Deleted { user, key } => format!("delete {user} {key}"),
        Write::Tagged { user, key, .. } => format!("tag {user} {key}"),
        Write::Untagged { user, keys } => format!("untag {user} {}", keys.join(",")),
    }
}

/// The writes that deactivate `key` of alice and start its grace clock.
fn deactivation_of(key: &str) -> Vec<String> {
    vec![
        format!("deactivate alice {key}"),
        format!("tag alice {STATE_TAG_KEY}"),
    ]
}

/// The function's home account, and a member account reached through the member role when
/// one is given; one counter sees every call either makes.
struct Account {
    home: Fakes,
    member: Fakes,
    calls: ApiCallCounter,
    /// The role ARNs the function asked member clients for.
    roles: Arc<Mutex<Vec<String>>>,
    remediator: Remediator<FakeIam, FakeInventory, FakeFindings>,
}

impl Account {
    fn new(settings: Settings, home: Fakes) -> Account {
        Account::with_member(settings, home, None)
    }

    /// As `new`, with MEMBER_ROLE_NAME set and `member` the account it reaches.
    fn organisation(settings: Settings, home: Fakes, member: Fakes) -> Account {
        let settings = Settings {
            member_role: Some(MemberRole {
                name: MEMBER_ROLE.to_owned(),
                external_id: None,
            }),
            ..settings
        };
        Account::with_member(settings, home, Some(member))
    }

    fn with_member(settings: Settings, home: Fakes, member: Option<Fakes>) -> Account {
        let calls = ApiCallCounter::default();
        let home = home.counted_by(&calls);
        let member = member.unwrap_or_default().counted_by(&calls);
        let roles = Arc::new(Mutex::new(Vec::new()));
        let mut remediator =
            Remediator::new(settings, home.clients()).with_api_call_counter(calls.clone());
        if remediator.settings.member_role.is_some() {
            let (reached, asked) = (member.clone(), Arc::clone(&roles));
            remediator = remediator.with_member_accounts(MemberAccounts::new(Box::new(
                move |role_arn: String| {
                    asked.lock().unwrap().push(role_arn);
                    let clients = reached.clients();
                    Box::pin(async move { clients })
                },
            )));
        }
        Account {
            home,
            member,
            calls,
            roles,
            remediator,
        }
    }

    /// One invocation through the handler, as Lambda makes it.
    async fn invoke(&self, payload: Value) -> Result<Report, HandlerError> {
        handle(&self.remediator, invocation(payload)).await
    }

    /// The pipeline alone: the report, even of work that failed, and the failure.
    async fn run(&self, payload: Value) -> (Option<Report>, Option<RemediationError>) {
        let work = triggers::classify(payload).expect("the test's events are well formed");
        match self.remediator.run(work, None, home()).await {
            Ok(PipelineOutcome { report, failure }) => (Some(report), failure),
            Err(error) => (None, Some(error)),
        }
    }

    /// The calls made so far, of one operation.
    fn calls_of(&self, operation: &str) -> u64 {
        self.calls.snapshot().get(operation).copied().unwrap_or(0)
    }
}

/// What Lambda is told of a failed invocation.
fn error_type(error: HandlerError) -> String {
    Diagnostic::from(error).error_type
}

fn calls(pairs: &[(&str, u64)]) -> ApiCalls {
    pairs
        .iter()
        .map(|(operation, count)| ((*operation).to_owned(), *count))
        .collect()
}

/// Each key's (id, action), in report order.
fn actions(report: &Report) -> Vec<(String, Action)> {
    crate::support::keys_of(report)
        .map(|key| (key.access_key_id.to_string(), key.action))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Events, from the documented formats
// ---------------------------------------------------------------------------------------------

/// A NON_COMPLIANT "Config Rules Compliance Change" for alice, from the rule `rule_name`.
fn rule_event(rule_name: &str) -> Value {
    let mut event = compliance_event(ALICE_ID);
    let arn = format!("arn:aws:config:us-east-1:{HOME}:config-rule/config-rule-{rule_name}");
    event["detail"]["configRuleName"] = json!(rule_name);
    event["detail"]["configRuleARN"] = json!(arn);
    event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"]
        ["configRuleName"] = json!(rule_name);
    event
}

const PRODUCT_ARN: &str = "arn:aws:securityhub:us-east-1::product/aws/securityhub";

fn finding_id(account: &str) -> String {
    format!(
        "arn:aws:securityhub:us-east-1:{account}:security-control/IAM.3/finding/\
         0f3e5a3c-8d2b-4b8e-9c1a-6e2f4d7b9a10"
    )
}

/// A "Security Hub Findings - Imported" event: alice's FAILED, ACTIVE, NEW IAM.3 finding, in
/// `account` (the user's), delivered to the home account's bus.
fn security_hub_event(account: &str) -> Value {
    let id = finding_id(account);
    json!({
        "version": "0",
        "id": "8e5622f9-d81c-4d81-612a-9319e7ee2506",
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": HOME,
        "time": "2026-11-20T09:20:11Z",
        "region": "us-east-1",
        "resources": [id],
        "detail": { "findings": [{
            "SchemaVersion": "2018-10-08",
            "Id": id,
            "ProductArn": PRODUCT_ARN,
            "ProductName": "Security Hub",
            "CompanyName": "AWS",
            "Region": "us-east-1",
            "GeneratorId": "security-control/IAM.3",
            "AwsAccountId": account,
            "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
            "CreatedAt": "2026-11-20T09:14:30.112Z",
            "UpdatedAt": "2026-11-20T09:14:30.112Z",
            "Severity": { "Label": "MEDIUM", "Normalized": 40 },
            "Title": "IAM users' access keys should be rotated every 90 days or less",
            "Compliance": { "Status": "FAILED", "SecurityControlId": "IAM.3" },
            "RecordState": "ACTIVE",
            "Workflow": { "Status": "NEW" },
            "WorkflowState": "NEW",
            "Resources": [{
                "Type": "AwsIamUser",
                "Id": format!("arn:aws:iam::{account}:user/alice"),
                "Partition": "aws",
                "Region": "us-east-1",
                "Details": { "AwsIamUser": { "UserName": "alice", "UserId": ALICE_ID } },
            }],
        }]},
    })
}

/// The same finding with this workflow status and note, as Security Hub delivers it after
/// a BatchUpdateFindings.
fn with_workflow(mut event: Value, status: &str, note: Option<&str>) -> Value {
    let finding = &mut event["detail"]["findings"][0];
    finding["Workflow"]["Status"] = json!(status);
    finding["WorkflowState"] = json!(status);
    if let Some(text) = note {
        finding["Note"] = json!({
            "Text": text,
            "UpdatedBy": "access-key-remediator",
            "UpdatedAt": "2026-11-20T09:20:10.000Z",
        });
    }
    event
}

fn analyzer_arn(account: &str) -> String {
    format!("arn:aws:access-analyzer:us-east-1:{account}:analyzer/ConsoleAnalyzer-unused")
}

const ANALYZER_FINDING: &str = "b7e4c2a0-5d1f-4e8a-9b3c-2a6f0d8e1c47";

/// An "Unused Access Finding for IAM entities" event from the analyzer in `analyzer_account`
/// about alice in `user_account`.
fn unused_key_event(analyzer_account: &str, user_account: &str, finding: &str) -> Value {
    json!({
        "version": "0",
        "id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
        "detail-type": "Unused Access Finding for IAM entities",
        "source": "aws.access-analyzer",
        "account": analyzer_account,
        "time": "2026-11-20T09:30:00Z",
        "region": "us-east-1",
        "resources": [analyzer_arn(analyzer_account)],
        "detail": {
            "findingId": finding,
            "resource": format!("arn:aws:iam::{user_account}:user/alice"),
            "resourceType": "AWS::IAM::User",
            "accountId": user_account,
            "createdAt": "2026-11-20T09:29:58Z",
            "findingType": "UnusedIAMUserAccessKey",
            "status": "ACTIVE",
            "updatedAt": "2026-11-20T09:29:58Z",
            "isDeleted": false,
            "numberOfUnusedAccessKeys": 1,
        },
    })
}
