//! The Lambda handler: classify the event, resolve the user, read their keys and tags, ask
//! the policy, carry out its verdicts, report. It decides nothing itself: the decisions live
//! in `domain::policy`, the AWS calls behind `ports`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::try_join_all;
use futures::stream::{self, StreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use thiserror::Error;
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::accounts::{AccountClients, HomeAccount, MemberAccounts};
use crate::adapters::api_calls::ApiCallCounter;
use crate::credential_report::{self, ReportError};
use crate::domain::policy::{
    self, AccessKey, Action, Exemption, KeyDecision, KeyStatus, Verdict, marker_tag_key,
    marker_tag_value,
};
use crate::intake::{self, ComplianceTarget, Intake, IntakeError};
use crate::ports::{AwsError, IamDirectory, IamUser, UserInventory, WriteOutcome};
use crate::report::{KeyReport, Outcome, Report, Trigger, UserReport};
use crate::settings::Settings;

/// A sweep starts no new user once the Lambda deadline is this close: enough for the users
/// in flight to finish their few calls, and for the report to be returned.
pub const SWEEP_DEADLINE_MARGIN: Duration = Duration::from_secs(15);

/// Everything an invocation needs, built once per container.
pub struct Remediator<I, C> {
    settings: Settings,
    metrics: Option<MetricSink>,
    /// The clients of the function's own account.
    home: Arc<AccountClients<I, C>>,
    /// Clients for other accounts, through MEMBER_ROLE_NAME; `None` when it is unset.
    members: Option<MemberAccounts<I, C>>,
    api_calls: ApiCallCounter,
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("could not resolve UserId {user_id} to a user")]
    Resolve {
        user_id: String,
        #[source]
        source: AwsError,
    },
    #[error("could not read the keys and tags of user {user_name}")]
    Read {
        user_name: String,
        #[source]
        source: AwsError,
    },
    #[error("could not get the IAM credential report")]
    CredentialReport(#[source] AwsError),
    #[error(transparent)]
    UnreadableReport(#[from] ReportError),
    /// An operator's mistake, not AWS's, so a retry cannot help; it is still an error, so that
    /// the Errors alarm fires and the dead-letter queue keeps the event for after the fix.
    #[error(
        "the event is for account {account}, but this function runs in {home} and MEMBER_ROLE_NAME \
         is not set, so it may act only in its own account; nothing was changed"
    )]
    ForeignAccount { account: String, home: String },
    #[error("the sweep of {failed} account(s) failed, first {account}")]
    Accounts {
        failed: usize,
        account: String,
        #[source]
        first: Box<HandlerError>,
        /// What was done in every account, the failed ones as far as they got.
        report: Box<Report>,
    },
    /// Some calls failed after the SDK's retries. Everything else was still carried out, and
    /// the error makes Lambda retry the event (and, past its retries, dead-letter it).
    #[error("{failed} AWS call(s) failed; everything else was carried out")]
    Incomplete {
        failed: usize,
        #[source]
        first: AwsError,
        /// What was done, failures included: logged, and counted in the metrics.
        report: Box<Report>,
    },
}

impl HandlerError {
    /// The report of work done before the failure, when the invocation got that far.
    pub fn partial_report(&self) -> Option<&Report> {
        match self {
            HandlerError::Incomplete { report, .. } | HandlerError::Accounts { report, .. } => {
                Some(report)
            }
            _ => None,
        }
    }
}

/// Where the function's CloudWatch EMF lines go: stdout when deployed (`AwsRemediator::from_env`).
pub type MetricSink = Box<dyn Fn(&str) + Send + Sync>;

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::Intake(_) => "MalformedEvent",
            HandlerError::Resolve { .. } => "ResolveUserFailed",
            HandlerError::Read { .. } => "ReadStateFailed",
            HandlerError::CredentialReport(_) | HandlerError::UnreadableReport(_) => {
                "CredentialReportFailed"
            }
            HandlerError::Incomplete { .. } => "RemediationFailed",
            HandlerError::ForeignAccount { .. } => "AccountNotConfigured",
            HandlerError::Accounts { .. } => "AccountSweepFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error_chain(&error),
        }
    }
}

