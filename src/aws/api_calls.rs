//! Counts the AWS API calls the function makes, per operation, with an SDK interceptor on
//! every client, so each report can say what it cost (`apiCalls`). A call retried by the SDK
//! counts once: the interceptor runs once per operation, when its input is serialized, which
//! is before the first attempt and after the operation's name is known.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::report::ApiCalls;

#[derive(Debug, Clone, Default)]
pub struct ApiCallCounter {
    counts: Arc<Mutex<ApiCalls>>,
}

impl ApiCallCounter {
    pub fn snapshot(&self) -> ApiCalls {
        self.counts.lock().expect("counter lock").clone()
    }

    /// Counts one call of `operation`: what the interceptor does for each SDK call, and what
    /// the in-memory fake does in its place.
    pub fn record(&self, operation: &str) {
        *self
            .counts
            .lock()
            .expect("counter lock")
            .entry(operation.to_owned())
            .or_default() += 1;
    }

    /// The calls made since `earlier` was taken.
    pub fn since(&self, earlier: &ApiCalls) -> ApiCalls {
        self.snapshot()
            .into_iter()
            .filter_map(|(operation, count)| {
                let before = earlier.get(&operation).copied().unwrap_or(0);
                (count > before).then_some((operation, count - before))
            })
            .collect()
    }
}

impl Intercept for ApiCallCounter {
    fn name(&self) -> &'static str {
        "ApiCallCounter"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or("unknown", Metadata::name);
        self.record(operation);
        Ok(())
    }
}
