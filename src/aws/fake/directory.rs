//! The fake IAM's answers to the ports: each port method makes the SDK calls the adapter
//! makes, in its order, and each call is counted, runs the hooks due and may fire a fault
//! before the account is read or changed.

use std::collections::BTreeMap;

use super::faults::{self, ErrorKind};
use super::{FakeIam, FakeUser, Hook, TAGS_PER_USER, Write, credential_report};
use crate::aws::{AwsError, IamDirectory, IamUser, IamWrites, WriteOutcome};
use crate::domain::ids::{AccessKeyId, UserId};
use crate::domain::user::{KeyStatus, UserSnapshot};

impl FakeIam {
    /// Counts a call, runs the hooks due, then fires the first matching fault. `Ok(false)` is
    /// an injected NoSuchEntity, which each caller answers as the adapter answers IAM's.
    fn call(&self, operation: &'static str, user: Option<&str>) -> Result<bool, AwsError> {
        let due: Vec<Hook> = {
            let mut state = self.state();
            state.api_calls.record(operation);
            let due = state.hooks.extract_if(.., |hook| {
                if hook.operation == operation {
                    hook.calls_left = hook.calls_left.saturating_sub(1);
                }
                hook.calls_left == 0
            });
            due.collect()
        };
        // Outside the lock: a hook changes the account through this same handle.
        for hook in due {
            (hook.action)(self);
        }
        let fired = faults::fire(&mut self.state().faults, operation, user);
        match fired {
            None => Ok(true),
            Some(ErrorKind::NoSuchEntity) => Ok(false),
            Some(kind) => Err(kind.error(operation, user)),
        }
    }

    /// A call that reads one user: `None` when the user is gone or NoSuchEntity was injected.
    fn read(&self, operation: &'static str, user_name: &str) -> Result<Option<FakeUser>, AwsError> {
        let found = self.call(operation, Some(user_name))?;
        Ok(found.then(|| self.user(user_name)).flatten())
    }

    /// A call that changes `user`, recorded as `write` if `apply` answers that it changed
    /// something (`false`: the key was gone). A missing user, like NoSuchEntity, is no error.
    fn write(
        &self,
        operation: &'static str,
        user: &str,
        write: Write,
        apply: impl FnOnce(&mut FakeUser) -> Result<bool, ErrorKind>,
    ) -> Result<WriteOutcome, AwsError> {
        if !self.call(operation, Some(user))? {
            return Ok(WriteOutcome::Gone);
        }
        let mut state = self.state();
        let Some(fake_user) = state.users.get_mut(user) else {
            return Ok(WriteOutcome::Gone);
        };
        if !apply(fake_user).map_err(|kind| kind.error(operation, Some(user)))? {
            return Ok(WriteOutcome::Gone);
        }
        state.writes.push(write);
        Ok(WriteOutcome::Applied)
    }
}

fn iam_user(user: &FakeUser) -> IamUser {
    IamUser {
        user_name: user.user_name.clone(),
        user_id: user.user_id.clone(),
    }
}

impl IamDirectory for FakeIam {
    /// One ListUsers call: every account fits one page here.
    async fn find_user_by_id(&self, user_id: &UserId) -> Result<Option<IamUser>, AwsError> {
        if !self.call("ListUsers", None)? {
            return Ok(None);
        }
        let state = self.state();
        let mut users = state.users.values();
        Ok(users.find(|user| user.user_id == *user_id).map(iam_user))
    }

    async fn get_user(&self, user_name: &str) -> Result<Option<IamUser>, AwsError> {
        Ok(self.read("GetUser", user_name)?.as_ref().map(iam_user))
    }

    async fn credential_report(&self) -> Result<Vec<u8>, AwsError> {
        // The adapter takes a report gone missing for one never ready, and gives up on it.
        for operation in ["GenerateCredentialReport", "GetCredentialReport"] {
            if !self.call(operation, None)? {
                return Err(ErrorKind::NoSuchEntity.error(operation, None));
            }
        }
        Ok(credential_report::csv(self.state().users.values()))
    }

