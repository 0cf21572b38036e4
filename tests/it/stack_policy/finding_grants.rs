//! The grants that come with the triggers: the Config rule lookup every Config event needs, the
//! Security Hub finding update and the Access Analyzer reads. Each exists only when its trigger
//! is on, each is on the narrowest resource IAM allows, and the finding update, a write, exists
//! only in a mode that writes and may set only the workflow statuses the function sets.

use access_key_remediator::aws::WorkflowStatus;
use access_key_remediator::domain::policy::Mode;
use yaml_serde::Value;

use super::{
    CENTRAL_ACCOUNT, CENTRAL_BUS_ARN, CENTRAL_ROLE_ARN, MEMBER_ACCOUNT, MODES, TEMPLATES,
    function_role,
};
use crate::support::cloudformation::{Statement, Template};

const CONFIG_RULES: &str =
    "arn:${AWS::Partition}:config:${AWS::Region}:${AWS::AccountId}:config-rule/*";
const OWN_HUB: &str =
    "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:hub/default";
const OWN_ANALYZERS: &str =
    "arn:${AWS::Partition}:access-analyzer:${AWS::Region}:${AWS::AccountId}:analyzer/*";
const UPDATE_FINDINGS: &str = "securityhub:BatchUpdateFindings";
/// GetFindingV2 is authorized as `access-analyzer:GetFinding`; IAM has no GetFindingV2 action.
const ANALYZER_READS: [&str; 2] = ["access-analyzer:GetFinding", "access-analyzer:GetAnalyzer"];
/// Security Hub's condition key for the workflow status a BatchUpdateFindings request sets.
const WORKFLOW_STATUS_KEY: &str = "securityhub:ASFFSyntaxPath/Workflow.Status";

/// The SecurityHubTrigger values a template takes: the member's may grant without forwarding.
fn security_hub_values(template: &str) -> &'static [&'static str] {
    match template {
        "template.yaml" => &["off", "on"],
        _ => &["off", "on", "on-no-forwarding"],
    }
}

/// The statements of the function's role (the member role in a member account), deployed
/// with this mode and these trigger values.
fn function_grants(
    template: &'static str,
    mode: Mode,
    security_hub: &str,
    access_analyzer: &str,
) -> Vec<Statement> {
    let mut given = match template {
        "template.yaml" => vec![("AWS::AccountId", CENTRAL_ACCOUNT)],
        _ => vec![
            ("AWS::AccountId", MEMBER_ACCOUNT),
            ("CentralFunctionRoleArn", CENTRAL_ROLE_ARN),
            ("CentralEventBusArn", CENTRAL_BUS_ARN),
        ],
    };
    given.extend([
        ("RemediationMode", mode.as_str()),
        ("SecurityHubTrigger", security_hub),
        ("AccessAnalyzerTrigger", access_analyzer),
    ]);
    Template::load(template)
        .deploy(&given)
        .role_statements()
        .into_iter()
        .filter(|s| s.owner == function_role(template))
        .collect()
}

fn granting<'a>(statements: &'a [Statement], action: &str) -> Vec<&'a Statement> {
    statements
        .iter()
        .filter(|s| s.actions.iter().any(|a| a == action))
        .collect()
}

#[test]
fn finding_updates_are_granted_only_with_the_security_hub_trigger_on_in_a_mode_that_writes() {
    let mut table =
        String::from("BatchUpdateFindings granted (template, SecurityHubTrigger, then per mode)\n");
    for template in TEMPLATES {
        for &security_hub in security_hub_values(template) {
            let mut row = format!("| {template} | {security_hub} |");
            for mode in MODES {
                let statements = function_grants(template, mode, security_hub, "off");
                let grants = granting(&statements, UPDATE_FINDINGS);
                let expected = security_hub != "off" && mode != Mode::Report;
                let context = format!("{template} {security_hub} {}", mode.as_str());
                assert_eq!(
                    grants.len(),
                    usize::from(expected),
                    "{context}: {grants:#?}"
                );
                for grant in grants {
                    assert_eq!(grant.actions, [UPDATE_FINDINGS], "{context}: alone");
                    assert_eq!(grant.resources, [OWN_HUB], "{context}");
                }
                row.push_str(if expected { " yes |" } else { " no |" });
            }
            table.push_str(&row);
            table.push('\n');
        }
    }
    println!("{table}");
}

