//! No log line may carry credentials. Runs the function's main paths against moto with
//! distinctive credentials, captures every log line (ours and the SDK's, at DEBUG, stricter
//! than the INFO Lambda runs at) and searches them for the secret and the session token.

use std::io::Write;
use std::sync::{Arc, Mutex};

use access_key_remediator::handler::handle;
use access_key_remediator::settings::Settings;
use access_key_remediator::startup;
use aws_sdk_iam::config::{Credentials, SharedCredentialsProvider};
use serde_json::json;
use tracing::subscriber::NoSubscriber;

use crate::support::{Emulator, compliance_event, fixture, invocation};

const ACCESS_KEY_ID: &str = "ASIAZ4LOGSCANEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYLOGSCANSECRET";
const SESSION_TOKEN: &str =
    "IQoJb3JpZ2luX2VjEXAMPLELOGSCANSESSIONTOKEN//////////wEaCXVzLWVhc3QtMSJH";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_log_line_carries_the_secret_key_or_the_session_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    // While exactly one dispatcher is registered, tracing-core (0.1.36) caches each callsite's
    // interest as the default of whichever thread reaches it first (tokio-rs/tracing#3611): a
    // concurrent test's thread, which has no subscriber, would switch the function's log lines
    // off for this capture too. A second registered dispatcher, made first, avoids that path.
    let _second_dispatcher = tracing::Dispatch::new(NoSubscriber::default());
    // #[tokio::test] runs on one thread, so a thread-local default sees every log line.
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut aws = Emulator::start();
    let users = aws.seed(json!([
        { "name": "alice", "keys": [{ "ageDays": 120 }, { "ageDays": 300 }] },
        { "name": "carol", "keys": [{ "ageDays": 200, "status": "Inactive", "markerDaysAgo": 20 }] },
    ]));
    let sdk = aws
        .sdk_config()
        .clone()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY_ID,
            SECRET,
            Some(SESSION_TOKEN.to_owned()),
            None,
            "log-hygiene-test",
        )))
        .build();
    let remediator = startup::from_sdk_config(Settings::default(), &sdk);

    // A refused write, so error chains are logged too.
    aws.command(json!({ "op": "fail", "action": "UpdateAccessKey", "times": 1 }));
    let failed = handle(
        &remediator,
        invocation(compliance_event(&users["alice"].user_id)),
    )
    .await;
    assert!(failed.is_err());
    handle(
        &remediator,
        invocation(compliance_event(&users["alice"].user_id)),
    )
    .await
    .unwrap();
    handle(&remediator, invocation(fixture("scheduled-sweep.json")))
        .await
        .unwrap();
    assert!(
        handle(
            &remediator,
            invocation(fixture("malformed-missing-resource-id.json"))
        )
        .await
        .is_err()
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("key decision"),
        "the capture saw the function's logs"
    );
    assert!(logs.contains("invocation failed"), "and its error logs");
    assert!(
        logs.contains("aws_smithy_runtime"),
        "and the SDK's own debug logs"
    );
    for (what, value) in [
        ("secret access key", SECRET),
        ("session token", SESSION_TOKEN),
    ] {
        assert!(!logs.contains(value), "a log line carries the {what}");
    }
    assert!(!logs.contains("LOGSCANSECRET") && !logs.contains("LOGSCANSESSIONTOKEN"));
}
