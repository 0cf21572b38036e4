//! The composition root: what a cold start builds once per container. Settings from the
//! environment, the SDK clients of the function's own account (each with the interceptor
//! that counts its calls), the member-account connector, and the metric sink.

use std::io::Write;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_config::identity::IdentityCache;

use aws_config::sts::AssumeRoleProvider;
use aws_sdk_iam::config::SharedCredentialsProvider;
use aws_smithy_async::time::SharedTimeSource;

use crate::aws::accounts::{AccountClients, MemberAccounts};
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::config::AwsConfigInventory;
use crate::aws::findings::{AwsFindings, NoticeClients};
use crate::aws::iam::AwsIam;
use crate::aws::organizations::AwsOrganization;
use crate::aws::run_store::{self, AwsRunStore};
use crate::remediate::Remediator;
use crate::settings::{MemberRole, Settings, SettingsError};

/// How the function names itself in member accounts' CloudTrail.
const ROLE_SESSION_NAME: &str = "access-key-remediator";

/// The remediator as deployed: IAM and Config through the AWS SDK.
pub type AwsRemediator = Remediator<AwsIam, AwsConfigInventory, AwsFindings>;

/// What a cold start does: settings from the environment, then the SDK's default chain
/// (which honours AWS_ENDPOINT_URL, AWS_REGION, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE).
pub async fn from_env() -> Result<AwsRemediator, SettingsError> {
    let settings = Settings::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Ok(
        from_sdk_config(settings, &sdk).with_metric_sink(Box::new(|line| {
            // Lambda passes a custom runtime's stdout through as-is, and CloudWatch Logs
            // extracts EMF from any log event that is a whole EMF document. A closed stdout
            // loses the metric, not the invocation: no println!, which would panic.
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        })),
    )
}

/// Builds the SDK clients once, from a shared SDK configuration. With a member role set,
/// other accounts' clients are built on first use, assuming that role from these
/// credentials, and kept for the container's life.
pub fn from_sdk_config(settings: Settings, sdk: &SdkConfig) -> AwsRemediator {
    let api_calls = ApiCallCounter::default();
    let home = account_clients(sdk, &api_calls);
    let member_role = settings.member_role.clone();
    let organization = &settings.organization;
    let sweep_bucket = organization.sweep_bucket.clone();
    let reads_organization = organization.mode_tags || organization.sweep_organization;
    let mut remediator = Remediator::new(settings, home).with_api_call_counter(api_calls.clone());
    if sweep_bucket.is_some() {
        let client = run_store::s3_client(sdk, api_calls.clone());
        remediator = remediator.with_run_store(Arc::new(AwsRunStore::new(client)));
    }
    if reads_organization {
        let config = aws_sdk_organizations::config::Builder::from(sdk)
            .interceptor(api_calls.clone())
            .build();
        let client = aws_sdk_organizations::Client::from_conf(config);
        remediator = remediator.with_organization(Arc::new(AwsOrganization::new(client)));
    }
    match member_role {
        None => remediator,
        Some(role) => remediator.with_member_accounts(member_accounts(sdk, role, api_calls)),
    }
}

/// IAM and Config clients over one SDK configuration (one account's credentials), each with
/// the interceptor that counts its calls for the report's `apiCalls`.
fn account_clients(
    sdk: &SdkConfig,
    api_calls: &ApiCallCounter,
) -> AccountClients<AwsIam, AwsConfigInventory, AwsFindings> {
    let iam = crate::aws::iam::client_config(aws_sdk_iam::config::Builder::from(sdk))
        .interceptor(api_calls.clone())
        .build();
    let config = aws_sdk_config::config::Builder::from(sdk)
        .interceptor(api_calls.clone())
        .build();
    let security_hub = aws_sdk_securityhub::config::Builder::from(sdk)
        .interceptor(api_calls.clone())
        .build();
    let access_analyzer = aws_sdk_accessanalyzer::config::Builder::from(sdk)
        .interceptor(api_calls.clone())
        .build();
    AccountClients {
        iam: AwsIam::new(aws_sdk_iam::Client::from_conf(iam)),
        inventory: AwsConfigInventory::new(aws_sdk_config::Client::from_conf(config)),
        findings: AwsFindings::new(
            aws_sdk_securityhub::Client::from_conf(security_hub),
            aws_sdk_accessanalyzer::Client::from_conf(access_analyzer),
        )
        .with_notice_clients(notice_clients(sdk, api_calls)),
    }
}

/// CloudTrail, SNS and SES over one SDK configuration, counted like the others. Every account
/// gets all three; only the home account's SNS and SES are used (notices are sent from there).
fn notice_clients(sdk: &SdkConfig, api_calls: &ApiCallCounter) -> NoticeClients {
    let cloudtrail = aws_sdk_cloudtrail::config::Builder::from(sdk)
        .interceptor(api_calls.clone())
        .build();
    let sns = aws_sdk_sns::config::Builder::from(sdk)
        .interceptor(api_calls.clone())
        .build();
    let ses = aws_sdk_sesv2::config::Builder::from(sdk)
        .interceptor(api_calls.clone())
        .build();
    NoticeClients {
        cloudtrail: aws_sdk_cloudtrail::Client::from_conf(cloudtrail),
        sns: aws_sdk_sns::Client::from_conf(sns),
        ses: aws_sdk_sesv2::Client::from_conf(ses),
    }
}

/// Clients for member accounts: each assumes `role` there, from the function's credentials.
fn member_accounts(
    sdk: &SdkConfig,
    role: MemberRole,
    api_calls: ApiCallCounter,
) -> MemberAccounts<AwsIam, AwsConfigInventory, AwsFindings> {
    // AssumeRoleProvider panics without a time source. `load_defaults` sets one, but a
    // hand-built SdkConfig need not: never let that reach an invocation.
    let sdk = match sdk.time_source() {
        Some(_) => sdk.clone(),
        None => sdk
            .clone()
            .into_builder()
            .time_source(SharedTimeSource::default())
            .build(),
    };
    MemberAccounts::new(Box::new(move |role_arn| {
        let (sdk, api_calls, external_id) =
            (sdk.clone(), api_calls.clone(), role.external_id.clone());
        Box::pin(async move {
            let mut assumed = AssumeRoleProvider::builder(role_arn)
                .session_name(ROLE_SESSION_NAME)
                .configure(&sdk);
            if let Some(external_id) = external_id {
                assumed = assumed.external_id(external_id);
            }
            let assumed = assumed.build().await;
            // One cache for both clients, so the account's IAM and Config calls share one
            // AssumeRole until its credentials near expiry.
            let member = sdk
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(assumed))
                .identity_cache(IdentityCache::lazy().build())
                .build();
            account_clients(&member, &api_calls)
        })
    }))
}
