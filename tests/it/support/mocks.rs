//! Helpers for building `aws-smithy-mocks` SDK clients and their canned answers, shared by the
//! adapter tests (`iam_adapter`, `config_adapter`, `findings_adapter`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_iam::types::User;
use aws_smithy_types::retry::RetryConfig;

/// Three attempts in all, with millisecond backoff so retry tests stay fast.
pub fn three_quick_attempts() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

/// The inputs a rule was asked to answer.
pub type RequestLog<T> = Arc<Mutex<Vec<T>>>;

/// A shared log of the inputs a rule is asked to answer, and the matcher (for
/// `match_requests`) that fills it in: it logs every request and matches it.
pub fn request_log<T: Clone + Send + 'static>()
-> (RequestLog<T>, impl Fn(&T) -> bool + Send + Sync + 'static) {
    let requests: RequestLog<T> = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&requests);
    let matcher = move |input: &T| {
        log.lock().unwrap().push(input.clone());
        true
    };
    (requests, matcher)
}

/// IAM's awsQuery error document, exactly as IAM sends it.
pub fn iam_error_xml(kind: &str, code: &str, message: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error>
    <Type>{kind}</Type>
    <Code>{code}</Code>
    <Message>{message}</Message>
  </Error>
  <RequestId>8f0e5e3c-4b3a-4d39-9b8e-1f2a3b4c5d6e</RequestId>
</ErrorResponse>"#
    )
}

/// IAM refusing `iam:{action}` on `user_name` to the function's role.
pub fn access_denied_xml(action: &str, user_name: &str) -> String {
    iam_error_xml(
        "Sender",
        "AccessDenied",
        &format!(
            "User: arn:aws:sts::123456789012:assumed-role/access-key-remediator/fn is not \
             authorized to perform: iam:{action} on resource: user {user_name} because no \
             identity-based policy allows the iam:{action} action"
        ),
    )
}

/// IAM's throttling error, which the SDK retries.
pub fn throttling_xml() -> String {
    iam_error_xml("Sender", "Throttling", "Rate exceeded")
}

/// IAM's answer (HTTP 409) when another request changes the same user at that moment, with
/// the message IAM documents for it.
pub fn concurrent_modification_xml() -> String {
    iam_error_xml(
        "Sender",
        "ConcurrentModification",
        "The request was rejected because multiple requests to change this object were \
         submitted simultaneously. Wait a few minutes and submit your request again.",
    )
}

/// An IAM user with every required field set.
pub fn iam_user(user_name: &str, user_id: &str) -> User {
    User::builder()
        .path("/")
        .user_name(user_name)
        .user_id(user_id)
        .arn(format!("arn:aws:iam::123456789012:user/{user_name}"))
        .create_date(aws_smithy_types::DateTime::from_secs(1_600_000_000))
        .build()
        .expect("every required User field is set")
}

/// An error body of the JSON protocols (awsJson1_1: Config; restJson1: Security Hub, Access
/// Analyzer), with the error code in `__type`, where both read it.
pub fn json_error(code: &str, message: &str) -> String {
    serde_json::json!({ "__type": code, "message": message }).to_string()
}

/// A restJson1 error response (Security Hub, Access Analyzer) as those services send it: the
/// code in the `x-amzn-ErrorType` header, with the `:…` suffix AWS appends and the SDK strips,
/// and the message in the body.
pub fn rest_json_error(
    status: u16,
    code: &str,
    message: &str,
) -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    let status = aws_smithy_runtime_api::http::StatusCode::try_from(status)
        .expect("a valid HTTP status code");
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
        status,
        aws_smithy_types::body::SdkBody::from(body),
    );
    response.headers_mut().insert(
        "x-amzn-ErrorType",
        format!("{code}:http://internal.amazon.com/coral/"),
    );
    response
        .headers_mut()
        .insert("content-type", "application/json");
    response
}
