//! End to end: a notice through the real handler and SDK (SNS Publish, SESv2 SendEmail,
//! CloudTrail LookupEvents) to moto, read back from moto's own backends by the emulator.

use access_key_remediator::handler::handle;
use access_key_remediator::settings::{NoticeSettings, Settings};
use serde_json::{Value, json};

use crate::support::{Emulator, compliance_event, invocation};

const FROM: &str = "security@example.com";

#[tokio::test]
async fn notices_reach_motos_sns_with_their_attributes_and_ses_mail_is_readable() {
    let mut aws = Emulator::start();
    let topic = aws.command(json!({ "op": "sns_topic", "name": "access-key-notices" }))["arn"]
        .as_str()
        .expect("a topic ARN")
        .to_owned();
    aws.command(json!({ "op": "ses_identity", "address": FROM }));
    let alice = aws
        .seed(
            json!([{ "name": "alice", "tags": { "owner": "team-a@example.com" },
            "keys": [{ "ageDays": 120, "lastUsedDaysAgo": 2 }, { "ageDays": 10 }] }]),
        )
        .remove("alice")
        .unwrap();
    let settings = Settings {
        notices: NoticeSettings {
            topic_arn: Some(topic.clone()),
            ses_from: Some(FROM.to_owned()),
            ..NoticeSettings::default()
        },
        ..Settings::default()
    };
    let remediator = aws.remediator(settings);

    let report = handle(&remediator, invocation(compliance_event(&alice.user_id)))
        .await
        .expect("the event is remediated");

    let messages =
        aws.command(json!({ "op": "sns_messages", "topicArn": topic }))["messages"].clone();
    let [message] = messages.as_array().expect("a list").as_slice() else {
        panic!("one notice expected: {messages:#}");
    };
    let string = |value: &str| json!({ "Type": "String", "Value": value });
    assert_eq!(
        message["attributes"],
        json!({
            "account": string("123456789012"),
            "user": string("alice"),
            "owner": string("team-a@example.com"),
            "action": { "Type": "String.Array", "Value": "[\"deactivated\"]" },
        })
    );
    let text = message["message"].as_str().unwrap();
    let old = &alice.keys[0];
    for fact in [
        format!("Key {old} (deactivated)"),
        format!("--access-key-id {old} --status Active"),
        "iam in us-east-1".to_owned(),
        "no recent calls found".to_owned(),
        "access-key-remediator:exempt,Value=".to_owned(),
    ] {
        assert!(text.contains(&fact), "{fact:?} missing:\n{text}");
    }
    assert!(
        !text.contains(&alice.keys[1]),
        "the young key is not the notice's:\n{text}"
    );
    let notice = report.users[0].notice.as_ref().expect("a notice");
    assert!(notice.sent);
    assert_eq!(
        Some(&message["messageId"]),
        notice.message_id.as_ref().map(|id| json!(id)).as_ref()
    );

    let mail = aws.command(json!({ "op": "ses_messages" }))["messages"].clone();
    let [mail] = mail.as_array().expect("a list").as_slice() else {
        panic!("one email expected: {mail:#}");
    };
    assert_eq!(mail["source"], FROM);
    assert_eq!(
        mail["destinations"]["ToAddresses"],
        json!(["team-a@example.com"])
    );
    assert_eq!(mail["body"].as_str(), Some(text));
    assert_eq!(mail["subject"], message["subject"]);
    let email = notice.email.as_ref().expect("emailed");
    assert!(email.sent && email.to == "team-a@example.com");

    // What the notice cost, counted by the function and at the emulator alike.
    let served = aws.calls();
    for operation in ["LookupEvents", "Publish", "SendEmail"] {
        assert_eq!(
            report.api_calls.get(operation),
            Some(&1),
            "{operation}: {:?}",
            report.api_calls
        );
        assert_eq!(served.get(operation), Some(&1), "{operation}: {served:?}");
    }
}

#[tokio::test]
async fn an_unverified_sender_fails_the_email_not_the_invocation() {
    let mut aws = Emulator::start();
    let topic =
        aws.command(json!({ "op": "sns_topic", "name": "access-key-notices" }))["arn"].clone();
    let alice = aws
        .seed(json!([{ "name": "alice@example.com", "keys": [{ "ageDays": 120 }] }]))
        .remove("alice@example.com")
        .unwrap();
    let settings = Settings {
        notices: NoticeSettings {
            topic_arn: topic.as_str().map(str::to_owned),
            ses_from: Some("unverified@example.com".to_owned()),
            ..NoticeSettings::default()
        },
        ..Settings::default()
    };

    let report = handle(
        &aws.remediator(settings),
        invocation(compliance_event(&alice.user_id)),
    )
    .await
    .expect("a failed email fails nothing else");

    let notice = report.users[0].notice.as_ref().expect("a notice");
    assert!(notice.sent, "published all the same");
    let email = notice.email.as_ref().expect("the email was tried");
    assert!(!email.sent && email.message_id.is_none(), "{email:?}");
    assert!(
        email
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("SendEmail"),
        "{email:?}"
    );
    assert_eq!(report.notices_failed, 1);
    let sent: Value = aws.command(json!({ "op": "ses_messages" }))["messages"].clone();
    assert_eq!(sent, json!([]));
}
