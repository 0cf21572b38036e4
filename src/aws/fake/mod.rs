//! An in-memory IAM account and Config inventory behind the same ports as the SDK adapters,
//! for table tests of the pipeline and handler that need no emulator (and an organisation,
//! `organization`, behind Organizations' port, and S3's sweep objects, `run_store`, behind
//! `RunStore`).
//!
//! It answers as the SDK adapters answer over real IAM, not as an idealised store: a missing
//! user or key is NoSuchEntity (a read answers `None`, a write counts as done), a TagUser past
//! 50 tags is LimitExceeded, tag keys are unique ignoring ASCII case, and each call is counted
//! under its SDK operation name, so call budgets can be checked here too. Faults are injected
//! per operation (and user) with IAM's error codes. A clone shares the account: a test keeps
//! one handle to inspect what the function did through another.
//!
//! This file holds the account and the test's side of it (seeding, faults, hooks, inspection);
//! `directory` answers the function's calls.

mod credential_report;
mod directory;
mod faults;
mod findings;
mod inventory;
mod organization;
mod run_store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use time::OffsetDateTime;

pub use self::credential_report::REPORT_HEADER;
pub use self::faults::{ErrorKind, FakeError, Fault};
pub use self::findings::{FakeFindings, SentEmail};
pub use self::inventory::FakeInventory;
pub use self::organization::{FakeOrganization, ORGANIZATION_OPERATIONS};
pub use self::run_store::{FakeRunStore, RUN_STORE_OPERATIONS};
use crate::aws::api_calls::ApiCallCounter;
use crate::domain::ids::{AccessKeyId, UserId};
use crate::domain::user::{AccessKey, KeyStatus};

/// IAM's quota of tags per user.
pub const TAGS_PER_USER: usize = 50;

/// The IAM operations the fake answers, by their SDK names.
pub const OPERATIONS: &str = "ListUsers GetUser GenerateCredentialReport GetCredentialReport \
    ListAccessKeys ListUserTags GetAccessKeyLastUsed UpdateAccessKey DeleteAccessKey TagUser UntagUser \
    ListRoleTags";

const ACCOUNT: &str = "123456789012";

/// A misspelt operation would never fire, and the test would pass for the wrong reason.
#[track_caller]
fn known_operation(operation: &str) -> &'static str {
    match OPERATIONS
        .split_whitespace()
        .find(|known| *known == operation)
    {
        Some(known) => known,
        None => panic!("the fake IAM has no operation {operation:?}: {OPERATIONS}"),
    }
}

// A panicking test must not turn every later lock into a second, misleading panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One user as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    pub user_name: String,
    pub user_id: UserId,
    /// In creation order, as ListAccessKeys lists them.
    pub keys: Vec<AccessKey>,
    pub tags: BTreeMap<String, String>,
}

/// A write the fake applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Deactivated {
        user: String,
        key: AccessKeyId,
    },
    Deleted {
        user: String,
        key: AccessKeyId,
    },
    Tagged {
        user: String,
        key: String,
        value: String,
    },
    Untagged {
        user: String,
        keys: Vec<String>,
    },
}

/// An action a test set to run just before a call; see `FakeIam::before_call`.
struct Hook {
    operation: &'static str,
    calls_left: u32,
    action: Box<dyn FnOnce(&FakeIam) + Send>,
}

#[derive(Default)]
struct State {
    users: BTreeMap<String, FakeUser>,
    /// Each role's tags, by role name.
    roles: BTreeMap<String, BTreeMap<String, String>>,
    writes: Vec<Write>,
    faults: Vec<Fault>,
    hooks: Vec<Hook>,
    api_calls: ApiCallCounter,
}

/// One IAM account (123456789012) in memory; see the module doc.
#[derive(Clone, Default)]
pub struct FakeIam {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for FakeIam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users = self.state().users.clone();
        f.debug_struct("FakeIam")
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

impl FakeIam {
    pub fn new() -> FakeIam {
        FakeIam::default()
    }

