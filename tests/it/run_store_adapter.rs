//! Layer-2 tests of the S3 adapter (`AwsRunStore` through `RunStore`) and of the S3 client the
//! function builds (`run_store::client_config`), against real SDK clients whose transport is
//! `aws-smithy-mocks`. S3 speaks restXml: the mocks answer with its bodies and error
//! documents, so the SDK's real serializer, endpoint rules, error parsing and retry classifier
//! run. What went on the wire is read back by an interceptor just before transmission.

use std::sync::{Arc, Mutex};

use access_key_remediator::aws::run_store::{self, AwsRunStore, JSON_CONTENT_TYPE, RunStore};
use access_key_remediator::aws::{AwsError, error_chain};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::support::mocks::three_quick_attempts;

const BUCKET: &str = "org-sweep-bucket";
const KEY: &str = "org-sweep/exec-1/accounts.json";
const EMULATOR: &str = "http://localhost:4566";

/// One HTTP request as it left the SDK.
#[derive(Debug, Clone)]
struct Sent {
    method: String,
    uri: String,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

/// Records every request just before it is sent: after endpoint resolution and signing.
#[derive(Debug, Clone, Default)]
struct Wire(Arc<Mutex<Vec<Sent>>>);

impl Wire {
    fn sent(&self) -> Vec<Sent> {
        self.0.lock().unwrap().clone()
    }
}

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "Wire"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        self.0.lock().unwrap().push(Sent {
            method: request.method().to_owned(),
            uri: request.uri().to_owned(),
            content_type: request.headers().get("content-type").map(str::to_owned),
            body: request.body().bytes().map(<[u8]>::to_vec),
        });
        Ok(())
    }
}

/// The shared SDK configuration as `aws_config` would load it, over the mock transport, with
/// or without an endpoint override.
fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let credentials = Credentials::new("AKIAIOSFODNN7EXAMPLE", "secret", None, None, "test");
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(create_mock_http_client())
        .retry_config(three_quick_attempts());
    if let Some(endpoint_url) = endpoint_url {
        sdk = sdk.endpoint_url(endpoint_url);
    }
    sdk.build()
}

/// An adapter whose client is built as the function builds it (`client_config`), answering
/// from `rules` in order, and the record of what it sent.
fn store(endpoint_url: Option<&str>, rules: &[&Rule]) -> (AwsRunStore, Wire) {
    let mut mocks = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    for rule in rules {
        mocks = mocks.with_rule(rule);
    }
    let wire = Wire::default();
    let config = run_store::client_config(&sdk_config(endpoint_url))
        .interceptor(mocks)
        .interceptor(wire.clone())
        .build();
    (AwsRunStore::new(Client::from_conf(config)), wire)
}

/// S3's restXml error document, as S3 sends it.
fn s3_error_xml(code: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>{code}</Code><Message>{message}</Message><Key>{KEY}</Key><RequestId>4442587FB7D0A2F9</RequestId><HostId>9Gjjt1m+cjU4OPvX9O9/8RuvnG41MRb/18Oux2o5H5MY7ISNTlXN+Dz9IG62/ILVxhAGI0qyPfg=</HostId></Error>"#
    )
}

/// A rule answering `operation` once, with HTTP `status` and `body`.
macro_rules! answer {
    ($operation:path, $status:literal, $body:expr) => {
        mock!($operation)
            .sequence()
            .http_status($status, $body)
            .build()
    };
}

/// The path of a request URI: what follows its host, without the query.
fn path_of(uri: &str) -> (&str, &str) {
    let after_scheme = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let (host, path) = after_scheme.split_once('/').expect("a path");
    (host, path.split('?').next().unwrap_or_default())
}

/// That `error` is S3's `operation` refused, saying so, and asked once: a refusal is not
/// retried.
#[track_caller]
fn assert_denied(error: &AwsError, operation: &str, rule: &Rule) {
    assert_eq!((error.service, error.operation), ("S3", operation));
    let chain = error_chain(error);
    assert!(
        chain.contains("AccessDenied"),
        "{chain:?} should name S3's code"
    );
    assert_eq!(rule.num_calls(), 1, "a refusal is not retried");
}

