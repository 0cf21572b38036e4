//! The remediator: what every stage acts through, built once per container (the settings,
//! the home account's clients, the member accounts' clients, the call counter), and one user
//! through the stages: snapshot and decide, then apply.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tracing::info;

use super::apply::apply;
use super::notify::{Acted, LookupRate, Notifier, notify};
use super::org_mode::AccountMode;
use super::outcome::RemediationError;
use super::snapshot::{Budget, plan_user};
use super::ttl_cache::TtlCache;
use crate::aws::accounts::{AccountClients, HomeAccount, MemberAccounts};
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::organizations::OrganizationTree;
use crate::aws::run_store::RunStore;
use crate::aws::{AwsError, IamDirectory, IamWrites};
use crate::aws::{Config, Findings, Iam};
use crate::domain::ids::{AccountId, UserId};
use crate::domain::policy::{Mode, Policy, UnusedKey};
use crate::domain::rules::RuleLookup;
use crate::report::UserReport;
use crate::settings::Settings;

/// Where the function's CloudWatch EMF lines go: stdout when deployed (`startup`).
pub type MetricSink = Box<dyn Fn(&str) + Send + Sync>;

/// Everything an invocation needs, built once per container.
pub struct Remediator<I, C, F> {
    pub settings: Settings,
    /// Each invocation's EMF lines go here; without a sink none are made.
    pub metrics: Option<MetricSink>,
    /// The clients of the function's own account.
    pub(super) home: Arc<AccountClients<I, C, F>>,
    /// Clients for other accounts, through MEMBER_ROLE_NAME; `None` when it is unset.
    pub(super) members: Option<MemberAccounts<I, C, F>>,
    /// Sees every call the clients make (an SDK interceptor, or the fake's own count).
    pub(super) api_calls: ApiCallCounter,
    /// What Config rules and analyzers turned out to be, kept for the container's life.
    pub(super) memo: Memo,
    /// AWS Organizations, in the function's own account: for discovery and account modes.
    pub(super) organization: Option<Arc<dyn OrganizationTree>>,
    /// SWEEP_BUCKET's objects: the organisation sweep's items and results.
    pub(super) run_store: Option<Arc<dyn RunStore>>,
}

/// Answers that do not change within a container's life, so each costs one call per
/// container: what a Config rule is, an analyzer's `unusedAccessAge`, and which warnings
/// were already given.
pub(super) struct Memo {
    rules: Mutex<HashMap<String, RuleLookup>>,
    analyzers: Mutex<HashMap<String, u32>>,
    warned: Mutex<HashSet<String>>,
    /// LookupEvents turn-taking per account (`""`: the home account).
    lookups: Mutex<HashMap<String, Arc<LookupRate>>>,
    /// Each account's mode from its tags and ceiling, kept for ORG_CACHE_TTL_SECONDS.
    pub account_modes: TtlCache<AccountId, AccountMode>,
    /// Each member account's role ceiling, kept as long.
    pub ceilings: TtlCache<AccountId, Mode>,
}

impl Memo {
    fn new(org_cache_ttl: Duration) -> Self {
        Memo {
            rules: Mutex::default(),
            analyzers: Mutex::default(),
            warned: Mutex::default(),
            lookups: Mutex::default(),
            account_modes: TtlCache::new(org_cache_ttl),
            ceilings: TtlCache::new(org_cache_ttl),
        }
    }

    pub fn rule(&self, key: &str) -> Option<RuleLookup> {
        lock(&self.rules).get(key).cloned()
    }

    /// A transient failure is not kept: the next event asks again.
    pub fn remember_rule(&self, key: String, lookup: RuleLookup) {
        if lookup != RuleLookup::Unknown {
            lock(&self.rules).insert(key, lookup);
        }
    }

    pub fn analyzer_age(&self, analyzer_arn: &str) -> Option<u32> {
        lock(&self.analyzers).get(analyzer_arn).copied()
    }

    pub fn remember_analyzer_age(&self, analyzer_arn: &str, days: u32) {
        lock(&self.analyzers).insert(analyzer_arn.to_owned(), days);
    }

    /// `true` the first time only.
    pub fn first_warning(&self, key: &str) -> bool {
        lock(&self.warned).insert(key.to_owned())
    }

