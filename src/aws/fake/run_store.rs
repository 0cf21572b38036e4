//! An in-memory S3 behind the `RunStore` port, for tests of discovery and of the summary that
//! need no emulator: objects by bucket and key, denied operations and per-operation call
//! counts under the SDK's names. A clone shares the objects: a test keeps one handle to seed
//! what the state machine would have written (the items, the manifest, the results files) and
//! to read what the function wrote.
//!
//! It answers as the SDK adapter answers over S3: GetObject of a key it does not hold is
//! `None` (NoSuchKey), a denied operation is AccessDenied. Every bucket exists.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;

use super::faults::aws_error;
use super::lock;
use crate::aws::AwsError;
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::run_store::RunStore;
use crate::report::ApiCalls;

/// The S3 operations the fake answers, by their SDK names.
pub const RUN_STORE_OPERATIONS: [&str; 2] = ["PutObject", "GetObject"];

/// A misspelt operation would never be denied, and the test would pass for the wrong reason.
#[track_caller]
fn known_operation(operation: &str) -> &'static str {
    let known = RUN_STORE_OPERATIONS
        .into_iter()
        .find(|known| *known == operation);
    known.unwrap_or_else(|| {
        panic!("the fake S3 has no operation {operation:?}: {RUN_STORE_OPERATIONS:?}")
    })
}

/// An object's bucket and key.
pub type ObjectKey = (String, String);

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<ObjectKey, Vec<u8>>,
    denied: BTreeSet<&'static str>,
    api_calls: ApiCallCounter,
}

/// S3 in memory; see the module doc.
#[derive(Debug, Clone, Default)]
pub struct FakeRunStore {
    state: Arc<Mutex<State>>,
}

impl FakeRunStore {
    pub fn new() -> FakeRunStore {
        FakeRunStore::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Counts its calls in `counter` too (shared with the other fakes, say), from now on.
    pub fn with_api_calls(self, counter: ApiCallCounter) -> FakeRunStore {
        self.state().api_calls = counter;
        self
    }

    /// Seeds an object, replacing any at `bucket`/`key`; no call is counted.
    pub fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) -> &FakeRunStore {
        let object = (bucket.to_owned(), key.to_owned());
        self.state().objects.insert(object, body.into());
        self
    }

    /// Every object held, seeded or written, by bucket and key.
    pub fn objects(&self) -> BTreeMap<ObjectKey, Vec<u8>> {
        self.state().objects.clone()
    }

    /// Every call of `operation` from now on is AccessDenied, as S3 answers a caller whose
    /// policy does not allow it (or, to GetObject without s3:ListBucket, a missing key).
    #[track_caller]
    pub fn deny(&self, operation: &str) -> &FakeRunStore {
        self.state().denied.insert(known_operation(operation));
        self
    }

    /// Lifts `deny(operation)`.
    #[track_caller]
    pub fn allow(&self, operation: &str) -> &FakeRunStore {
        self.state().denied.remove(known_operation(operation));
        self
    }

    /// The S3 calls made, by operation (only these, should the counter be shared).
    pub fn calls(&self) -> ApiCalls {
        let calls = self.state().api_calls.snapshot().into_iter();
        calls
            .filter(|(operation, _)| RUN_STORE_OPERATIONS.contains(&operation.as_str()))
            .collect()
    }

    /// Counts the call, then answers it from the objects unless it is denied.
    fn answer<T>(
        &self,
        operation: &'static str,
        act: impl FnOnce(&mut State) -> T,
    ) -> Result<T, AwsError> {
        let mut state = self.state();
        state.api_calls.record(operation);
        if state.denied.contains(operation) {
            let message = "Access Denied".to_owned();
            return Err(aws_error("S3", operation, "AccessDenied", message));
        }
        Ok(act(&mut state))
    }
}

impl RunStore for FakeRunStore {
    fn put_json<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            self.answer("PutObject", |state| {
                let object = (bucket.to_owned(), key.to_owned());
                state.objects.insert(object, body);
            })
        })
    }

    fn object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, AwsError>> {
        Box::pin(async move {
            self.answer("GetObject", |state| {
                let object = (bucket.to_owned(), key.to_owned());
                state.objects.get(&object).cloned()
            })
        })
    }
}

#[cfg(test)]
mod tests;