// ---------------------------------------------------------------------------------------------
// PutObject
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn put_sends_the_bucket_key_body_and_json_content_type() {
    let rule = answer!(Client::put_object, 200, None);
    let (store, wire) = store(Some(EMULATOR), &[&rule]);
    let body = br#"[{"account":"111122223333","mode":"delete"}]"#.to_vec();

    store
        .put_json(BUCKET, KEY, body.clone())
        .await
        .expect("S3 answered 200");

    let sent = wire.sent();
    assert_eq!(sent.len(), 1);
    let put = &sent[0];
    assert_eq!(put.method, "PUT");
    assert_eq!(
        path_of(&put.uri),
        ("localhost:4566", &*format!("{BUCKET}/{KEY}"))
    );
    assert_eq!(put.content_type.as_deref(), Some(JSON_CONTENT_TYPE));
    assert_eq!(put.body.as_deref(), Some(&body[..]));
}

#[tokio::test]
async fn a_denied_put_is_an_error_naming_the_operation_and_is_not_retried() {
    let denied = s3_error_xml("AccessDenied", "Access Denied");
    let rule = answer!(Client::put_object, 403, Some(denied));
    let (store, _) = store(Some(EMULATOR), &[&rule]);

    let error = store.put_json(BUCKET, KEY, b"[]".to_vec()).await;

    assert_denied(&error.expect_err("denied"), "PutObject", &rule);
}

// ---------------------------------------------------------------------------------------------
// GetObject
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_returns_the_objects_bytes() {
    let manifest = r#"{"DestinationBucket":"org-sweep-bucket","ResultFiles":{}}"#;
    let rule = answer!(Client::get_object, 200, Some(manifest.to_owned()));
    let (store, wire) = store(Some(EMULATOR), &[&rule]);

    let object = store.object(BUCKET, KEY).await.expect("S3 answered 200");

    assert_eq!(object.as_deref(), Some(manifest.as_bytes()));
    let sent = wire.sent();
    assert_eq!(sent[0].method, "GET");
    assert_eq!(
        path_of(&sent[0].uri),
        ("localhost:4566", &*format!("{BUCKET}/{KEY}"))
    );
}

#[tokio::test]
async fn no_such_key_is_no_object_not_an_error() {
    let missing = s3_error_xml("NoSuchKey", "The specified key does not exist.");
    let rule = answer!(Client::get_object, 404, Some(missing));
    let (store, _) = store(Some(EMULATOR), &[&rule]);

    let object = store.object(BUCKET, KEY).await;

    assert_eq!(object.expect("NoSuchKey is an answer"), None);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_denied_get_is_an_error_naming_the_operation() {
    // Without s3:ListBucket, S3 answers a missing key so too: it is not taken for NoSuchKey.
    let denied = s3_error_xml("AccessDenied", "Access Denied");
    let rule = answer!(Client::get_object, 403, Some(denied));
    let (store, _) = store(Some(EMULATOR), &[&rule]);

    let error = store.object(BUCKET, KEY).await;

    assert_denied(&error.expect_err("denied"), "GetObject", &rule);
}

// ---------------------------------------------------------------------------------------------
// Addressing: path-style only with an endpoint override
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn on_aws_the_bucket_is_in_the_host_name() {
    let rule = answer!(Client::get_object, 200, Some("[]".to_owned()));
    let (store, wire) = store(None, &[&rule]);

    store.object(BUCKET, KEY).await.expect("S3 answered 200");

    let sent = wire.sent();
    assert!(sent[0].uri.starts_with("https://"), "{}", sent[0].uri);
    assert_eq!(
        path_of(&sent[0].uri),
        (&*format!("{BUCKET}.s3.us-east-1.amazonaws.com"), KEY)
    );
}