    /// The account's LookupEvents limiter, the same for the container's life.
    pub fn lookup_rate(&self, account: Option<&AccountId>) -> Arc<LookupRate> {
        let key = account.map_or("", AccountId::as_str).to_owned();
        Arc::clone(lock(&self.lookups).entry(key).or_default())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    pub fn new(settings: Settings, home: AccountClients<I, C, F>) -> Self {
        Remediator {
            metrics: None,
            home: Arc::new(home),
            members: None,
            memo: Memo::new(settings.organization.cache_ttl),
            settings,
            api_calls: ApiCallCounter::default(),
            organization: None,
            run_store: None,
        }
    }

    pub fn with_run_store(self, run_store: Arc<dyn RunStore>) -> Self {
        Remediator {
            run_store: Some(run_store),
            ..self
        }
    }

    pub fn with_organization(self, organization: Arc<dyn OrganizationTree>) -> Self {
        Remediator {
            organization: Some(organization),
            ..self
        }
    }

    pub fn with_metric_sink(self, sink: MetricSink) -> Self {
        Remediator {
            metrics: Some(sink),
            ..self
        }
    }

    /// Lets the remediator act in other accounts through the member role (the settings'
    /// `member_role` names it).
    pub fn with_member_accounts(self, members: MemberAccounts<I, C, F>) -> Self {
        Remediator {
            members: Some(members),
            ..self
        }
    }

    /// Reports the calls this counter sees as each report's `apiCalls`.
    pub fn with_api_call_counter(self, api_calls: ApiCallCounter) -> Self {
        Remediator { api_calls, ..self }
    }

    /// What the notify stage sends through for a user in `account`.
    pub(super) fn notifier(&self, account: Option<&AccountId>) -> Notifier<'_, F> {
        Notifier {
            home: &self.home.findings,
            settings: &self.settings.notices,
            account: account.cloned(),
            lookups: self.memo.lookup_rate(account),
        }
    }

    /// The clients that act in `account`: the function's own, or the member role's there.
    pub(super) async fn clients_for(
        &self,
        account: Option<&AccountId>,
        home: Option<&HomeAccount>,
    ) -> Result<Arc<AccountClients<I, C, F>>, RemediationError> {
        let (Some(account), Some(home)) = (account, home) else {
            return Ok(Arc::clone(&self.home));
        };
        if *account == home.account_id {
            return Ok(Arc::clone(&self.home));
        }
        match (&self.settings.member_role, &self.members) {
            (Some(role), Some(members)) => {
                let role_arn = home.member_role_arn(account, &role.name);
                info!(%account, role = %role_arn, "acting in a member account");
                Ok(members.clients(&role_arn).await)
            }
            _ => Err(RemediationError::ForeignAccount {
                account: account.clone(),
                home: home.account_id.clone(),
            }),
        }
    }
}

/// One user's pass through the stages: the report, the calls that failed for good, and
/// whether IAM said the user is gone under this name.
pub(super) struct Remediated {
    pub report: UserReport,
    pub failures: Vec<AwsError>,
    pub user_gone: bool,
}

/// One user through the pipeline: snapshot and decide, apply, then notify. `None` when the
/// user vanished before we could read them.
///
/// `user_id`, when known (an event), is what a write that finds the name gone checks the
/// name's current holder against: a user renamed and the name taken by another is gone too.
pub(super) async fn remediate_user<I: IamDirectory + IamWrites, C, F: Findings>(
    (at, notifier): (&AccountClients<I, C, F>, &Notifier<'_, F>),
    policy: &Policy,
    (user_name, user_id): (&str, Option<&UserId>),
    (now, unused): (OffsetDateTime, Option<&UnusedKey>),
    budget: &Budget,
) -> Result<Option<Remediated>, AwsError> {
    let planned = plan_user(&at.iam, user_name, (now, policy, unused), budget).await?;
    let Some((plan, tags)) = planned else {
        return Ok(None);
    };
    let applied = apply(&at.iam, (user_name, user_id), &plan, now).await;
    if applied.user_gone {
        budget.refund(plan.actions_used);
    }
    let report = UserReport {
        user_name: user_name.to_owned(),
        user_id: None,
        exempt: plan.exemption.is_exempt(),
        no_tag_slot: plan.clocks.as_ref().is_some_and(|clocks| !clocks.tag_slot),
        keys: applied.keys,
        notice: None,
    };
    let acted = Acted {
        report: &report,
        plan: &plan,
        tags: &tags,
        policy,
        now,
    };
    let notice = notify(notifier, &at.findings, &acted).await;
    let report = UserReport { notice, ..report };
    Ok(Some(Remediated {
        report,
        failures: applied.failures,
        user_gone: applied.user_gone,
    }))
}
