//! The organisation sweep's objects in S3: the discovered items the Distributed Map reads
//! (ItemReader), and the results file and manifest it writes (ResultWriter), which the summary
//! reads back. Step Functions carries at most 256 KiB between states; in S3 the state holds
//! only pointers, whatever the number of accounts. `AwsRunStore` answers the port over the
//! SDK, `fake::FakeRunStore` in memory.
//!
//! The port's futures are boxed so that it can sit behind `dyn`, as `OrganizationTree` does:
//! one client, in the central account only.

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use futures::future::BoxFuture;

use super::AwsError;
use super::findings::failed;

/// The content type of every object the function writes.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The sweep's objects, each read or written whole.
pub trait RunStore: Send + Sync {
    /// PutObject of `body` at `bucket`/`key`, with content type `application/json`,
    /// replacing any object there.
    fn put_json<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), AwsError>>;

    /// GetObject: the object's bytes, `None` when S3 answers NoSuchKey. S3 answers NoSuchKey
    /// only to a caller allowed s3:ListBucket; to any other, a missing key is AccessDenied,
    /// an error like any refusal.
    fn object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, AwsError>>;
}

// ---------------------------------------------------------------------------------------------
// The SDK adapter
// ---------------------------------------------------------------------------------------------

const SERVICE: &str = "S3";

/// The S3 client configuration the function uses, from the shared SDK configuration.
///
/// With an endpoint override (AWS_ENDPOINT_URL: moto, LocalStack), requests address the
/// bucket in the path, `http://localhost:5000/bucket/key`: the SDK's default, virtual-hosted
/// addressing puts the bucket in the host name, `bucket.localhost`, which a local emulator's
/// host does not resolve. On AWS itself (no override) the default stays: virtual-hosted is
/// S3's own default, and AWS has announced the deprecation of path-style.
pub fn client_config(sdk: &SdkConfig) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some())
}

/// The function's S3 client: `client_config` with `interceptor` (the call counter).
pub fn s3_client(sdk: &SdkConfig, interceptor: impl Intercept + 'static) -> Client {
    Client::from_conf(client_config(sdk).interceptor(interceptor).build())
}

/// S3 over the SDK: the one place that calls it.
#[derive(Debug, Clone)]
pub struct AwsRunStore {
    client: Client,
}

impl AwsRunStore {
    pub fn new(client: Client) -> Self {
        AwsRunStore { client }
    }
}

/// The SDK's failure of `operation`, after its retries.
fn sdk_failed<E>(operation: &'static str) -> impl FnOnce(E) -> AwsError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| failed(SERVICE, operation)(Box::new(error))
}

fn is_no_such_key<R>(error: &SdkError<GetObjectError, R>) -> bool {
    error
        .as_service_error()
        .is_some_and(GetObjectError::is_no_such_key)
}

impl RunStore for AwsRunStore {
    fn put_json<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type(JSON_CONTENT_TYPE)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(sdk_failed("PutObject"))?;
            Ok(())
        })
    }

    fn object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, AwsError>> {
        Box::pin(async move {
            const OPERATION: &str = "GetObject";
            let request = self.client.get_object().bucket(bucket).key(key);
            let output = match request.send().await {
                Ok(output) => output,
                Err(error) if is_no_such_key(&error) => return Ok(None),
                Err(error) => return Err(sdk_failed(OPERATION)(error)),
            };
            // The body streams after the headers: a connection lost mid-object fails here.
            let body = output.body.collect().await.map_err(sdk_failed(OPERATION))?;
            Ok(Some(body.into_bytes().to_vec()))
        })
    }
}