    /// Sends ListAccessKeys and ListUserTags both, as the adapter does, then
    /// GetAccessKeyLastUsed per key, whose NoSuchEntity means the key has no recorded use.
    async fn snapshot(&self, user_name: &str) -> Result<Option<UserSnapshot>, AwsError> {
        let keys = self.call("ListAccessKeys", Some(user_name));
        let tags = self.call("ListUserTags", Some(user_name));
        let (true, true, Some(user)) = (keys?, tags?, self.user(user_name)) else {
            return Ok(None);
        };
        let FakeUser { mut keys, tags, .. } = user;
        for key in &mut keys {
            if !self.call("GetAccessKeyLastUsed", Some(user_name))? {
                key.last_used = None;
            }
        }
        Ok(Some(UserSnapshot { keys, tags }))
    }

    async fn key_statuses(
        &self,
        user_name: &str,
    ) -> Result<Option<BTreeMap<AccessKeyId, KeyStatus>>, AwsError> {
        let user = self.read("ListAccessKeys", user_name)?;
        Ok(user.map(|user| {
            let keys = user.keys.into_iter();
            keys.map(|key| (key.access_key_id, key.status)).collect()
        }))
    }

    /// A fault `for_user(role_name)` fires on this role's ListRoleTags.
    async fn role_tag(&self, role_name: &str, key: &str) -> Result<Option<String>, AwsError> {
        if !self.call("ListRoleTags", Some(role_name))? {
            return Ok(None);
        }
        let state = self.state();
        let Some(tags) = state.roles.get(role_name) else {
            return Ok(None);
        };
        let mut tags = tags.iter();
        let tag = tags.find(|(tag, _)| tag.eq_ignore_ascii_case(key));
        Ok(tag.map(|(_, value)| value.clone()))
    }
}

impl IamWrites for FakeIam {
    async fn deactivate_key(
        &self,
        user_name: &str,
        access_key_id: &AccessKeyId,
    ) -> Result<WriteOutcome, AwsError> {
        let (user, key) = (user_name.to_owned(), access_key_id.clone());
        self.write(
            "UpdateAccessKey",
            user_name,
            Write::Deactivated { user, key },
            |user| {
                let mut keys = user.keys.iter_mut();
                let Some(key) = keys.find(|key| key.access_key_id == *access_key_id) else {
                    return Ok(false);
                };
                key.status = KeyStatus::Inactive;
                Ok(true)
            },
        )
    }

    async fn delete_key(
        &self,
        user_name: &str,
        access_key_id: &AccessKeyId,
    ) -> Result<WriteOutcome, AwsError> {
        let (user, key) = (user_name.to_owned(), access_key_id.clone());
        self.write(
            "DeleteAccessKey",
            user_name,
            Write::Deleted { user, key },
            |user| {
                let before = user.keys.len();
                user.keys.retain(|key| key.access_key_id != *access_key_id);
                Ok(user.keys.len() < before)
            },
        )
    }

    async fn tag_user(
        &self,
        user_name: &str,
        key: &str,
        value: &str,
    ) -> Result<WriteOutcome, AwsError> {
        let write = Write::Tagged {
            user: user_name.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
        };
        self.write("TagUser", user_name, write, |user| {
            // IAM keeps one tag per key ignoring case: the new spelling replaces the old.
            let replaces = user.tags.keys().any(|old| old.eq_ignore_ascii_case(key));
            if !replaces && user.tags.len() >= TAGS_PER_USER {
                return Err(ErrorKind::LimitExceeded);
            }
            user.tags.retain(|old, _| !old.eq_ignore_ascii_case(key));
            user.tags.insert(key.to_owned(), value.to_owned());
            Ok(true)
        })
    }

    async fn untag_user(&self, user_name: &str, keys: &[String]) -> Result<WriteOutcome, AwsError> {
        let write = Write::Untagged {
            user: user_name.to_owned(),
            keys: keys.to_vec(),
        };
        self.write("UntagUser", user_name, write, |user| {
            let untagged = |tag: &String| keys.iter().any(|key| key.eq_ignore_ascii_case(tag));
            user.tags.retain(|tag, _| !untagged(tag));
            Ok(true)
        })
    }
}
