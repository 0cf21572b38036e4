//! The mode an account runs in when ORG_MODE_TAGS is on: the nearest `access-key-remediator:mode`
//! tag in AWS Organizations (the account's own, or an OU's or the root's above it), lowered to
//! what the account's role permits. Both lookups are kept for ORG_CACHE_TTL_SECONDS, so events
//! do not call Organizations each time, and a changed tag takes effect within that time.

use std::sync::Arc;
use std::time::Instant;

use tracing::{info, warn};

use super::discover::ancestry;
use super::outcome::RemediationError;
use super::remediator::Remediator;
use crate::aws::accounts::{AccountClients, HomeAccount};
use crate::aws::organizations::OrganizationTree;
use crate::aws::{Config, Findings, Iam};
use crate::domain::ids::AccountId;
use crate::domain::org::{
    CEILING_TAG_KEY, ModeSource, ModeTags, mode_for, parse_mode, within_ceiling,
};
use crate::domain::policy::{Mode, Policy};

/// The mode an account runs in, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountMode {
    pub mode: Mode,
    pub source: ModeSource,
    /// What the tags asked for, when the role's ceiling lowered it.
    pub asked: Option<Mode>,
}

impl AccountMode {
    /// What the report should say about this mode, if anything is unusual.
    pub fn warnings(&self, account: &AccountId) -> Vec<String> {
        let mut warnings = Vec::new();
        if let ModeSource::InvalidTag { on, value } = &self.source {
            warnings.push(format!(
                "account {account}: the access-key-remediator:mode tag on {on} is {value:?}, not \
                 report, deactivate or delete; the account runs in report"
            ));
        }
        if let Some(asked) = self.asked {
            warnings.push(lowered_by_ceiling(account, asked, self.mode));
        }
        warnings
    }
}

/// The warning for an account whose role's ceiling lowered the mode it was asked to run in.
pub(super) fn lowered_by_ceiling(account: &AccountId, asked: Mode, ceiling: Mode) -> String {
    format!(
        "account {account}: the tags ask for {}, but its role permits at most {}; it runs in {}",
        asked.as_str(),
        ceiling.as_str(),
        ceiling.as_str()
    )
}

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    /// The policy to act with in `account` (reached through `at`), and the account's mode
    /// when tags decide it. Without ORG_MODE_TAGS, the stack's own policy.
    pub(super) async fn policy_in(
        &self,
        at: &AccountClients<I, C, F>,
        account: Option<&AccountId>,
        home: Option<&HomeAccount>,
    ) -> Result<(Policy, Option<AccountMode>), RemediationError> {
        let (true, Some(account)) = (self.settings.organization.mode_tags, account) else {
            return Ok((self.settings.policy.clone(), None));
        };
        let now = Instant::now();
        let mode = match self.memo.account_modes.get(account, now) {
            Some(mode) => mode,
            None => {
                let (asked, source) = self.tagged_mode(account).await?;
                let ceiling = self.ceiling(at, account, home).await?;
                let (mode, lowered) = within_ceiling(asked, ceiling);
                let mode = AccountMode {
                    mode,
                    source,
                    asked: lowered,
                };
                info!(%account, mode = mode.mode.as_str(), source = ?mode.source, "account mode");
                self.memo
                    .account_modes
                    .insert(account.clone(), mode.clone(), now);
                mode
            }
        };
        let policy = Policy {
            mode: mode.mode,
            ..self.settings.policy.clone()
        };
        Ok((policy, Some(mode)))
    }

    /// The mode the account's nearest tag asks for: ListParents up to the root and
    /// ListTagsForResource on the account and each parent.
    pub(super) async fn tagged_mode(
        &self,
        account: &AccountId,
    ) -> Result<(Mode, ModeSource), RemediationError> {
        let failed = |source| RemediationError::AccountMode {
            account: account.clone(),
            source,
        };
        let organization = self.organization()?.as_ref();
        let mut tags = ModeTags::new();
        if let Some(value) = organization
            .mode_tag(account.as_str())
            .await
            .map_err(failed)?
        {
            tags.insert(account.as_str().to_owned(), value);
        }
        let parents = ancestry(organization, account.as_str(), true, &mut tags);
        let parents = parents.await.map_err(failed)?;
        Ok(mode_for(
            account,
            &parents,
            &tags,
            self.settings.policy.mode,
        ))
    }

    /// The most the account's role permits: in the function's own account, its own stack's
    /// mode; in a member account, the member role's ceiling tag (cached like the mode), or the
    /// stack's mode when the role carries none.
    pub(super) async fn ceiling(
        &self,
        at: &AccountClients<I, C, F>,
        account: &AccountId,
        home: Option<&HomeAccount>,
    ) -> Result<Mode, RemediationError> {
        let own_mode = self.settings.policy.mode;
        let is_home = home.is_some_and(|home| home.account_id == *account);
        let Some(role) = self.settings.member_role.as_ref().filter(|_| !is_home) else {
            return Ok(own_mode);
        };
        let now = Instant::now();
        if let Some(ceiling) = self.memo.ceilings.get(account, now) {
            return Ok(ceiling);
        }
        let tag = at.iam.role_tag(&role.name, CEILING_TAG_KEY).await;
        let tag = tag.map_err(|source| RemediationError::Ceiling {
            account: account.clone(),
            source,
        })?;
        let ceiling = match tag.as_deref().map(|value| (value, parse_mode(value))) {
            Some((_, Some(ceiling))) => ceiling,
            Some((value, None)) => {
                warn!(%account, value, "the member role's ceiling tag is not a mode; the stack's mode is its ceiling");
                own_mode
            }
            None => own_mode,
        };
        self.memo.ceilings.insert(account.clone(), ceiling, now);
        Ok(ceiling)
    }

    pub(super) fn organization(&self) -> Result<&Arc<dyn OrganizationTree>, RemediationError> {
        let organization = self.organization.as_ref();
        organization.ok_or(RemediationError::NoOrganization)
    }
}
