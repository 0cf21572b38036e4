//! The remediator: what every stage acts through, built once per container (the settings,
//! the home account's clients, the member accounts' clients, the call counter), and one user
//! through the stages: snapshot and decide, then apply.

use std::sync::Arc;

use time::OffsetDateTime;
use tracing::info;

use super::apply::apply;
use super::outcome::RemediationError;
use super::snapshot::{Budget, plan_user};
use crate::aws::accounts::{AccountClients, HomeAccount, MemberAccounts};
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::{AwsError, IamDirectory, IamWrites, UserInventory};
use crate::domain::ids::{AccountId, UserId};
use crate::domain::policy::Policy;
use crate::report::UserReport;
use crate::settings::Settings;

/// Where the function's CloudWatch EMF lines go: stdout when deployed (`startup`).
pub type MetricSink = Box<dyn Fn(&str) + Send + Sync>;

/// Everything an invocation needs, built once per container.
pub struct Remediator<I, C> {
    pub settings: Settings,
    /// Each invocation's EMF lines go here; without a sink none are made.
    pub metrics: Option<MetricSink>,
    /// The clients of the function's own account.
    pub(super) home: Arc<AccountClients<I, C>>,
    /// Clients for other accounts, through MEMBER_ROLE_NAME; `None` when it is unset.
    pub(super) members: Option<MemberAccounts<I, C>>,
    /// Sees every call the clients make (an SDK interceptor, or the fake's own count).
    pub(super) api_calls: ApiCallCounter,
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

    /// The clients that act in `account`: the function's own, or the member role's there.
    pub(super) async fn clients_for(
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

/// One user's pass through the stages: the report, the calls that failed for good, and
/// whether IAM said the user is gone under this name.
pub(super) struct Remediated {
    pub report: UserReport,
    pub failures: Vec<AwsError>,
    pub user_gone: bool,
}

/// One user through the pipeline: snapshot and decide, then apply. `None` when the user
/// vanished before we could read them.
///
/// `user_id`, when known (an event), is what a write that finds the name gone checks the
/// name's current holder against: a user renamed and the name taken by another is gone too.
pub(super) async fn remediate_user<I: IamDirectory + IamWrites, C>(
    at: &AccountClients<I, C>,
    policy: &Policy,
    (user_name, user_id): (&str, Option<&UserId>),
    now: OffsetDateTime,
    budget: &Budget,
) -> Result<Option<Remediated>, AwsError> {
    let Some(plan) = plan_user(&at.iam, user_name, now, policy, budget).await? else {
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
    };
    Ok(Some(Remediated {
        report,
        failures: applied.failures,
        user_gone: applied.user_gone,
    }))
}
