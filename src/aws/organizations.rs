//! AWS Organizations, read from the central account (the management account or a delegated
//! administrator): the tree of roots, units and accounts, each account's parents, and the
//! mode tags. Every call is a read; the function never changes the organisation.
//! `AwsOrganization` answers the port over the SDK, `fake::FakeOrganization` in memory.
//!
//! The port's futures are boxed so that it can sit behind `dyn` (one client, in the central
//! account only, rather than a type parameter through the whole pipeline).

use aws_sdk_organizations::Client;
use aws_sdk_organizations::error::SdkError;
use aws_sdk_organizations::operation::list_parents::ListParentsError;
use aws_sdk_organizations::types::Account;
use futures::future::BoxFuture;

use super::AwsError;
use super::findings::failed;
use crate::domain::ids::AccountId;
use crate::domain::org::{AccountState, MODE_TAG_KEY, UnitId};

/// An account as ListAccountsForParent lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub account: AccountId,
    pub state: AccountState,
}

/// The organisation's tree, every list read to its last page.
pub trait OrganizationTree: Send + Sync {
    /// ListRoots: the organisation's root (there is one today).
    fn roots(&self) -> BoxFuture<'_, Result<Vec<UnitId>, AwsError>>;

    /// ListOrganizationalUnitsForParent: the units directly under `parent`.
    fn units_under<'a>(
        &'a self,
        parent: &'a UnitId,
    ) -> BoxFuture<'a, Result<Vec<UnitId>, AwsError>>;

    /// ListAccountsForParent: the accounts directly under `parent`.
    fn accounts_under<'a>(
        &'a self,
        parent: &'a UnitId,
    ) -> BoxFuture<'a, Result<Vec<OrgAccount>, AwsError>>;

    /// ListParents: the unit or root directly above an account or unit (`child` is an account
    /// id or `ou-…`). `None` when Organizations does not know the child
    /// (ChildNotFoundException): an account that is not, or no longer, in the organisation.
    fn parent_of<'a>(&'a self, child: &'a str) -> BoxFuture<'a, Result<Option<UnitId>, AwsError>>;

    /// ListTagsForResource: the value of the `access-key-remediator:mode` tag on an account,
    /// unit or root, as written; `None` without one.
    fn mode_tag<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<String>, AwsError>>;
}

// ---------------------------------------------------------------------------------------------
// The SDK adapter
// ---------------------------------------------------------------------------------------------

const SERVICE: &str = "Organizations";

/// Organizations over the SDK: the one place that calls it.
#[derive(Debug, Clone)]
pub struct AwsOrganization {
    client: Client,
}

impl AwsOrganization {
    pub fn new(client: Client) -> Self {
        AwsOrganization { client }
    }
}

/// The SDK's failure of `operation`, after its retries.
fn sdk_failed<E>(operation: &'static str) -> impl FnOnce(E) -> AwsError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| failed(SERVICE, operation)(Box::new(error))
}

/// An answer of `operation` that cannot be what Organizations sends: the id the caller would
/// walk or plan from is missing or malformed, so nothing is guessed from it.
#[derive(Debug, thiserror::Error)]
#[error("Organizations answered {what}")]
struct Malformed {
    what: String,
}

fn malformed(operation: &'static str, what: String) -> AwsError {
    sdk_failed(operation)(Malformed { what })
}

fn unit_id(operation: &'static str, id: Option<&str>) -> Result<UnitId, AwsError> {
    let id = id.ok_or_else(|| malformed(operation, "a root or unit without an id".to_owned()))?;
    UnitId::parse(id).map_err(sdk_failed(operation))
}

/// An account of ListAccountsForParent. `State` is Organizations' newer field; `Status`, which
/// it replaces, is read when `State` is absent.
fn org_account(account: &Account) -> Result<OrgAccount, AwsError> {
    const OPERATION: &str = "ListAccountsForParent";
    let id = account
        .id()
        .ok_or_else(|| malformed(OPERATION, "an account without an id".to_owned()))?;
    let account_id = AccountId::parse(id).map_err(sdk_failed(OPERATION))?;
    let state = account.state().map(|state| state.as_str());
    let state = state.or_else(|| account.status().map(|status| status.as_str()));
    let state =
        state.ok_or_else(|| malformed(OPERATION, format!("account {id} without a state")))?;
    Ok(OrgAccount {
        account: account_id,
        state: AccountState::parse(state),
    })
}

impl OrganizationTree for AwsOrganization {
    fn roots(&self) -> BoxFuture<'_, Result<Vec<UnitId>, AwsError>> {
        Box::pin(async move {
            const OPERATION: &str = "ListRoots";
            let pages = self.client.list_roots().into_paginator().send();
            let pages = pages.try_collect().await.map_err(sdk_failed(OPERATION))?;
            let roots = pages.iter().flat_map(|page| page.roots());
            roots.map(|root| unit_id(OPERATION, root.id())).collect()
        })
    }

    fn units_under<'a>(
        &'a self,
        parent: &'a UnitId,
    ) -> BoxFuture<'a, Result<Vec<UnitId>, AwsError>> {
        Box::pin(async move {
            const OPERATION: &str = "ListOrganizationalUnitsForParent";
            let request = self.client.list_organizational_units_for_parent();
            let pages = request.parent_id(parent.as_str()).into_paginator().send();
            let pages = pages.try_collect().await.map_err(sdk_failed(OPERATION))?;
            let units = pages.iter().flat_map(|page| page.organizational_units());
            units.map(|unit| unit_id(OPERATION, unit.id())).collect()
        })
    }

    fn accounts_under<'a>(
        &'a self,
        parent: &'a UnitId,
    ) -> BoxFuture<'a, Result<Vec<OrgAccount>, AwsError>> {
        Box::pin(async move {
            let request = self.client.list_accounts_for_parent();
            let pages = request.parent_id(parent.as_str()).into_paginator().send();
            let pages = pages
                .try_collect()
                .await
                .map_err(sdk_failed("ListAccountsForParent"))?;
            let accounts = pages.iter().flat_map(|page| page.accounts());
            accounts.map(org_account).collect()
        })
    }

    fn parent_of<'a>(&'a self, child: &'a str) -> BoxFuture<'a, Result<Option<UnitId>, AwsError>> {
        Box::pin(async move {
            const OPERATION: &str = "ListParents";
            let mut pages = self
                .client
                .list_parents()
                .child_id(child)
                .into_paginator()
                .send();
            // A child has one parent; a page may come back empty with a NextToken all the same.
            while let Some(page) = pages.next().await {
                let page = match page {
                    Ok(page) => page,
                    Err(error) if is_child_not_found(&error) => return Ok(None),
                    Err(error) => return Err(sdk_failed(OPERATION)(error)),
                };
                if let Some(parent) = page.parents().first() {
                    return unit_id(OPERATION, parent.id()).map(Some);
                }
            }
            Ok(None)
        })
    }

    fn mode_tag<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<String>, AwsError>> {
        Box::pin(async move {
            let request = self.client.list_tags_for_resource().resource_id(id);
            let mut tags = request.into_paginator().items().send();
            while let Some(tag) = tags.next().await {
                let tag = tag.map_err(sdk_failed("ListTagsForResource"))?;
                if tag.key() == MODE_TAG_KEY {
                    return Ok(Some(tag.value().to_owned()));
                }
            }
            Ok(None)
        })
    }
}

fn is_child_not_found<R>(error: &SdkError<ListParentsError, R>) -> bool {
    error
        .as_service_error()
        .is_some_and(ListParentsError::is_child_not_found_exception)
}