/// Handles one invocation. Tests call it directly with `Context::default()`.
pub async fn handle<I: IamDirectory, C: UserInventory>(
    remediator: &Remediator<I, C>,
    event: LambdaEvent<Value>,
) -> Result<Report, HandlerError> {
    let deadline = deadline_of(&event.context);
    let home = HomeAccount::from_function_arn(&event.context.invoked_function_arn);
    let result = remediator
        .handle_payload(event.payload, deadline, home)
        .await;
    match &result {
        Ok(report) => {
            log_summary(report);
            remediator.emit_metrics(report);
        }
        Err(error) => {
            // The partial report's summary was logged where the failure was found.
            if let Some(report) = error.partial_report() {
                remediator.emit_metrics(report);
            }
            tracing::error!(error = %error_chain(error), "invocation failed");
        }
    }
    result
}

/// The invocation's deadline as an `Instant`. `None`, which leaves a sweep unbounded, when
/// the context carries none (a test's `Context::default()`) or one already past as the
/// invocation starts: Lambda never sends that, but local runtimes do (cargo lambda 1.9's
/// `watch` sends a duration, 600000, where Lambda sends epoch milliseconds).
fn deadline_of(context: &lambda_runtime::Context) -> Option<Instant> {
    if context.deadline == 0 {
        return None;
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(context.deadline);
    match deadline.duration_since(SystemTime::now()) {
        Ok(left) => Some(Instant::now() + left),
        Err(_) => {
            warn!(
                deadline_ms = context.deadline,
                "the invocation's deadline is already past; ignoring it"
            );
            None
        }
    }
}

/// One user's remediation, and the writes that failed on the way.
struct UserRemediation {
    report: UserReport,
    failures: Vec<AwsError>,
}

/// What became of one sweep nominee.
enum SweepOutcome {
    Done(UserRemediation),
    Gone,
    ReadFailed(AwsError),
    NotStarted(String),
}

impl<I: IamDirectory, C: UserInventory> Remediator<I, C> {
    pub fn new(settings: Settings, iam: I, inventory: C) -> Self {
        Remediator {
            settings,
            home: Arc::new(AccountClients { iam, inventory }),
            members: None,
            metrics: None,
            api_calls: ApiCallCounter::default(),
        }
    }

    /// Sends each invocation's CloudWatch EMF lines to `sink`; without one none are made.
    pub fn with_metric_sink(self, sink: MetricSink) -> Self {
        Remediator {
            metrics: Some(sink),
            ..self
        }
    }

    fn emit_metrics(&self, report: &Report) {
        if let Some(sink) = &self.metrics {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_millis() as u64);
            for line in report.metric_lines(now_ms) {
                sink(&line);
            }
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

    /// Reports the calls this counter sees (it must be an interceptor on the clients behind
    /// `iam` and `inventory`) as each report's `apiCalls`.
    pub fn with_api_call_counter(self, api_calls: ApiCallCounter) -> Self {
        Remediator { api_calls, ..self }
    }

    async fn handle_payload(
        &self,
        payload: Value,
        deadline: Option<Instant>,
        home: Option<HomeAccount>,
    ) -> Result<Report, HandlerError> {
        let mode = self.settings.mode;
        let calls_before = self.api_calls.snapshot();
        let intake = intake::classify(payload, &self.settings)?;
        // Without an invoked ARN (a test's Context::default(), a local runtime) the event's
        // own account is taken as home.
        let home = home.or_else(|| {
            let account_id = match &intake {
                Intake::Remediate(target) => target.account.clone(),
                Intake::Sweep { account, .. } | Intake::Ignore { account, .. } => account.clone(),
            }?;
            Some(HomeAccount {
                partition: "aws".to_owned(),
                account_id,
            })
        });
        let mut report = match intake {
            Intake::Ignore { account, reason } => {
                Report::nothing_done(Trigger::Event, mode, account, Outcome::Ignored, reason)
            }
            Intake::Remediate(target) => {
                let at = self
                    .clients_for(target.account.as_deref(), home.as_ref())
                    .await?;
                self.remediate_event(&at, target).await?
            }
            Intake::Sweep { account, accounts } if accounts.is_empty() => {
                let at = self.clients_for(account.as_deref(), home.as_ref()).await?;
                let budget = Mutex::new(self.settings.max_actions_per_invocation);
                self.sweep(&at, account, deadline, &budget).await?
            }
            Intake::Sweep { account, accounts } => {
                self.sweep_accounts(account, accounts, deadline, home.as_ref())
                    .await?
            }
        };
        report.api_calls = self.api_calls.since(&calls_before);
        Ok(report)
    }

    /// The clients that act in `account`: the function's own, or the member role's there.
    async fn clients_for(
        &self,
        account: Option<&str>,
        home: Option<&HomeAccount>,
    ) -> Result<Arc<AccountClients<I, C>>, HandlerError> {
        let (Some(account), Some(home)) = (account, home) else {
            return Ok(Arc::clone(&self.home));
        };
        if account == home.account_id {
            return Ok(Arc::clone(&self.home));
        }
        match (&self.settings.member_role, &self.members) {
            (Some(role), Some(members)) => {
                let role_arn = home.member_role_arn(account, &role.name);
                info!(account, role = %role_arn, "acting in a member account");
                Ok(members.clients(&role_arn).await)
            }
            _ => Err(HandlerError::ForeignAccount {
                account: account.to_owned(),
                home: home.account_id.clone(),
            }),
        }
    }

    /// Sweeps each listed account in turn, one action budget across them all. One account's
    /// failure does not stop the others; it fails the invocation once they are done.
    async fn sweep_accounts(
        &self,
        account: Option<String>,
        accounts: Vec<String>,
        deadline: Option<Instant>,
        home: Option<&HomeAccount>,
    ) -> Result<Report, HandlerError> {
        let invocation_calls = self.api_calls.snapshot();
        let budget = Mutex::new(self.settings.max_actions_per_invocation);
        let mut reports = Vec::with_capacity(accounts.len());
        let mut deferred_accounts = Vec::new();
        let mut failures = Vec::new();
        for swept in accounts {
            if out_of_time(deadline) {
                deferred_accounts.push(swept);
                continue;
            }
            let calls_before = self.api_calls.snapshot();
            let result = match self.clients_for(Some(&swept), home).await {
                Ok(at) => {
                    self.sweep(&at, Some(swept.clone()), deadline, &budget)
                        .await
                }
                Err(error) => Err(error),
            };
            match result {
                Ok(mut report) => {
                    report.api_calls = self.api_calls.since(&calls_before);
                    reports.push(report);
                }
                Err(error) => {
                    tracing::error!(account = %swept, error = %error_chain(&error), "account sweep failed");
                    if let Some(partial) = error.partial_report() {
                        let mut partial = partial.clone();
                        partial.api_calls = self.api_calls.since(&calls_before);
                        reports.push(partial);
                    }
                    failures.push((swept, error));
                }
            }
        }
        if !deferred_accounts.is_empty() {
            warn!(
                deferred = deferred_accounts.len(),
                "sweep: Lambda deadline near; the remaining accounts are left to the next sweep"
            );
        }
        let mut report =
            Report::of_accounts(self.settings.mode, account, reports, deferred_accounts);
        let mut failures = failures.into_iter();
        match failures.next() {
            None => Ok(report),
            Some((account, first)) => {
                report.api_calls = self.api_calls.since(&invocation_calls);
                log_summary(&report);
                Err(HandlerError::Accounts {
                    failed: 1 + failures.len(),
                    account,
                    first: Box::new(first),
                    report: Box::new(report),
                })
            }
        }
    }

    async fn remediate_event(
        &self,
        at: &AccountClients<I, C>,
        target: ComplianceTarget,
    ) -> Result<Report, HandlerError> {
        let mode = self.settings.mode;
        let gone = |account| {
            Report::nothing_done(
                Trigger::Event,
                mode,
                account,
                Outcome::UserNotFound,
                format!("user {} no longer exists", target.user_id),
            )
        };
        info!(user_id = %target.user_id, rule = %target.rule_name, "remediating");
        let Some(user) = self.resolve(at, &target.user_id).await? else {
            return Ok(gone(target.account));
        };
        let now = OffsetDateTime::now_utc();
        let budget = Mutex::new(self.settings.max_actions_per_invocation);
        let remediation = self
            .remediate_user(at, &user.user_name, Some(&user.user_id), now, &budget)
            .await
            .map_err(|source| HandlerError::Read {
                user_name: user.user_name.clone(),
                source,
            })?;
        let Some(done) = remediation else {
            return Ok(gone(target.account));
        };
        let report = Report::new(Trigger::Event, mode, target.account, vec![done.report]);
        finish(report, done.failures)
    }

    /// Sweeps one account: the credential report nominates users, and each goes through the
    /// same read, policy and apply as an event, SWEEP_CONCURRENCY at a time, spending from
    /// the invocation's one action budget.
    async fn sweep(
        &self,
        at: &AccountClients<I, C>,
        account: Option<String>,
        deadline: Option<Instant>,
        budget: &Mutex<u32>,
    ) -> Result<Report, HandlerError> {
        let now = OffsetDateTime::now_utc();
        let report = at
            .iam
            .credential_report()
            .await
            .map_err(HandlerError::CredentialReport)?;
        let nominees = credential_report::nominate(&report, now, &self.settings)?;
        info!(
            nominees = nominees.len(),
            "sweep: users nominated by the credential report"
        );

        // `buffered` keeps report order, so two sweeps of one account read alike.
        let outcomes: Vec<SweepOutcome> = stream::iter(nominees)
            .map(|user_name| async move {
                if out_of_time(deadline) {
                    return SweepOutcome::NotStarted(user_name);
                }
                match self.remediate_user(at, &user_name, None, now, budget).await {
                    Ok(Some(done)) => SweepOutcome::Done(done),
                    Ok(None) => SweepOutcome::Gone,
                    Err(error) => SweepOutcome::ReadFailed(error),
                }
            })
            .buffered(self.settings.sweep_concurrency)
            .collect()
            .await;

        let mut users = Vec::new();
        let mut deferred_users = Vec::new();
        let mut failures = Vec::new();
        for outcome in outcomes {
            match outcome {
                SweepOutcome::Done(done) => {
                    users.push(done.report);
                    failures.extend(done.failures);
                }
                SweepOutcome::Gone => {}
                SweepOutcome::ReadFailed(error) => failures.push(error),
                SweepOutcome::NotStarted(user_name) => deferred_users.push(user_name),
            }
        }
        if !deferred_users.is_empty() {
            warn!(
                deferred = deferred_users.len(),
                "sweep: Lambda deadline near; the remaining users are left to the next sweep"
            );
        }
        let mut report = Report::new(Trigger::Sweep, self.settings.mode, account, users);
        report.deferred_users = deferred_users;
        finish(report, failures)
    }

    /// Finds the user a Config event names by UserId.
    async fn resolve(
        &self,
        at: &AccountClients<I, C>,
        user_id: &str,
    ) -> Result<Option<IamUser>, HandlerError> {
        let resolve_error = |source| HandlerError::Resolve {
            user_id: user_id.to_owned(),
            source,
        };
        match at.inventory.user_name_for_id(user_id).await {
            Ok(Some(name)) => {
                // Config's record can lag a rename, or a user deleted and re-created under
                // the same name: IAM must confirm the name still belongs to this UserId.
                let current = at.iam.get_user(&name).await.map_err(resolve_error)?;
                if let Some(user) = current.filter(|user| user.user_id == user_id) {
                    return Ok(Some(user));
                }
                info!(user_id, config_name = %name, "Config's name no longer matches; scanning IAM");
            }
            Ok(None) => info!(user_id, "Config has no record of the user; scanning IAM"),
            Err(error) => warn!(
                user_id,
                error = %error_chain(&error),
                "Config lookup failed; scanning IAM"
            ),
        }
        at.iam.find_user_by_id(user_id).await.map_err(resolve_error)
    }

    /// Reads one user's state, decides, and carries the decisions out, spending from the
    /// invocation's shared `budget`. `None` when the user vanished before we could read them.
    async fn remediate_user(
        &self,
        at: &AccountClients<I, C>,
        user_name: &str,
        user_id: Option<&str>,
        now: OffsetDateTime,
        budget: &Mutex<u32>,
    ) -> Result<Option<UserRemediation>, AwsError> {
        let Some((keys, tags)) = self.snapshot(at, user_name).await? else {
            return Ok(None);
        };

        let plan = {
            let mut remaining = budget.lock().expect("budget lock");
            let plan = policy::decide(&keys, &tags, now, &self.settings, *remaining);
            *remaining -= plan.actions_used;
            plan
        };
        if let Exemption::Unrecognised { value } = &plan.exemption {
            warn!(
                user = user_name,
                tag = %self.settings.exempt_tag_key,
                value = %value,
                "exemption tag is neither true nor YYYY-MM-DD; treating the user as exempt"
            );
        }

        let mut failures = Vec::new();
        // The snapshot may be seconds old: one fresh read before any deletion, so a key
        // someone re-activated since is not deleted. `None` when that read failed.
        let statuses_now = if plan.keys.iter().any(|d| d.verdict == Verdict::Delete) {
            match at.iam.list_access_keys(user_name).await {
                Ok(keys) => Some(
                    keys.unwrap_or_default()
                        .into_iter()
                        .map(|key| (key.access_key_id, key.status))
                        .collect(),
                ),
                Err(error) => {
                    failures.push(error);
                    None
                }
            }
        } else {
            Some(BTreeMap::new())
        };
        let mut key_reports = Vec::with_capacity(plan.keys.len());
        for decision in &plan.keys {
            let outcome = self
                .carry_out(at, user_name, decision, now, statuses_now.as_ref())
                .await;
            let (action, reason) = match outcome {
                Ok(done) => done,
                Err(error) => {
                    let reason = format!(
                        "{}; {:?} failed: {}",
                        decision.reason,
                        decision.verdict,
                        error_chain(&error)
                    );
                    failures.push(error);
                    (Action::Failed, reason)
                }
            };
            info!(
                user = user_name,
                access_key_id = %decision.key.access_key_id,
                action = action.as_str(),
                reason = %reason,
                "key decision"
            );
            key_reports.push(KeyReport {
                access_key_id: decision.key.access_key_id.clone(),
                status: decision.key.status,
                create_date: decision.key.created,
                last_used_date: decision.key.last_used,
                age_days: decision.age_days,
                action,
                reason,
            });
        }

        if !plan.stale_markers.is_empty() {
            match at.iam.untag_user(user_name, &plan.stale_markers).await {
                Ok(_) => {
                    info!(user = user_name, markers = ?plan.stale_markers, "removed stale markers")
                }
                Err(error) => failures.push(error),
            }
        }

        Ok(Some(UserRemediation {
            report: UserReport {
                user_name: user_name.to_owned(),
                user_id: user_id.map(str::to_owned),
                exempt: plan.exemption.is_exempt(),
                keys: key_reports,
            },
            failures,
        }))
    }

    /// The user's keys (with last use) and tags, read concurrently.
    async fn snapshot(
        &self,
        at: &AccountClients<I, C>,
        user_name: &str,
    ) -> Result<Option<(Vec<AccessKey>, BTreeMap<String, String>)>, AwsError> {
        let (keys, tags) = tokio::try_join!(
            at.iam.list_access_keys(user_name),
            at.iam.list_user_tags(user_name)
        )?;
        let (Some(mut keys), Some(tags)) = (keys, tags) else {
            return Ok(None);
        };
        let last_used = try_join_all(
            keys.iter()
                .map(|key| at.iam.key_last_used(&key.access_key_id)),
        )
        .await?;
        for (key, last_used) in keys.iter_mut().zip(last_used) {
            key.last_used = last_used;
        }
        Ok(Some((keys, tags)))
    }

    /// Makes the IAM calls a verdict needs; returns the action to report and why.
    /// `statuses_now` is the fresh read of key statuses a deletion checks against.
    async fn carry_out(
        &self,
        at: &AccountClients<I, C>,
        user_name: &str,
        decision: &KeyDecision,
        now: OffsetDateTime,
        statuses_now: Option<&BTreeMap<String, KeyStatus>>,
    ) -> Result<(Action, String), AwsError> {
        let key_id = &decision.key.access_key_id;
        let reason = decision.reason.clone();
        let marker = marker_tag_key(key_id);
        match decision.verdict {
            Verdict::Leave(action) => Ok((action, reason)),
            Verdict::Deactivate => {
                if at.iam.deactivate_key(user_name, key_id).await? == WriteOutcome::AlreadyGone {
                    return Ok((
                        Action::Deactivated,
                        format!("{reason}; the key was already gone"),
                    ));
                }
                at.iam
                    .tag_user(user_name, &marker, &marker_tag_value(now))
                    .await?;
                Ok((Action::Deactivated, reason))
            }
            Verdict::Mark => {
                at.iam
                    .tag_user(user_name, &marker, &marker_tag_value(now))
                    .await?;
                Ok((Action::Marked, reason))
            }
            Verdict::Delete => {
                let Some(statuses_now) = statuses_now else {
                    return Ok((
                        Action::Failed,
                        format!("{reason}; not deleted: its status could not be re-read"),
                    ));
                };
                let reason = match statuses_now.get(key_id) {
                    Some(KeyStatus::Active) => {
                        return Ok((
                            Action::Pending,
                            "re-activated since it was read; not deleted".to_owned(),
                        ));
                    }
                    None => format!("{reason}; the key was already gone"),
                    Some(KeyStatus::Inactive) => {
                        at.iam.delete_key(user_name, key_id).await?;
                        reason
                    }
                };
                at.iam
                    .untag_user(user_name, std::slice::from_ref(&marker))
                    .await?;
                Ok((Action::Deleted, reason))
            }
        }
    }
}

/// Whether the Lambda deadline is too close to start another user or account.
fn out_of_time(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| {
        deadline.saturating_duration_since(Instant::now()) < SWEEP_DEADLINE_MARGIN
    })
}

/// The report, or, when some calls failed, the error that makes Lambda retry. The report is
/// logged either way, so what was done is on record even when the invocation fails.
fn finish(report: Report, failures: Vec<AwsError>) -> Result<Report, HandlerError> {
    let mut failures = failures.into_iter();
    match failures.next() {
        None => Ok(report),
        Some(first) => {
            log_summary(&report);
            Err(HandlerError::Incomplete {
                failed: 1 + failures.len(),
                first,
                report: Box::new(report),
            })
        }
    }
}

/// An error and its sources, outermost first: "IAM TagUser failed: service error: …".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut previous = text.clone();
    let mut source = error.source();
    while let Some(cause) = source {
        // The SDK's modelled errors repeat their message as their own cause.
        let message = cause.to_string();
        if message != previous {
            text.push_str(": ");
            text.push_str(&message);
        }
        previous = message;
        source = cause.source();
    }
    text
}

fn log_summary(report: &Report) {
    let count = |action| report.summary.count(action);
    info!(
        trigger = report.trigger.as_str(),
        mode = report.mode.as_str(),
        account = report.account.as_deref().unwrap_or(""),
        outcome = report.outcome.as_str(),
        reason = report.reason.as_deref().unwrap_or(""),
        deactivated = count(Action::Deactivated),
        deleted = count(Action::Deleted),
        marked = count(Action::Marked),
        pending = count(Action::Pending),
        kept = count(Action::Kept),
        exempt = count(Action::Exempt),
        deferred = count(Action::Deferred),
        failed = count(Action::Failed),
        would_deactivate = count(Action::WouldDeactivate),
        would_delete = count(Action::WouldDelete),
        "invocation summary"
    );
}
