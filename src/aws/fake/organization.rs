//! An in-memory organisation behind the `OrganizationTree` port, for tests of discovery and of
//! the mode lookup that need no emulator: one root, units and accounts in the order they were
//! added (which is the order it lists them in), mode tags, denied operations and per-operation
//! call counts under the SDK's names. A clone shares the organisation: a test keeps one handle
//! to change it (move an account, retag a unit) between the function's calls.
//!
//! It answers as the SDK adapter answers over Organizations: ListParents of a child it does
//! not know is `None` (ChildNotFoundException), ListTagsForResource of an id it does not know
//! is TargetNotFoundException, and a denied operation is AccessDeniedException.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;

use super::faults::aws_error;
use super::lock;
use crate::aws::AwsError;
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::organizations::{OrgAccount, OrganizationTree};
use crate::domain::ids::AccountId;
use crate::domain::org::{AccountState, UnitId};
use crate::report::ApiCalls;

/// The Organizations operations the fake answers, by their SDK names.
pub const ORGANIZATION_OPERATIONS: [&str; 5] = [
    "ListRoots",
    "ListOrganizationalUnitsForParent",
    "ListAccountsForParent",
    "ListParents",
    "ListTagsForResource",
];

/// A misspelt operation would never be denied, and the test would pass for the wrong reason.
#[track_caller]
fn known_operation(operation: &str) -> &'static str {
    let known = ORGANIZATION_OPERATIONS
        .into_iter()
        .find(|known| *known == operation);
    known.unwrap_or_else(|| {
        panic!("the fake organisation has no operation {operation:?}: {ORGANIZATION_OPERATIONS:?}")
    })
}

#[derive(Debug)]
struct State {
    root: UnitId,
    /// Each unit and its parent, in the order added.
    units: Vec<(UnitId, UnitId)>,
    /// Each account, its parent and state, in the order added.
    accounts: Vec<(OrgAccount, UnitId)>,
    /// The mode tag's value, by the id of what carries it.
    tags: BTreeMap<String, String>,
    denied: BTreeSet<&'static str>,
    api_calls: ApiCallCounter,
}

impl State {
    fn knows(&self, id: &str) -> bool {
        self.root.as_str() == id
            || self.units.iter().any(|(unit, _)| unit.as_str() == id)
            || self
                .accounts
                .iter()
                .any(|(account, _)| account.account == *id)
    }

    /// The unit or root directly above a unit or account; `None` for the root and strangers.
    fn parent_of(&self, child: &str) -> Option<UnitId> {
        let units = self
            .units
            .iter()
            .map(|(unit, parent)| (unit.as_str(), parent));
        let accounts = self.accounts.iter();
        let accounts = accounts.map(|(account, parent)| (account.account.as_str(), parent));
        let mut children = units.chain(accounts);
        let found = children.find(|(id, _)| *id == child);
        found.map(|(_, parent)| parent.clone())
    }

    #[track_caller]
    fn parent(&self, id: &str) -> UnitId {
        let unit = UnitId::parse(id).expect("a valid root or unit id");
        assert!(
            self.knows(unit.as_str()),
            "the fake organisation has no root or unit {id:?}"
        );
        unit
    }

    #[track_caller]
    fn account(&mut self, id: &str) -> &mut (OrgAccount, UnitId) {
        let mut accounts = self.accounts.iter_mut();
        let found = accounts.find(|(account, _)| account.account == *id);
        found.unwrap_or_else(|| panic!("the fake organisation has no account {id:?}"))
    }
}

/// One organisation in memory; see the module doc.
#[derive(Debug, Clone)]
pub struct FakeOrganization {
    state: Arc<Mutex<State>>,
}

