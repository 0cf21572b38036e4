//! Security Hub's "Security Hub Findings - Imported" event (ASFF): a FAILED finding of IAM.3
//! (key age) or IAM.8 (unused credentials) against one IAM user, by any of the three ways
//! Security Hub names those controls. A SUPPRESSED finding is the security team's own
//! exemption and is never acted on.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use super::{
    Cause, Control, IntakeError, SecurityHubFinding, UserRef, UserTarget, Work, ignore, malformed,
    parse, user_name_of_arn,
};
use crate::domain::ids::{AccountId, UserId};

const SECURITY_HUB_SOURCE: &str = "aws.securityhub";
const FINDINGS_IMPORTED: &str = "Security Hub Findings - Imported";
const IAM_USER: &str = "AwsIamUser";

/// The ASFF fields we rely on; everything else may be missing.
#[derive(Debug, Deserialize)]
struct FindingsDetail {
    findings: Vec<Finding>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Finding {
    id: String,
    product_arn: String,
    generator_id: String,
    aws_account_id: String,
    #[serde(default)]
    compliance: Option<Compliance>,
    #[serde(default)]
    record_state: Option<String>,
    #[serde(default)]
    workflow: Option<Workflow>,
    #[serde(default)]
    note: Option<Note>,
    resources: Vec<Resource>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Compliance {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    security_control_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Workflow {
    status: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Note {
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Resource {
    #[serde(rename = "Type")]
    kind: String,
    id: String,
    #[serde(default)]
    details: Option<ResourceDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceDetails {
    #[serde(default)]
    aws_iam_user: Option<IamUserDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IamUserDetails {
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
}

pub(super) fn is_findings_imported(event: &EventBridgeEvent<Value>) -> bool {
    event.source == SECURITY_HUB_SOURCE && event.detail_type == FINDINGS_IMPORTED
}

pub(super) fn classify(event: EventBridgeEvent<Value>) -> Result<Work, IntakeError> {
    let detail: FindingsDetail = parse(event.detail.clone(), "detail.")?;
    // Security Hub sends one finding per Imported event; more would need one decision each.
    let [finding] =
        <[Finding; 1]>::try_from(detail.findings).map_err(|findings| IntakeError::Malformed {
            path: "detail.findings".to_owned(),
            message: format!("holds {} findings; Security Hub sends one", findings.len()),
        })?;
    let Some(control) = control_of(&finding) else {
        return Ok(ignore(
            &event,
            format!("finding {:?} is not of IAM.3 or IAM.8", finding.id),
        ));
    };
    if let Some(reason) = not_actionable(&finding) {
        return Ok(ignore(
            &event,
            format!("{} finding {:?}: {reason}", control.as_str(), finding.id),
        ));
    }
    let account = AccountId::parse(&finding.aws_account_id)
        .map_err(|error| malformed("detail.findings[0].AwsAccountId", error))?;
    let user = user_of(&finding)?;
    Ok(Work::Remediate(UserTarget {
        user,
        account,
        cause: Cause::SecurityHub(SecurityHubFinding {
            id: finding.id,
            product_arn: finding.product_arn,
            control,
            workflow_status: finding
                .workflow
                .map_or_else(|| "NEW".to_owned(), |w| w.status),
            note: finding.note.map(|note| note.text),
        }),
    }))
}

/// The control, from the consolidated `SecurityControlId`, else the standard's `GeneratorId`:
/// AWS Foundational Security Best Practices (`…/IAM.3`), CIS 1.2.0 (`…/rule/1.4`, `…/rule/1.3`)
/// or CIS 1.4.0 (`…/1.14`, `…/1.12`).
fn control_of(finding: &Finding) -> Option<Control> {
    let consolidated = finding
        .compliance
        .as_ref()
        .and_then(|c| c.security_control_id.as_deref());
    let generator = finding.generator_id.as_str();
    let named = |id: &str| consolidated == Some(id) || generator.ends_with(&format!("/{id}"));
    let cis = |v12: &str, v14: &str| {
        generator.contains("cis-aws-foundations-benchmark/v/1.2.0/rule/")
            && generator.ends_with(v12)
            || generator.contains("cis-aws-foundations-benchmark/v/1.4.0/")
                && generator.ends_with(v14)
    };
    if named("IAM.3") || cis("/rule/1.4", "/1.14") {
        Some(Control::KeyRotation)
    } else if named("IAM.8") || cis("/rule/1.3", "/1.12") {
        Some(Control::UnusedCredentials)
    } else {
        None
    }
}

/// Why a finding of ours is not acted on: passed, archived, or resolved or suppressed.
fn not_actionable(finding: &Finding) -> Option<String> {
    let status = finding
        .compliance
        .as_ref()
        .and_then(|c| c.status.as_deref());
    if status != Some("FAILED") {
        return Some(format!("compliance status is {status:?}, not FAILED"));
    }
    let record = finding.record_state.as_deref();
    if record != Some("ACTIVE") {
        return Some(format!("record state is {record:?}, not ACTIVE"));
    }
    // ASFF's Workflow is optional; a finding without one has never been triaged.
    let workflow = finding
        .workflow
        .as_ref()
        .map_or("NEW", |w| w.status.as_str());
    (!matches!(workflow, "NEW" | "NOTIFIED")).then(|| {
        format!("workflow status is {workflow}, not NEW or NOTIFIED; SUPPRESSED is the security team's exemption")
    })
}

/// The user: `Details.AwsIamUser` where given, else the name in the resource's ARN.
fn user_of(finding: &Finding) -> Result<UserRef, IntakeError> {
    let Some((index, resource)) = finding
        .resources
        .iter()
        .enumerate()
        .find(|(_, resource)| resource.kind == IAM_USER)
    else {
        return Err(IntakeError::Malformed {
            path: "detail.findings[0].Resources".to_owned(),
            message: format!("names no resource of Type {IAM_USER}"),
        });
    };
    let details = resource
        .details
        .as_ref()
        .and_then(|d| d.aws_iam_user.as_ref());
    let path = format!("detail.findings[0].Resources[{index}]");
    let user_id = details
        .and_then(|d| d.user_id.as_deref())
        .map(|id| {
            UserId::parse(id)
                .map_err(|e| malformed(&format!("{path}.Details.AwsIamUser.UserId"), e))
        })
        .transpose()?;
    let user_name = match details.and_then(|d| d.user_name.clone()) {
        Some(name) => name,
        None => user_name_of_arn(&resource.id)
            .ok_or_else(|| IntakeError::Malformed {
                path: format!("{path}.Id"),
                message: format!("{:?} is not an IAM user ARN", resource.id),
            })?
            .to_owned(),
    };
    Ok(UserRef::Name { user_name, user_id })
}
