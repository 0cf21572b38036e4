//! A small cache whose entries expire a fixed time after they were written. The event path
//! reads each account's mode (its Organizations tags and its role's ceiling) through it, so
//! that events do not call Organizations and IAM each time, while a changed tag still takes
//! effect within the TTL (ORG_CACHE_TTL_SECONDS).
//!
//! The caller passes the instant, so that expiry is tested on synthetic instants rather than
//! by waiting. Expired entries are not swept: they are replaced on the next insert of their
//! key, and the keys (account ids of one organisation) are few.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Values by key, each good for `ttl` after it was inserted. Shared across concurrent
/// invocations of one function instance, hence the lock.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// An empty cache; a TTL of zero caches nothing.
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key`, when it was inserted less than the TTL before `now`.
    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (value, inserted) = entries.get(key)?;
        (now.saturating_duration_since(*inserted) < self.ttl).then(|| value.clone())
    }

    /// Stores `value` for `key` as of `now`, replacing (and so refreshing) any earlier one.
    pub fn insert(&self, key: K, value: V, now: Instant) {
        // A panic elsewhere while the lock was held leaves whole entries behind, never a
        // half-written one, so the map is still sound to use.
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(key, (value, now));
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

#[cfg(test)]
mod tests;