impl FakeOrganization {
    /// An organisation with only its root, `r-…`.
    #[track_caller]
    pub fn new(root: &str) -> FakeOrganization {
        let state = State {
            root: UnitId::parse(root).expect("a valid root id"),
            units: Vec::new(),
            accounts: Vec::new(),
            tags: BTreeMap::new(),
            denied: BTreeSet::new(),
            api_calls: ApiCallCounter::default(),
        };
        FakeOrganization {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Counts its calls in `counter` too (shared with the other fakes, say), from now on.
    pub fn with_api_calls(self, counter: ApiCallCounter) -> FakeOrganization {
        self.state().api_calls = counter;
        self
    }

    #[track_caller]
    pub fn with_unit(self, id: &str, parent: &str) -> FakeOrganization {
        self.add_unit(id, parent);
        self
    }

    #[track_caller]
    pub fn with_account(self, id: &str, parent: &str, state: AccountState) -> FakeOrganization {
        self.add_account(id, parent, state);
        self
    }

    /// The mode tag `value` on an account, unit or root, which need not be added yet.
    pub fn with_tag(self, id: &str, value: &str) -> FakeOrganization {
        self.set_tag(id, Some(value));
        self
    }

    pub fn root(&self) -> UnitId {
        self.state().root.clone()
    }

    /// A unit `ou-…` under `parent`, the root or a unit added before.
    #[track_caller]
    pub fn add_unit(&self, id: &str, parent: &str) -> &FakeOrganization {
        let mut state = self.state();
        let parent = state.parent(parent);
        let unit = UnitId::parse(id).expect("a valid unit id");
        assert!(!state.knows(id), "the fake organisation already has {id:?}");
        state.units.push((unit, parent));
        self
    }

    /// An account joining the organisation under `parent`, last in its parent's listing.
    #[track_caller]
    pub fn add_account(&self, id: &str, parent: &str, state: AccountState) -> &FakeOrganization {
        let mut org = self.state();
        let parent = org.parent(parent);
        let account = AccountId::parse(id).expect("a valid account id");
        assert!(!org.knows(id), "the fake organisation already has {id:?}");
        org.accounts.push((OrgAccount { account, state }, parent));
        self
    }

    /// The account moves under `parent`; it keeps its place in the listing order.
    #[track_caller]
    pub fn move_account(&self, id: &str, parent: &str) -> &FakeOrganization {
        let mut state = self.state();
        let parent = state.parent(parent);
        state.account(id).1 = parent;
        self
    }

    #[track_caller]
    pub fn set_state(&self, id: &str, account_state: AccountState) -> &FakeOrganization {
        self.state().account(id).0.state = account_state;
        self
    }

    /// The account leaves the organisation: ListParents then knows it no more.
    #[track_caller]
    pub fn remove_account(&self, id: &str) -> &FakeOrganization {
        let mut state = self.state();
        state.account(id);
        state.accounts.retain(|(account, _)| account.account != *id);
        self
    }

    /// Sets (`Some`) or removes (`None`) the mode tag on an account, unit or root.
    pub fn set_tag(&self, id: &str, value: Option<&str>) -> &FakeOrganization {
        let mut state = self.state();
        match value {
            Some(value) => state.tags.insert(id.to_owned(), value.to_owned()),
            None => state.tags.remove(id),
        };
        self
    }

    /// Every call of `operation` from now on is AccessDeniedException, as Organizations
    /// answers an account that is neither the management account nor a delegated
    /// administrator.
    #[track_caller]
    pub fn deny(&self, operation: &str) -> &FakeOrganization {
        self.state().denied.insert(known_operation(operation));
        self
    }

    /// Lifts `deny(operation)`.
    #[track_caller]
    pub fn allow(&self, operation: &str) -> &FakeOrganization {
        self.state().denied.remove(known_operation(operation));
        self
    }

    /// The Organizations calls made, by operation (only these, should the counter be shared).
    pub fn calls(&self) -> ApiCalls {
        let calls = self.state().api_calls.snapshot();
        let calls = calls.into_iter();
        calls
            .filter(|(operation, _)| ORGANIZATION_OPERATIONS.contains(&operation.as_str()))
            .collect()
    }

    /// Counts the call, then answers it from the organisation unless it is denied.
    fn answer<T>(
        &self,
        operation: &'static str,
        read: impl FnOnce(&State) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let state = self.state();
        state.api_calls.record(operation);
        if state.denied.contains(operation) {
            let message = "You don't have permissions to access this resource.".to_owned();
            return Err(aws_error(
                "Organizations",
                operation,
                "AccessDeniedException",
                message,
            ));
        }
        read(&state)
    }
}

/// What is directly under `parent`, in the order added.
fn children<T: Clone>(listed: &[(T, UnitId)], parent: &UnitId) -> Vec<T> {
    let under = listed.iter().filter(|(_, above)| above == parent);
    under.map(|(child, _)| child.clone()).collect()
}

impl OrganizationTree for FakeOrganization {
    fn roots(&self) -> BoxFuture<'_, Result<Vec<UnitId>, AwsError>> {
        Box::pin(async move { self.answer("ListRoots", |state| Ok(vec![state.root.clone()])) })
    }

    fn units_under<'a>(
        &'a self,
        parent: &'a UnitId,
    ) -> BoxFuture<'a, Result<Vec<UnitId>, AwsError>> {
        Box::pin(async move {
            self.answer("ListOrganizationalUnitsForParent", |state| {
                Ok(children(&state.units, parent))
            })
        })
    }

    fn accounts_under<'a>(
        &'a self,
        parent: &'a UnitId,
    ) -> BoxFuture<'a, Result<Vec<OrgAccount>, AwsError>> {
        Box::pin(async move {
            self.answer("ListAccountsForParent", |state| {
                Ok(children(&state.accounts, parent))
            })
        })
    }

    fn parent_of<'a>(&'a self, child: &'a str) -> BoxFuture<'a, Result<Option<UnitId>, AwsError>> {
        Box::pin(async move { self.answer("ListParents", |state| Ok(state.parent_of(child))) })
    }

    fn mode_tag<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<String>, AwsError>> {
        Box::pin(async move {
            self.answer("ListTagsForResource", |state| {
                if !state.knows(id) {
                    let message = format!("You specified a target {id} that doesn't exist.");
                    let code = "TargetNotFoundException";
                    return Err(aws_error(
                        "Organizations",
                        "ListTagsForResource",
                        code,
                        message,
                    ));
                }
                Ok(state.tags.get(id).cloned())
            })
        })
    }
}

#[cfg(test)]
mod tests;
