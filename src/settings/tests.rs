use super::*;
use crate::domain::org::{Scope, UnitId};
use std::collections::HashMap;

fn settings_from(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|name| env.get(name).cloned())
}

#[test]
fn an_empty_environment_gives_the_documented_defaults() {
    assert_eq!(settings_from(&[]).unwrap(), Settings::default());
}

#[test]
fn empty_strings_count_as_unset_as_cloudformation_passes_them() {
    let settings = settings_from(&[("MAX_KEY_IDLE_DAYS", ""), ("REMEDIATION_MODE", " ")]);
    assert_eq!(settings.unwrap(), Settings::default());
}

#[test]
fn every_variable_is_read() {
    let settings = settings_from(&[
        ("MAX_KEY_AGE_DAYS", "45"),
        ("DELETE_AFTER_INACTIVE_DAYS", "30"),
        ("REMEDIATION_MODE", "report"),
        ("RULE_NAMES", "my-keys-rotated, my-org-*-keys"),
        ("EXEMPT_TAG_KEY", "security:exempt"),
        ("MAX_KEY_IDLE_DAYS", "60"),
        ("MAX_ACTIONS_PER_INVOCATION", "5"),
        ("WARN_BEFORE_DAYS", "0"),
        ("SWEEP_CONCURRENCY", "4"),
        ("MEMBER_ROLE_NAME", "AccessKeyRemediatorMember"),
        ("MEMBER_ROLE_EXTERNAL_ID", "org-7f3a"),
        ("AWS_ACCOUNT_ID", "210987654321"),
        (
            "NOTICE_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:210987654321:access-key-notices",
        ),
        ("OWNER_TAG_KEY", "Team-Email"),
        ("SES_FROM_ADDRESS", "security@example.com"),
        ("ORG_MODE_TAGS", "on"),
        ("ORG_CACHE_TTL_SECONDS", "60"),
        ("SWEEP_ORGANIZATION", "on"),
        ("SWEEP_UNITS", "ou-ab12-cdef5678, r-ab12"),
        ("SWEEP_EXCLUDE", "111122223333,ou-ab12-99999999"),
        ("SWEEP_ACCOUNTS", "210987654321"),
        ("MAP_MAX_CONCURRENCY", "40"),
        ("FAILURE_TOLERANCE_PERCENT", "5"),
        ("RESERVED_CONCURRENCY", "50"),
        ("SWEEP_BUCKET", "org-sweep-runs-210987654321"),
    ])
    .unwrap();
    assert_eq!(
        settings,
        Settings {
            policy: Policy {
                max_key_age_days: 45,
                delete_after_inactive_days: 30,
                mode: Mode::Report,
                exempt_tag_key: "security:exempt".into(),
                max_key_idle_days: Some(60),
                max_actions_per_invocation: 5,
                warn_before_days: 0,
            },
            rule_names: vec![
                RulePattern::parse("my-keys-rotated").unwrap(),
                RulePattern::parse("my-org-*-keys").unwrap(),
            ],
            sweep_concurrency: 4,
            member_role: Some(MemberRole {
                name: "AccessKeyRemediatorMember".into(),
                external_id: Some("org-7f3a".into()),
            }),
            local_account: Some(AccountId::parse("210987654321").unwrap()),
            notices: NoticeSettings {
                topic_arn: Some("arn:aws:sns:eu-west-1:210987654321:access-key-notices".into()),
                owner_tag_key: "Team-Email".into(),
                ses_from: Some("security@example.com".into()),
            },
            organization: OrgSettings {
                mode_tags: true,
                cache_ttl: std::time::Duration::from_secs(60),
                sweep_organization: true,
                scope: Scope {
                    units: vec![
                        UnitId::parse("ou-ab12-cdef5678").unwrap(),
                        UnitId::parse("r-ab12").unwrap(),
                    ],
                    excluded_units: vec![UnitId::parse("ou-ab12-99999999").unwrap()],
                    excluded_accounts: vec![AccountId::parse("111122223333").unwrap()],
                },
                sweep_accounts: vec![AccountId::parse("210987654321").unwrap()],
                map_max_concurrency: 40,
                failure_tolerance_percent: 5,
                reserved_concurrency: Some(50),
                sweep_bucket: Some("org-sweep-runs-210987654321".into()),
            },
        }
    );
}

