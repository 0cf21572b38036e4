//! The organisation sweep's steps and the per-account modes against the in-memory fakes
//! (`aws::fake`, `FakeOrganization` among them): discovery's walk of AWS Organizations
//! (`discovery`), one account's sweep through the member role within its role's ceiling
//! (`account_sweep`), an event's mode from the Organizations tags and its TTL cache
//! (`event_modes`), and the summary of a whole run (`summary`). Each case builds a fresh
//! organisation and its accounts, invokes `handler::respond` as Lambda would, and checks the
//! answer (as JSON, the form the state machine reads), the Lambda error, the IAM writes, the
//! metric lines and the calls made.
//!
//! This file holds what they share: the organisation, its accounts' users, and the invocation.

mod account_sweep;
mod discovery;
mod event_modes;
mod run_files;
mod summary;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use access_key_remediator::aws::accounts::{AccountClients, MemberAccounts};
use access_key_remediator::aws::api_calls::ApiCallCounter;
use access_key_remediator::aws::fake::{FakeFindings, FakeIam, FakeInventory, FakeOrganization};
use access_key_remediator::domain::marker::{STATE_TAG_KEY, format_instant};
use access_key_remediator::domain::org::CEILING_TAG_KEY;
use access_key_remediator::domain::policy::{Mode, Policy};
use access_key_remediator::domain::user::KeyStatus;
use access_key_remediator::handler::{Answer, respond};
use access_key_remediator::remediate::Remediator;
use access_key_remediator::report::Report;
use access_key_remediator::settings::{MemberRole, OrgSettings, Settings};
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::support::invocation;

/// The function's own account (support::FUNCTION_ARN's), the organisation's management account.
const HOME: &str = "123456789012";
const MEMBER_ROLE: &str = "AccessKeyRemediatorMember";

const ROOT: &str = "r-k3x9";
const PROD: &str = "ou-k3x9-prod0001";
const TEAM: &str = "ou-k3x9-team0001";
const DEV: &str = "ou-k3x9-dev00001";

const PROD_A: &str = "210000000001";
const PROD_B: &str = "210000000002";
const TEAM_A: &str = "220000000001";
const DEV_A: &str = "230000000001";

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

/// The central stack in `mode`, walking the organisation with ORG_MODE_TAGS on and the member
/// role set; `change` adjusts the organisation settings.
fn org_settings(mode: Mode, change: impl FnOnce(&mut OrgSettings)) -> Settings {
    let mut organization = OrgSettings {
        mode_tags: true,
        sweep_organization: true,
        ..OrgSettings::default()
    };
    change(&mut organization);
    Settings {
        policy: Policy {
            mode,
            ..Policy::default()
        },
        member_role: Some(MemberRole {
            name: MEMBER_ROLE.to_owned(),
            external_id: None,
        }),
        organization,
        ..Settings::default()
    }
}

