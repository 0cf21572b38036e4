//! Security Hub and IAM Access Analyzer over the SDK: the one place that calls either. Security
//! Hub gets one write, BatchUpdateFindings of the finding we acted on; Access Analyzer two
//! reads, the finding (which names the key) and its analyzer's `unusedAccessAge`.

use aws_sdk_accessanalyzer::error::ProvideErrorMetadata;
use aws_sdk_securityhub::types::{
    AwsSecurityFindingIdentifier, NoteUpdate, WorkflowStatus as SdkWorkflowStatus, WorkflowUpdate,
};

use crate::aws::iam::to_offset;
use crate::aws::{
    AwsError, FindingUpdate, FindingsWorkflow, NOTE_AUTHOR, UnusedAccessFindings, UnusedKeyFinding,
    WorkflowStatus,
};
use crate::domain::ids::AccessKeyId;

/// One account's Security Hub and Access Analyzer clients, and the notice clients
/// (`crate::aws::notices`).
#[derive(Debug, Clone)]
pub struct AwsFindings {
    security_hub: aws_sdk_securityhub::Client,
    access_analyzer: aws_sdk_accessanalyzer::Client,
    pub(super) notices: Option<NoticeClients>,
}

/// CloudTrail (a key's recent callers), SNS and SES (owner notices) of one account.
#[derive(Debug, Clone)]
pub struct NoticeClients {
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub sns: aws_sdk_sns::Client,
    pub ses: aws_sdk_sesv2::Client,
}

impl AwsFindings {
    /// Without notice clients: every notice call fails, saying so (`with_notice_clients`).
    pub fn new(
        security_hub: aws_sdk_securityhub::Client,
        access_analyzer: aws_sdk_accessanalyzer::Client,
    ) -> Self {
        AwsFindings {
            security_hub,
            access_analyzer,
            notices: None,
        }
    }

    pub fn with_notice_clients(self, clients: NoticeClients) -> Self {
        AwsFindings {
            notices: Some(clients),
            ..self
        }
    }
}

pub(super) fn failed(
    service: &'static str,
    operation: &'static str,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> AwsError {
    move |source| AwsError {
        service,
        operation,
        source,
    }
}

/// Security Hub's answer that a finding was not updated, with its error code.
#[derive(Debug, thiserror::Error)]
#[error("finding {id} not updated: {code}: {message}")]
struct Unprocessed {
    id: String,
    code: String,
    message: String,
}

impl FindingsWorkflow for AwsFindings {
    async fn update_finding(&self, update: &FindingUpdate) -> Result<(), AwsError> {
        let identifier = AwsSecurityFindingIdentifier::builder()
            .id(&update.finding_id)
            .product_arn(&update.product_arn)
            .build();
        let note = NoteUpdate::builder()
            .text(&update.note)
            .updated_by(NOTE_AUTHOR)
            .build();
        let status = match update.status {
            WorkflowStatus::Resolved => SdkWorkflowStatus::Resolved,
            WorkflowStatus::Notified => SdkWorkflowStatus::Notified,
        };
        let output = self
            .security_hub
            .batch_update_findings()
            .finding_identifiers(identifier)
            .workflow(WorkflowUpdate::builder().status(status).build())
            .note(note)
            .send()
            .await
            .map_err(|error| failed("SecurityHub", "BatchUpdateFindings")(Box::new(error)))?;
        match output.unprocessed_findings().first() {
            None => Ok(()),
            Some(unprocessed) => Err(failed("SecurityHub", "BatchUpdateFindings")(Box::new(
                Unprocessed {
                    id: update.finding_id.clone(),
                    code: unprocessed.error_code().unwrap_or("unknown").to_owned(),
                    message: unprocessed.error_message().unwrap_or_default().to_owned(),
                },
            ))),
        }
    }
}

impl UnusedAccessFindings for AwsFindings {
    async fn unused_access_finding(
        &self,
        analyzer_arn: &str,
        finding_id: &str,
    ) -> Result<Option<UnusedKeyFinding>, AwsError> {
        let answer = self
            .access_analyzer
            .get_finding_v2()
            .analyzer_arn(analyzer_arn)
            .id(finding_id)
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(error) if error.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(error) => return Err(failed("AccessAnalyzer", "GetFindingV2")(Box::new(error))),
        };
        let key = output
            .finding_details()
            .iter()
            .find_map(|details| details.as_unused_iam_user_access_key_details().ok());
        Ok(Some(UnusedKeyFinding {
            finding_type: output
                .finding_type()
                .map_or_else(String::new, |kind| kind.as_str().to_owned()),
            status: output.status().as_str().to_owned(),
            resource: output.resource().map(str::to_owned),
            access_key_id: key.and_then(|key| AccessKeyId::parse(key.access_key_id()).ok()),
            last_accessed: key.and_then(|key| key.last_accessed()).map(to_offset),
        }))
    }

    async fn unused_access_age_days(&self, analyzer_arn: &str) -> Result<Option<u32>, AwsError> {
        // GetAnalyzer takes the analyzer's name: the ARN's `analyzer/NAME`.
        let name = analyzer_arn.rsplit('/').next().unwrap_or(analyzer_arn);
        let output = self
            .access_analyzer
            .get_analyzer()
            .analyzer_name(name)
            .send()
            .await
            .map_err(|error| failed("AccessAnalyzer", "GetAnalyzer")(Box::new(error)))?;
        Ok(output
            .analyzer()
            .and_then(|analyzer| analyzer.configuration())
            .and_then(|configuration| configuration.as_unused_access().ok())
            .and_then(|unused| unused.unused_access_age())
            .and_then(|days| u32::try_from(days).ok()))
    }
}
