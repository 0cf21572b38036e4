//! Notify: after a user's keys are applied, one notice about the keys warned, deactivated or
//! deleted, to the stack's SNS topic (and by SES to an owner who is an email address), with
//! each key's recent callers from CloudTrail in the user's account.
//!
//! A notice is told, never acted on: a failed lookup is said in the text, a failed send is
//! logged and reported (`notice.error`, `noticesFailed`), and neither undoes a write or fails
//! the invocation. Report mode sends none, so a first deploy is silent.

use std::collections::BTreeMap;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use time::OffsetDateTime;
use tracing::{error, info};

use crate::aws::{Findings, KeyActivity, Notices, error_chain};
use crate::domain::ids::AccountId;
use crate::domain::notice::{
    self, KeyFacts, Notice, NoticeAction, NoticeFacts, RECENT_CALLS_SHOWN, RecentCalls,
};
use crate::domain::policy::{Mode, Policy, UserPlan};
use crate::report::{Action, EmailReport, NoticeReport, UserReport};
use crate::settings::NoticeSettings;

/// LookupEvents allows 2 requests a second per account and region. One request every half
/// second, with no burst, keeps any one-second window at 2 however the calls line up.
const LOOKUP_PERIOD: Duration = Duration::from_millis(500);

/// One account's turn-taking for CloudTrail LookupEvents, kept for the container's life and
/// shared by every user a sweep has in flight there.
#[derive(Debug)]
pub struct LookupRate {
    limiter: DefaultDirectRateLimiter,
}

impl Default for LookupRate {
    fn default() -> Self {
        let quota = Quota::with_period(LOOKUP_PERIOD).expect("a non-zero period");
        LookupRate {
            limiter: RateLimiter::direct(quota),
        }
    }
}

impl LookupRate {
    /// Returns once a LookupEvents may be sent.
    pub async fn turn(&self) {
        self.limiter.until_ready().await;
    }
}

/// What the stage sends through: the home account's SNS and SES, the notice settings, the
/// account the user is in, and that account's LookupEvents turn-taking.
pub(super) struct Notifier<'a, F> {
    pub home: &'a F,
    pub settings: &'a NoticeSettings,
    pub account: Option<AccountId>,
    pub lookups: std::sync::Arc<LookupRate>,
}

/// What one user's pass decided and did, as the notice needs it.
pub(super) struct Acted<'a> {
    pub report: &'a UserReport,
    pub plan: &'a UserPlan,
    pub tags: &'a BTreeMap<String, String>,
    pub policy: &'a Policy,
    pub now: OffsetDateTime,
}

fn notice_action(action: Action) -> Option<NoticeAction> {
    match action {
        Action::Warned => Some(NoticeAction::Warned),
        Action::Deactivated => Some(NoticeAction::Deactivated),
        Action::Deleted => Some(NoticeAction::Deleted),
        _ => None,
    }
}

/// The user's notice, sent; `None` when none is due: no topic, report mode, or no key warned,
/// deactivated or deleted.
pub(super) async fn notify<F: Findings>(
    notifier: &Notifier<'_, F>,
    at: &F,
    acted: &Acted<'_>,
) -> Option<NoticeReport> {
    let topic_arn = notifier.settings.topic_arn.as_deref()?;
    if acted.policy.mode == Mode::Report {
        return None;
    }
    let keys = key_facts(notifier, at, acted).await;
    if keys.is_empty() {
        return None;
    }
    let user_name = acted.report.user_name.as_str();
    let owner = notice::owner_of(user_name, acted.tags, &notifier.settings.owner_tag_key);
    let notice = notice::compose(&NoticeFacts {
        account: notifier.account.as_ref(),
        user_name,
        owner: owner.as_deref(),
        keys: &keys,
        no_tag_slot: acted.report.no_tag_slot,
        policy: acted.policy,
        now: acted.now,
    });
    let mut report = match notifier.home.publish(topic_arn, &notice).await {
        Ok(message_id) => {
            info!(user = user_name, message_id = %message_id, "owner notice published");
            NoticeReport {
                sent: true,
                message_id: Some(message_id),
                error: None,
                email: None,
            }
        }
        Err(failure) => {
            let message = error_chain(&failure);
            error!(user = user_name, error = %message, "owner notice not published");
            NoticeReport {
                sent: false,
                message_id: None,
                error: Some(message),
                email: None,
            }
        }
    };
    if let (Some(from), Some(to)) = (&notifier.settings.ses_from, owner)
        && notice::is_email(&to)
    {
        report.email = Some(email(notifier.home, from, to, &notice).await);
    }
    Some(report)
}

/// The facts of each key the notice is about, with its recent callers.
async fn key_facts<F: KeyActivity>(
    notifier: &Notifier<'_, F>,
    at: &F,
    acted: &Acted<'_>,
) -> Vec<KeyFacts> {
    let mut facts = Vec::new();
    for key in &acted.report.keys {
        let Some(action) = notice_action(key.action) else {
            continue;
        };
        let mut decided = acted.plan.keys.iter().map(|decision| &decision.key);
        let Some(snapshot) = decided.find(|seen| seen.access_key_id == key.access_key_id) else {
            continue;
        };
        notifier.lookups.turn().await;
        let recent_calls = match at
            .recent_calls(&key.access_key_id, RECENT_CALLS_SHOWN)
            .await
        {
            Ok(calls) => RecentCalls::Found(calls),
            Err(failure) => RecentCalls::Unavailable(error_chain(&failure)),
        };
        facts.push(KeyFacts {
            access_key_id: key.access_key_id.clone(),
            action,
            reason: key.reason.clone(),
            created: snapshot.created,
            last_used: snapshot.last_used,
            last_used_service: snapshot.last_used_service.clone(),
            last_used_region: snapshot.last_used_region.clone(),
            recent_calls,
        });
    }
    facts
}

async fn email<F: Notices>(home: &F, from: &str, to: String, notice: &Notice) -> EmailReport {
    match home.email(from, &to, notice).await {
        Ok(message_id) => EmailReport {
            to,
            sent: true,
            message_id: Some(message_id),
            error: None,
        },
        Err(failure) => {
            let message = error_chain(&failure);
            error!(to = %to, error = %message, "owner notice not emailed");
            EmailReport {
                to,
                sent: false,
                message_id: None,
                error: Some(message),
            }
        }
    }
}