    pub fn with_api_calls(self, counter: ApiCallCounter) -> FakeIam {
        self.state().api_calls = counter;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    #[track_caller]
    fn with_user<T>(&self, name: &str, change: impl FnOnce(&mut FakeUser) -> T) -> T {
        let mut state = self.state();
        let user = state.users.get_mut(name);
        change(user.unwrap_or_else(|| panic!("the fake IAM has no user {name:?}")))
    }

    #[track_caller]
    pub fn add_user(&self, name: &str, user_id: &str) -> &FakeIam {
        let user = FakeUser {
            user_name: name.to_owned(),
            user_id: UserId::parse(user_id).expect("a valid UserId"),
            keys: Vec::new(),
            tags: BTreeMap::new(),
        };
        let old = self.state().users.insert(name.to_owned(), user);
        assert!(old.is_none(), "the fake IAM already has a user {name:?}");
        self
    }

    #[track_caller]
    pub fn add_key(
        &self,
        user: &str,
        key_id: &str,
        status: KeyStatus,
        created: OffsetDateTime,
        last_used: Option<OffsetDateTime>,
    ) -> &FakeIam {
        let key = AccessKey {
            access_key_id: AccessKeyId::parse(key_id).expect("a valid access key id"),
            status,
            created,
            last_used,
            last_used_service: last_used.map(|_| "s3".to_owned()),
            last_used_region: last_used.map(|_| "us-east-1".to_owned()),
        };
        self.with_user(user, |user| user.keys.push(key));
        self
    }

    /// Seeds a tag as given: no limit, no case folding, no write recorded.
    #[track_caller]
    pub fn set_tag(&self, user: &str, key: &str, value: &str) -> &FakeIam {
        self.with_user(user, |user| {
            user.tags.insert(key.to_owned(), value.to_owned())
        });
        self
    }

    /// A role with no tags; ListRoleTags of a role not added is NoSuchEntity.
    #[track_caller]
    pub fn add_role(&self, name: &str) -> &FakeIam {
        let old = self.state().roles.insert(name.to_owned(), BTreeMap::new());
        assert!(old.is_none(), "the fake IAM already has a role {name:?}");
        self
    }

    /// Sets (`Some`) or removes (`None`) a tag of a role added before, as the stack would.
    #[track_caller]
    pub fn set_role_tag(&self, role: &str, key: &str, value: Option<&str>) -> &FakeIam {
        let mut state = self.state();
        let tags = state.roles.get_mut(role);
        let tags = tags.unwrap_or_else(|| panic!("the fake IAM has no role {role:?}"));
        match value {
            Some(value) => tags.insert(key.to_owned(), value.to_owned()),
            None => tags.remove(key),
        };
        self
    }

    /// Changes a key behind the function's back (from a `before_call` hook, say).
    #[track_caller]
    pub fn set_key_status(&self, user: &str, key_id: &str, status: KeyStatus) -> &FakeIam {
        self.with_user(user, |user| {
            let mut keys = user.keys.iter_mut();
            let key = keys.find(|key| key.access_key_id == *key_id);
            key.expect("the user has that key").status = status;
        });
        self
    }

    /// Keeps the UserId, keys and tags: the change Config's record lags behind.
    #[track_caller]
    pub fn rename_user(&self, old: &str, new: &str) -> &FakeIam {
        let mut state = self.state();
        let mut user = state.users.remove(old).expect("the user to rename");
        user.user_name = new.to_owned();
        let clash = state.users.insert(new.to_owned(), user);
        assert!(clash.is_none(), "the fake IAM already has a user {new:?}");
        self
    }

    pub fn delete_user(&self, name: &str) -> &FakeIam {
        self.state().users.remove(name);
        self
    }

    /// Faults are tried in the order they were added; the first that matches fires.
    pub fn fail(&self, fault: Fault) -> &FakeIam {
        self.state().faults.push(fault);
        self
    }

    /// Runs `action` once, just before the `nth` call of `operation` from now (1: the next)
    /// is answered: how a test changes the account between two of the function's calls.
    #[track_caller]
    pub fn before_call(
        &self,
        operation: &str,
        nth: u32,
        action: impl FnOnce(&FakeIam) + Send + 'static,
    ) -> &FakeIam {
        let hook = Hook {
            operation: known_operation(operation),
            calls_left: nth,
            action: Box::new(action),
        };
        self.state().hooks.push(hook);
        self
    }

    pub fn user(&self, name: &str) -> Option<FakeUser> {
        self.state().users.get(name).cloned()
    }

    #[track_caller]
    pub fn keys(&self, user: &str) -> Vec<AccessKey> {
        self.with_user(user, |user| user.keys.clone())
    }

    #[track_caller]
    pub fn tags(&self, user: &str) -> BTreeMap<String, String> {
        self.with_user(user, |user| user.tags.clone())
    }

    /// The writes applied, in order: not those refused, nor those on a missing user or key.
    pub fn writes(&self) -> Vec<Write> {
        self.state().writes.clone()
    }

    /// A Config inventory recording every user as named now, so stale after a rename.
    pub fn inventory(&self) -> FakeInventory {
        let inventory = FakeInventory::empty();
        for user in self.state().users.values() {
            inventory.record(user.user_id.as_str(), &user.user_name);
        }
        inventory
    }
}