/// Whether a BatchUpdateFindings request setting this workflow status (`None`: setting none)
/// passes the statement's Condition, as IAM evaluates the one operator it uses: StringEquals
/// holds when the key is in the request and equals one of the values.
fn update_permitted(condition: &Value, status: Option<&str>) -> bool {
    let operators = condition.as_mapping().expect("a condition block");
    operators.iter().all(|(operator, block)| {
        assert_eq!(
            operator.as_str(),
            Some("StringEquals"),
            "not modelled: {operator:?}"
        );
        let keys: Vec<&str> = block
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(keys, [WORKFLOW_STATUS_KEY]);
        let allowed: Vec<&str> = block[WORKFLOW_STATUS_KEY]
            .as_sequence()
            .expect("a list of statuses")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        status.is_some_and(|status| allowed.contains(&status))
    })
}

#[test]
fn finding_updates_may_set_only_the_statuses_the_function_sets_never_suppressed() {
    let sent: Vec<&str> = [WorkflowStatus::Resolved, WorkflowStatus::Notified]
        .into_iter()
        .map(WorkflowStatus::as_str)
        .collect();
    for template in TEMPLATES {
        let statements = function_grants(template, Mode::Delete, "on", "off");
        let [grant] = granting(&statements, UPDATE_FINDINGS)[..] else {
            panic!("{template}: one BatchUpdateFindings grant");
        };
        let condition = &grant.condition;
        for status in &sent {
            assert!(
                update_permitted(condition, Some(status)),
                "{template}: {status} refused"
            );
        }
        // SUPPRESSED is the security team's exemption; NEW would reopen a finding; and a
        // request that sets no status (a note alone, a severity) is not the function's.
        for refused in [Some("SUPPRESSED"), Some("NEW"), None] {
            assert!(
                !update_permitted(condition, refused),
                "{template}: {refused:?} let through"
            );
        }
    }
}

#[test]
fn config_rules_are_described_in_every_mode_and_only_the_accounts_own() {
    for template in TEMPLATES {
        for mode in MODES {
            for (security_hub, access_analyzer) in [("off", "off"), ("on", "on")] {
                let statements = function_grants(template, mode, security_hub, access_analyzer);
                let context = format!("{template} {} {security_hub}", mode.as_str());
                let [grant] = granting(&statements, "config:DescribeConfigRules")[..] else {
                    panic!("{context}: one DescribeConfigRules grant");
                };
                assert_eq!(grant.actions, ["config:DescribeConfigRules"], "{context}");
                assert_eq!(grant.resources, [CONFIG_RULES], "{context}");
                assert!(grant.condition.is_null(), "{context}");
            }
        }
    }
}

#[test]
fn analyzer_reads_are_granted_only_with_the_access_analyzer_trigger_on_and_on_its_analyzers() {
    for template in TEMPLATES {
        for mode in MODES {
            for access_analyzer in ["off", "on"] {
                let statements = function_grants(template, mode, "off", access_analyzer);
                let context = format!("{template} {} {access_analyzer}", mode.as_str());
                let grants: Vec<&Statement> = statements
                    .iter()
                    .filter(|s| s.actions.iter().any(|a| a.starts_with("access-analyzer:")))
                    .collect();
                if access_analyzer == "off" {
                    assert!(grants.is_empty(), "{context}: {grants:#?}");
                    continue;
                }
                // Reads: in report mode too, since the function reads before it decides.
                let [grant] = grants[..] else {
                    panic!("{context}: one Access Analyzer grant, not {grants:#?}");
                };
                assert_eq!(grant.actions, ANALYZER_READS, "{context}");
                assert_eq!(grant.resources, [OWN_ANALYZERS], "{context}");
                assert!(grant.condition.is_null(), "{context}");
            }
        }
    }
}

#[test]
fn with_both_triggers_off_no_finding_service_is_granted_anything() {
    for template in TEMPLATES {
        for mode in MODES {
            let statements = function_grants(template, mode, "off", "off");
            let granted: Vec<&String> = statements
                .iter()
                .flat_map(|s| &s.actions)
                .filter(|a| a.starts_with("securityhub:") || a.starts_with("access-analyzer:"))
                .collect();
            assert!(
                granted.is_empty(),
                "{template} {}: {granted:?}",
                mode.as_str()
            );
        }
    }
}