fn with_cap(mut settings: Settings, cap: u32) -> Settings {
    settings.policy.max_actions_per_invocation = cap;
    settings
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

fn days_ago(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - Duration::days(days)
}

/// `count` users `old-<n>`, each with one Active key 200 days old.
fn over_age_users(iam: &FakeIam, count: usize) {
    for n in 0..count {
        let name = format!("old-{n}");
        iam.add_user(&name, &format!("AIDAZ4OLDUSER{n:07}"));
        let key = format!("AKIAZ4OLDUSERKEY{n:04}");
        iam.add_key(&name, &key, KeyStatus::Active, days_ago(200), None);
    }
}

/// The user `past-grace`: an Inactive over-age key whose grace clock started 20 days ago, so
/// delete mode deletes it and deactivate mode leaves it.
const PAST_GRACE_KEY: &str = "AKIAZ4PASTGRACEKEY01";

fn past_grace_user(iam: &FakeIam) {
    iam.add_user("past-grace", "AIDAZ4PASTGRACE00001");
    iam.add_key(
        "past-grace",
        PAST_GRACE_KEY,
        KeyStatus::Inactive,
        days_ago(200),
        None,
    );
    let clock = format!("{PAST_GRACE_KEY}={}", format_instant(days_ago(20)));
    iam.set_tag("past-grace", STATE_TAG_KEY, &clock);
}

/// An account's IAM with two over-age users and one past its grace period, and the member
/// role, tagged with `ceiling` when given.
fn member_iam(ceiling: Option<&str>) -> FakeIam {
    let iam = FakeIam::new();
    over_age_users(&iam, 2);
    past_grace_user(&iam);
    iam.add_role(MEMBER_ROLE);
    iam.set_role_tag(MEMBER_ROLE, CEILING_TAG_KEY, ceiling);
    iam
}

// ---------------------------------------------------------------------------------------------
// The organisation
// ---------------------------------------------------------------------------------------------

/// The organisation most cases walk: HOME under the root; PROD with two accounts and TEAM
/// below it with one; DEV with one.
fn tree() -> FakeOrganization {
    use access_key_remediator::domain::org::AccountState::Active;
    FakeOrganization::new(ROOT)
        .with_account(HOME, ROOT, Active)
        .with_unit(PROD, ROOT)
        .with_unit(DEV, ROOT)
        .with_unit(TEAM, PROD)
        .with_account(PROD_A, PROD, Active)
        .with_account(PROD_B, PROD, Active)
        .with_account(TEAM_A, TEAM, Active)
        .with_account(DEV_A, DEV, Active)
}

/// One account's fakes; clones share what they hold.
#[derive(Clone, Default)]
struct Fakes {
    iam: FakeIam,
    inventory: FakeInventory,
    findings: FakeFindings,
}

impl Fakes {
    /// IAM as given, Config recording its users, no rule and no finding.
    fn of(iam: FakeIam) -> Fakes {
        let inventory = iam.inventory();
        Fakes {
            iam,
            inventory,
            findings: FakeFindings::default(),
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
}

/// The central function over an organisation: its own account, the member accounts the role
/// reaches (an account not given has an empty IAM), and one counter for every call, the
/// Organizations calls included.
struct Org {
    tree: FakeOrganization,
    home: Fakes,
    members: BTreeMap<String, Fakes>,
    calls: ApiCallCounter,
    /// The role ARNs the function asked member clients for, in order.
    roles: Arc<Mutex<Vec<String>>>,
    metrics: Arc<Mutex<Vec<String>>>,
    remediator: Remediator<FakeIam, FakeInventory, FakeFindings>,
}

impl Org {
    fn new(settings: Settings, tree: FakeOrganization) -> Org {
        Org::with_accounts(settings, tree, Fakes::default(), Vec::new())
    }

    fn with_accounts(
        settings: Settings,
        tree: FakeOrganization,
        home: Fakes,
        members: Vec<(&str, Fakes)>,
    ) -> Org {
        let calls = ApiCallCounter::default();
        let tree = tree.with_api_calls(calls.clone());
        let home = home.counted_by(&calls);
        let members: BTreeMap<String, Fakes> = members
            .into_iter()
            .map(|(account, fakes)| (account.to_owned(), fakes.counted_by(&calls)))
            .collect();
        let roles: Arc<Mutex<Vec<String>>> = Arc::default();
        let metrics: Arc<Mutex<Vec<String>>> = Arc::default();
        let (reached, asked, counter) = (members.clone(), Arc::clone(&roles), calls.clone());
        let connect = MemberAccounts::new(Box::new(move |role_arn: String| {
            let account = role_arn.split(':').nth(4).unwrap_or_default().to_owned();
            asked.lock().unwrap().push(role_arn);
            let fakes = reached.get(&account).cloned();
            let fakes = fakes.unwrap_or_else(|| Fakes::default().counted_by(&counter));
            let clients = fakes.clients();
            Box::pin(async move { clients })
        }));
        let sink = Arc::clone(&metrics);
        let remediator = Remediator::new(settings, home.clients())
            .with_api_call_counter(calls.clone())
            .with_member_accounts(connect)
            .with_organization(Arc::new(tree.clone()))
            .with_metric_sink(Box::new(move |line: &str| {
                sink.lock().unwrap().push(line.to_owned());
            }));
        Org {
            tree,
            home,
            members,
            calls,
            roles,
            metrics,
            remediator,
        }
    }

    fn member(&self, account: &str) -> &Fakes {
        &self.members[account]
    }

    /// One invocation through `handler::respond`, as Lambda makes it; the answer as the state
    /// machine reads it, or what Lambda is told of the failure.
    async fn step(&self, payload: Value) -> Result<Value, Diagnostic> {
        let answer = respond(&self.remediator, invocation(payload)).await;
        let answer = answer.map_err(Diagnostic::from)?;
        assert!(
            !matches!(answer, Answer::Report(_)),
            "a step is answered as a step, not as an event: {answer:?}"
        );
        Ok(serde_json::to_value(answer).expect("an answer serialises"))
    }

    /// An event through `handler::respond`: its report, or what Lambda is told.
    async fn event(&self, payload: Value) -> Result<Box<Report>, Diagnostic> {
        match respond(&self.remediator, invocation(payload)).await {
            Ok(Answer::Report(report)) => Ok(report),
            Ok(other) => panic!("an event is answered with its report: {other:?}"),
            Err(error) => Err(Diagnostic::from(error)),
        }
    }

    async fn discover(&self) -> Value {
        let answer = self
            .step(json!({ "remediator": "discover-accounts" }))
            .await;
        answer.unwrap_or_else(|error| panic!("discovery failed: {error:?}"))
    }

    async fn sweep(&self, account: &str, mode: &str) -> Result<Value, Diagnostic> {
        let payload = json!({ "remediator": "sweep-account", "account": account, "mode": mode });
        self.step(payload).await
    }

    /// The calls made so far, of one operation.
    fn calls_of(&self, operation: &str) -> u64 {
        self.calls.snapshot().get(operation).copied().unwrap_or(0)
    }

    /// The Organizations calls made so far, by operation.
    fn org_calls(&self) -> BTreeMap<String, u64> {
        self.tree.calls()
    }

    /// The EMF lines emitted so far, parsed.
    fn metric_lines(&self) -> Vec<Value> {
        let lines = self.metrics.lock().unwrap();
        let parsed = lines.iter().map(|line| serde_json::from_str(line));
        parsed
            .collect::<Result<_, _>>()
            .expect("EMF lines are JSON")
    }
}

/// `[(operation, count)]` as the fakes count calls.
fn calls(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    let pairs = pairs.iter();
    pairs.map(|(op, n)| ((*op).to_owned(), *n)).collect()
}

/// The IAM writes applied in one account's fake, as `deactivate <user> <key>`, ….
fn writes(iam: &FakeIam) -> Vec<String> {
    use access_key_remediator::aws::fake::Write;
    let described = iam.writes().into_iter().map(|write| match write {
        Write::Deactivated { user, key } => format!("deactivate {user} {key}"),
        Write::Deleted { user, key } => format!("delete {user} {key}"),
        Write::Tagged { user, key, .. } => format!("tag {user} {key}"),
        Write::Untagged { user, keys } => format!("untag {user} {}", keys.join(",")),
    });
    described.collect()
}
