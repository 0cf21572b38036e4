//! The email subscription's filter policy, taken from template.yaml, evaluated by a real SNS
//! filter-policy implementation (tests/emulator/filters.py) on what the topic receives:
//! Lambda's success destination records, whose responsePayload is a report the real handler
//! produced against moto, and CloudWatch alarm notifications. Only reports that deactivated,
//! deleted or failed something, and alarms, reach the inbox: a warning, which changes no key,
//! reaches the key's owner as a notice instead.

use access_key_remediator::domain::policy::Mode;
use access_key_remediator::handler::handle;
use serde_json::{Value, json};

use crate::support::cloudformation::{Template, run_filter};
use crate::support::{Emulator, compliance_event, fixture, invocation, settings};

/// The subscription's FilterPolicy as deployed, and a check that it is read in MessageBody
/// scope (the report is in the body; there are no message attributes).
fn filter_policy() -> Value {
    let template = Template::load("template.yaml");
    let subscription = &template.resource("NotificationEmailSubscription")["Properties"];
    assert_eq!(
        subscription["FilterPolicyScope"].as_str(),
        Some("MessageBody")
    );
    assert_eq!(subscription["Protocol"].as_str(), Some("email"));
    template.to_json(&subscription["FilterPolicy"])
}

/// What Lambda publishes to an OnSuccess destination for an asynchronous invocation.
fn success_record(event: &Value, report: &Value) -> Value {
    json!({
        "version": "1.0",
        "timestamp": "2026-11-22T03:00:04.512Z",
        "requestContext": {
            "requestId": "c2a6b3f4-8e1d-4b7a-9f0e-5d4c3b2a1f00",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:access-key-remediator-RemediatorFunction-Ab12Cd34:$LATEST",
            "condition": "Success",
            "approximateInvokeCount": 1
        },
        "requestPayload": event,
        "responseContext": { "statusCode": 200, "executedVersion": "$LATEST" },
        "responsePayload": report
    })
}

/// A CloudWatch alarm's notification, as the alarms publish it to the same topic.
fn alarm_notification() -> Value {
    json!({
        "AlarmName": "access-key-remediator-DeadLetterQueueAlarm-1X2Y3Z",
        "AlarmDescription": "An event is in access-key-remediator's dead-letter queue.",
        "AWSAccountId": "123456789012",
        "AlarmConfigurationUpdatedTimestamp": "2026-11-20T10:00:00.000+0000",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [1.0 (22/11/26 03:05:00)] was greater than the threshold (0.0).",
        "StateChangeTime": "2026-11-22T03:10:12.345+0000",
        "Region": "US East (N. Virginia)",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:access-key-remediator-DeadLetterQueueAlarm-1X2Y3Z",
        "OldStateValue": "OK",
        "Trigger": {
            "MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS",
            "Statistic": "MAXIMUM", "Period": 300, "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0.0,
            "TreatMissingData": "notBreaching",
            "Dimensions": [{ "name": "QueueName", "value": "access-key-remediator-DeadLetterQueue-4W5V6U" }]
        }
    })
}

/// Runs the real handler against moto and returns (label, event, report JSON, summary).
async fn remediate(
    aws: &Emulator,
    label: &'static str,
    mode: Mode,
    event: Value,
) -> (&'static str, Value, Value) {
    let remediator = aws.remediator(settings(mode));
    let report = handle(&remediator, invocation(event.clone()))
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    (label, event, serde_json::to_value(&report).unwrap())
}

fn count(report: &Value, action: &str) -> u64 {
    report["summary"][action]
        .as_u64()
        .unwrap_or_else(|| panic!("summary has no {action}: {report}"))
}

#[tokio::test]
async fn only_reports_that_deactivated_deleted_or_failed_something_and_alarms_pass_the_email_filter()
 {
    let mut aws = Emulator::start();
    let users = aws.seed(json!([
        { "name": "alice", "keys": [{ "ageDays": 120, "lastUsedDaysAgo": 2 }, { "ageDays": 10 }] },
        { "name": "carol", "keys": [
            { "ageDays": 200, "status": "Inactive", "lastUsedDaysAgo": 45, "markerDaysAgo": 20 }] },
        { "name": "erin", "keys": [
            { "ageDays": 30 },
            { "ageDays": 150, "status": "Inactive", "lastUsedDaysAgo": 60, "markerDaysAgo": 5 }] },
        { "name": "frank", "keys": [{ "ageDays": 300 }] },
        { "name": "gina", "keys": [{ "ageDays": 86, "lastUsedDaysAgo": 1 }] }
    ]));
    let id = |name: &str| users[name].user_id.clone();

    let mut cases = vec![
        remediate(
            &aws,
            "deactivated",
            Mode::Delete,
            compliance_event(&id("alice")),
        )
        .await,
        remediate(
            &aws,
            "deleted",
            Mode::Delete,
            compliance_event(&id("carol")),
        )
        .await,
        remediate(
            &aws,
            "pending and kept",
            Mode::Delete,
            compliance_event(&id("erin")),
        )
        .await,
        remediate(
            &aws,
            "report mode",
            Mode::Report,
            compliance_event(&id("frank")),
        )
        .await,
        remediate(&aws, "warned", Mode::Delete, compliance_event(&id("gina"))).await,
        remediate(
            &aws,
            "ignored",
            Mode::Delete,
            fixture("compliant-alice.json"),
        )
        .await,
    ];

    // The reports are what their labels say, so the filter is judged on the right inputs.
    let by_label = |label: &str| &cases.iter().find(|c| c.0 == label).unwrap().2;
    assert_eq!(count(by_label("deactivated"), "deactivated"), 1);
    assert_eq!(count(by_label("deleted"), "deleted"), 1);
    let quiet = by_label("pending and kept");
    assert_eq!(
        (count(quiet, "pending"), count(quiet, "kept")),
        (1, 1),
        "{quiet}"
    );
    assert_eq!(count(by_label("report mode"), "would-deactivate"), 1);
    assert_eq!(count(by_label("warned"), "warned"), 1);
    assert_eq!(count(by_label("warned"), "would-warn"), 0);
    assert_eq!(by_label("ignored")["outcome"], json!("ignored"));
    for (label, _, report) in &cases {
        let changed: u64 = ["deactivated", "deleted", "failed"]
            .iter()
            .map(|a| count(report, a))
            .sum();
        let expected = matches!(*label, "deactivated" | "deleted");
        assert_eq!(changed > 0, expected, "{label}: {report}");
    }

    // Today a failed write fails the invocation (its record goes to the dead-letter queue, not
    // here); should a success ever count a failure, it must still reach the inbox.
    let mut failed = by_label("deactivated").clone();
    failed["summary"]["deactivated"] = json!(0);
    failed["summary"]["failed"] = json!(1);
    let alice_event = cases[0].1.clone();
    cases.push(("failed", alice_event, failed));

    let mut messages: Vec<Value> = cases
        .iter()
        .map(|(_, event, report)| success_record(event, report))
        .collect();
    let mut labels: Vec<&str> = cases.iter().map(|c| c.0).collect();
    messages.push(alarm_notification());
    labels.push("alarm");

    let answer = run_filter(
        "sns-filter",
        &json!({ "filterPolicy": filter_policy(), "messages": messages }),
    );
    let delivered: Vec<bool> = serde_json::from_value(answer["delivered"].clone()).unwrap();
    let passed: Vec<&str> = labels
        .iter()
        .zip(&delivered)
        .filter(|(_, d)| **d)
        .map(|(l, _)| *l)
        .collect();
    assert_eq!(passed, ["deactivated", "deleted", "failed", "alarm"]);
}