#[test]
fn each_invalid_value_is_rejected_with_the_variable_named() {
    let cases = [
        ("MAX_KEY_AGE_DAYS", "ninety"),
        ("MAX_KEY_AGE_DAYS", "0"),
        ("MAX_KEY_AGE_DAYS", "-5"),
        ("MAX_KEY_AGE_DAYS", "99999"),
        ("DELETE_AFTER_INACTIVE_DAYS", "0"),
        ("DELETE_AFTER_INACTIVE_DAYS", "1.5"),
        ("REMEDIATION_MODE", "DELETE"),
        ("REMEDIATION_MODE", "dry-run"),
        ("RULE_NAMES", "a,,b"),
        ("RULE_NAMES", "rule with spaces"),
        (
            "RULE_NAMES",
            "arn:aws:config:us-east-1:123456789012:config-rule/x",
        ),
        ("EXEMPT_TAG_KEY", "aws:exempt"),
        ("EXEMPT_TAG_KEY", "access-key-remediator:state"),
        ("EXEMPT_TAG_KEY", "Access-Key-Remediator:Deactivated:exempt"),
        ("MAX_KEY_IDLE_DAYS", "soon"),
        ("MAX_ACTIONS_PER_INVOCATION", "0"),
        ("MAX_ACTIONS_PER_INVOCATION", "lots"),
        ("WARN_BEFORE_DAYS", "-1"),
        ("WARN_BEFORE_DAYS", "3651"),
        ("WARN_BEFORE_DAYS", "a week"),
        ("SWEEP_CONCURRENCY", "0"),
        ("SWEEP_CONCURRENCY", "1000"),
        ("MEMBER_ROLE_NAME", "role/with-slash"),
        ("MEMBER_ROLE_NAME", "arn:aws:iam::123456789012:role/x"),
        ("MEMBER_ROLE_EXTERNAL_ID", "orphan-without-a-role"),
        ("AWS_ACCOUNT_ID", "12345"),
        ("NOTICE_TOPIC_ARN", "access-key-notices"),
        (
            "NOTICE_TOPIC_ARN",
            "arn:aws:sqs:us-east-1:123456789012:queue",
        ),
        ("NOTICE_TOPIC_ARN", "arn:aws:sns:us-east-1:1234:topic"),
        (
            "NOTICE_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:bad name",
        ),
        ("OWNER_TAG_KEY", "aws:owner"),
        ("SES_FROM_ADDRESS", "security"),
        ("SES_FROM_ADDRESS", "Security <security@example.com>"),
        ("ORG_MODE_TAGS", "yes"),
        ("SWEEP_ORGANIZATION", "true"),
        ("ORG_CACHE_TTL_SECONDS", "86401"),
        ("ORG_CACHE_TTL_SECONDS", "15m"),
        ("SWEEP_UNITS", "ou-ab12"),
        ("SWEEP_UNITS", "123456789012"),
        ("SWEEP_EXCLUDE", "r-ab12x,ou-"),
        ("SWEEP_ACCOUNTS", "123456789012,12345"),
        ("MAP_MAX_CONCURRENCY", "0"),
        ("MAP_MAX_CONCURRENCY", "1001"),
        ("FAILURE_TOLERANCE_PERCENT", "101"),
        ("FAILURE_TOLERANCE_PERCENT", "10%"),
        ("RESERVED_CONCURRENCY", "0"),
        ("SWEEP_BUCKET", "Org_Sweep"),
        ("SWEEP_BUCKET", "s3://org-sweep"),
        ("SWEEP_BUCKET", "-org-sweep"),
    ];
    for (variable, value) in cases {
        let error = settings_from(&[(variable, value)]).unwrap_err();
        assert_eq!(error.variable, variable, "{variable}={value}");
        assert!(
            error.to_string().contains(variable),
            "message must name {variable}: {error}"
        );
    }
}
