//! Owner notices over the SDK: CloudTrail LookupEvents for a key's recent callers, SNS
//! Publish of the notice with its message attributes, SES (v2) SendEmail to the owner.
//! The one place that calls any of the three.

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::aws::findings::{AwsFindings, NoticeClients, failed};
use crate::aws::iam::to_offset;
use crate::aws::{AwsError, KeyActivity, Notices};
use crate::domain::ids::AccessKeyId;
use crate::domain::notice::{KeyCall, Notice};

/// The clients were never given (`AwsFindings::new` alone, as some tests build it).
#[derive(Debug, thiserror::Error)]
#[error("no {0} client: built without notice clients")]
struct NoClient(&'static str);

/// A request the SDK's builder refused before sending.
#[derive(Debug, thiserror::Error)]
#[error("request not built: {0}")]
struct NotBuilt(String);

impl AwsFindings {
    fn clients(
        &self,
        service: &'static str,
        operation: &'static str,
    ) -> Result<&NoticeClients, AwsError> {
        self.notices
            .as_ref()
            .ok_or_else(|| failed(service, operation)(Box::new(NoClient(service))))
    }
}

fn not_built(
    service: &'static str,
    operation: &'static str,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> AwsError {
    move |error| failed(service, operation)(Box::new(NotBuilt(error.to_string())))
}

impl KeyActivity for AwsFindings {
    async fn recent_calls(
        &self,
        access_key_id: &AccessKeyId,
        max: usize,
    ) -> Result<Vec<KeyCall>, AwsError> {
        let (service, operation) = ("CloudTrail", "LookupEvents");
        let clients = self.clients(service, operation)?;
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::AccessKeyId)
            .attribute_value(access_key_id.as_str())
            .build()
            .map_err(|error| not_built(service, operation)(Box::new(error)))?;
        let output = clients
            .cloudtrail
            .lookup_events()
            .lookup_attributes(attribute)
            .max_results(i32::try_from(max.clamp(1, 50)).unwrap_or(50))
            .send()
            .await
            .map_err(|error| failed(service, operation)(Box::new(error)))?;
        Ok(output.events().iter().filter_map(key_call).collect())
    }
}

/// One event, its source IP and user agent read from the CloudTrail record it carries.
fn key_call(event: &aws_sdk_cloudtrail::types::Event) -> Option<KeyCall> {
    let record: serde_json::Value = event
        .cloud_trail_event()
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default();
    let field = |name: &str| record[name].as_str().map(str::to_owned);
    Some(KeyCall {
        at: to_offset(event.event_time()?),
        event_name: event.event_name()?.to_owned(),
        event_source: event.event_source().map(str::to_owned),
        source_ip: field("sourceIPAddress"),
        user_agent: field("userAgent"),
    })
}

fn string_attribute(value: &str, data_type: &str) -> Result<MessageAttributeValue, AwsError> {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .map_err(|error| not_built("SNS", "Publish")(Box::new(error)))
}

impl Notices for AwsFindings {
    async fn publish(&self, topic_arn: &str, notice: &Notice) -> Result<String, AwsError> {
        let clients = self.clients("SNS", "Publish")?;
        let attributes = &notice.attributes;
        let actions: Vec<&str> = attributes.actions.iter().map(|a| a.as_str()).collect();
        let actions = serde_json::to_string(&actions).unwrap_or_else(|_| "[]".to_owned());
        let mut request = clients
            .sns
            .publish()
            .topic_arn(topic_arn)
            .subject(&notice.subject)
            .message(&notice.text)
            .message_attributes("account", string_attribute(&attributes.account, "String")?)
            .message_attributes("user", string_attribute(&attributes.user, "String")?)
            .message_attributes("action", string_attribute(&actions, "String.Array")?);
        if let Some(owner) = &attributes.owner {
            request = request.message_attributes("owner", string_attribute(owner, "String")?);
        }
        let output = request
            .send()
            .await
            .map_err(|error| failed("SNS", "Publish")(Box::new(error)))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }

    async fn email(&self, from: &str, to: &str, notice: &Notice) -> Result<String, AwsError> {
        let (service, operation) = ("SES", "SendEmail");
        let clients = self.clients(service, operation)?;
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|error| not_built(service, operation)(Box::new(error)))
        };
        let message = Message::builder()
            .subject(content(&notice.subject)?)
            .body(Body::builder().text(content(&notice.text)?).build())
            .build();
        let output = clients
            .ses
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|error| failed(service, operation)(Box::new(error)))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}
