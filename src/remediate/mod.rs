//! The pipeline that carries out one unit of work, one stage per file: `resolve` (UserId to
//! user), `snapshot` (read one user whole, and decide), `apply` (verdicts to IAM writes), and
//! the two ways in: `event` (one user) and `sweep` (every nominee of one or more accounts).
//! Every stage returns what it did and what failed as data (`outcome`); none imports the
//! handler above it.

pub mod apply;
pub mod event;
pub mod outcome;
pub mod resolve;
pub mod snapshot;
pub mod sweep;

use std::sync::Arc;
use std::time::Instant;

use time::OffsetDateTime;
use tracing::info;

use self::outcome::{Outcome, RemediationError};
use self::snapshot::{Budget, plan_user};
use crate::aws::accounts::{AccountClients, HomeAccount, MemberAccounts};
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::{AwsError, IamDirectory, IamWrites, UserInventory};
use crate::domain::ids::AccountId;
use crate::domain::policy::Policy;
use crate::report::{Outcome as ReportOutcome, Report, Trigger, UserReport};
use crate::settings::Settings;
use crate::triggers::Work;

/// Where the function's CloudWatch EMF lines go: stdout when deployed (`startup`).
pub type MetricSink = Box<dyn Fn(&str) + Send + Sync>;

/// Everything an invocation needs, built once per container.
pub struct Remediator<I, C> {
    pub settings: Settings,
    /// Each invocation's EMF lines go here; without a sink none are made.
    pub metrics: Option<MetricSink>,
    /// The clients of the function's own account.
    home: Arc<AccountClients<I, C>>,
    /// Clients for other accounts, through MEMBER_ROLE_NAME; `None` when it is unset.
    members: Option<MemberAccounts<I, C>>,
    /// Sees every call the clients make (an SDK interceptor, or the fake's own count).
    api_calls: ApiCallCounter,
}

impl<I: IamDirectory + IamWrites, C: UserInventory> Remediator<I, C> {
    pub fn new(settings: Settings, iam: I, inventory: C) -> Self {
        Remediator {
            settings,
            metrics: None,
            home: Arc::new(AccountClients { iam, inventory }),
            members: None,
            api_calls: ApiCallCounter::default(),
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
    pub fn with_member_accounts(self, members: MemberAccounts<I, C>) -> Self {
        Remediator {
            members: Some(members),
            ..self
        }
    }

    /// Reports the calls this counter sees as each report's `apiCalls`.
    pub fn with_api_call_counter(self, api_calls: ApiCallCounter) -> Self {
        Remediator { api_calls, ..self }
    }

    /// Carries out one unit of work in the account it names. `Err` when the work failed
    /// before anything was done; a partial failure is the outcome's `failure`.
    pub async fn run(
        &self,
        work: Work,
        deadline: Option<Instant>,
        home: Option<HomeAccount>,
    ) -> Result<Outcome, RemediationError> {
        let calls_before = self.api_calls.snapshot();
        // Without an invoked ARN (a test's Context::default(), a local runtime) the event's
        // own account is taken as home.
        let home = home.or_else(|| {
            let account_id = match &work {
                Work::Remediate(target) => target.account.clone(),
                Work::Sweep { account, .. } | Work::Ignore { account, .. } => account.clone(),
            }?;
            Some(HomeAccount {
                partition: "aws".to_owned(),
                account_id,
            })
        });
        let mode = self.settings.policy.mode;
        let mut outcome = match work {
            Work::Ignore { account, reason } => Outcome::done(Report::nothing_done(
                Trigger::Event,
                mode,
                account,
                ReportOutcome::Ignored,
                reason,
            )),
            Work::Remediate(target) => {
                let at = self
                    .clients_for(target.account.as_ref(), home.as_ref())
                    .await?;
                self.remediate_event(&at, target).await?
            }
            Work::Sweep { account, accounts } if accounts.is_empty() => {
                let at = self.clients_for(account.as_ref(), home.as_ref()).await?;
                let budget = Budget::new(self.settings.policy.max_actions_per_invocation);
                self.sweep(&at, account, deadline, &budget).await?
            }
            Work::Sweep { account, accounts } => {
                self.sweep_accounts(account, accounts, deadline, home.as_ref())
                    .await
            }
        };
        outcome.report.api_calls = self.api_calls.since(&calls_before);
        Ok(outcome)
    }

    /// The clients that act in `account`: the function's own, or the member role's there.
    async fn clients_for(
        &self,
        account: Option<&AccountId>,
        home: Option<&HomeAccount>,
    ) -> Result<Arc<AccountClients<I, C>>, RemediationError> {
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

/// One user through the pipeline: snapshot and decide, then apply. `None` when the user
/// vanished before we could read them; the failed writes come beside the report.
async fn remediate_user<I: IamDirectory + IamWrites, C>(
    at: &AccountClients<I, C>,
    policy: &Policy,
    user_name: &str,
    now: OffsetDateTime,
    budget: &Budget,
) -> Result<Option<(UserReport, Vec<AwsError>)>, AwsError> {
    let Some(plan) = plan_user(&at.iam, user_name, now, policy, budget).await? else {
        return Ok(None);
    };
    let (keys, failures) = apply::apply(&at.iam, user_name, &plan, now).await;
    let report = UserReport {
        user_name: user_name.to_owned(),
        user_id: None,
        exempt: plan.exemption.is_exempt(),
        keys,
    };
    Ok(Some((report, failures)))
}
