//! The stack around the organisation sweep: the schedule that starts the state machine or the
//! function (never both), the roles (the machine's, the schedule's; the S3 grants are in
//! `org_bucket`), the function's Organizations reads (read-only, only when needed), the member
//! role's ceiling tag, the concurrency rule, the settings and the failed-executions alarm.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value as Json, json};
use yaml_serde::Value;

use super::org_sweep::{MACHINE, central, created};
use super::{CENTRAL_BUS_ARN, CENTRAL_ROLE_ARN, MEMBER_ACCOUNT, MODES};
use crate::support::cloudformation::{Deployment, Template, arn_text, intrinsic, role_statements};

const ORGANIZATION_READS: [&str; 5] = [
    "organizations:ListRoots",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListAccountsForParent",
    "organizations:ListParents",
    "organizations:ListTagsForResource",
];

/// The deployment's scheduled rules, by id, with their one target.
fn schedules(deployment: &Deployment) -> BTreeMap<String, Value> {
    deployment
        .resources_of_type("AWS::Events::Rule")
        .into_iter()
        .filter(|(_, rule)| !rule["Properties"]["ScheduleExpression"].is_null())
        .map(|(id, rule)| {
            let properties = &rule["Properties"];
            assert_eq!(
                arn_text(&properties["ScheduleExpression"]),
                "!Ref SweepSchedule",
                "{id}"
            );
            let targets = properties["Targets"].as_sequence().unwrap();
            assert_eq!(targets.len(), 1, "{id}: {targets:?}");
            (id, targets[0].clone())
        })
        .collect()
}

#[test]
fn the_schedule_starts_the_machine_when_on_and_invokes_the_function_when_off_never_both() {
    let template = central();
    for sweep_organization in ["off", "on"] {
        let deployment = template.deploy(&[("SweepOrganization", sweep_organization)]);
        let schedules = schedules(&deployment);
        assert_eq!(schedules.len(), 1, "{sweep_organization}: {schedules:?}");
        let (id, target) = schedules.iter().next().unwrap();
        let resources = created(&deployment);
        let permitted: Vec<String> = deployment
            .resources_of_type("AWS::Lambda::Permission")
            .into_iter()
            .map(|(_, p)| arn_text(&p["Properties"]["SourceArn"]))
            .collect();
        let rule_arn = format!("!GetAtt {id}.Arn");
        if sweep_organization == "on" {
            assert_eq!(id, "OrgSweepRule");
            assert_eq!(arn_text(&target["Arn"]), format!("!Ref {MACHINE}"));
            assert_eq!(arn_text(&target["RoleArn"]), "!GetAtt OrgSweepRuleRole.Arn");
            assert!(!permitted.contains(&rule_arn), "{permitted:?}");
            let statements: Vec<_> = deployment
                .role_statements()
                .into_iter()
                .filter(|s| s.owner == "OrgSweepRuleRole")
                .collect();
            assert_eq!(statements.len(), 1, "{statements:?}");
            assert_eq!(statements[0].actions, ["states:StartExecution"]);
            assert_eq!(statements[0].resources, [format!("!Ref {MACHINE}")]);
            assert_trusts_only(&resources["OrgSweepRuleRole"], "events.amazonaws.com");
        } else {
            assert_eq!(id, "SweepRule");
            assert_eq!(arn_text(&target["Arn"]), "!GetAtt RemediatorFunction.Arn");
            assert!(permitted.contains(&rule_arn), "{permitted:?}");
        }
        assert_eq!(
            arn_text(&target["DeadLetterConfig"]["Arn"]),
            "!GetAtt DeadLetterQueue.Arn"
        );
        let policy = &resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"];
        let sources: Vec<String> =
            policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(arn_text)
                .collect();
        assert!(sources.contains(&rule_arn), "{sources:?}");
    }
}

/// A role's trust policy admits exactly one service principal, from this account only.
fn assert_trusts_only(role: &Value, service: &str) {
    let statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(statements.len(), 1, "{statements:?}");
    let statement = &statements[0];
    assert_eq!(statement["Principal"]["Service"].as_str(), Some(service));
    assert_eq!(statement["Action"].as_str(), Some("sts:AssumeRole"));
    assert_eq!(
        arn_text(&statement["Condition"]["StringEquals"]["aws:SourceAccount"]),
        "!Ref AWS::AccountId"
    );
}

#[test]
fn the_machines_role_invokes_the_function_and_runs_only_its_own_child_executions() {
    let template = central();
    let deployment = template.deploy(&[("SweepOrganization", "on")]);
    let resources = created(&deployment);
    let properties = &resources[MACHINE]["Properties"];
    assert_eq!(
        arn_text(&properties["Role"]),
        "!GetAtt OrgSweepStateMachineRole.Arn"
    );
    assert!(properties["Policies"].is_null(), "no SAM-generated role");
    assert_eq!(
        arn_text(&properties["DefinitionSubstitutions"]["RemediatorFunctionArn"]),
        "!GetAtt RemediatorFunction.Arn"
    );
    let log = &properties["Logging"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"];
    assert_eq!(arn_text(log), "!GetAtt OrgSweepLogGroup.Arn");
    assert_eq!(
        arn_text(&resources["OrgSweepLogGroup"]["Properties"]["RetentionInDays"]),
        "!Ref LogRetentionDays"
    );
    assert_trusts_only(
        &resources["OrgSweepStateMachineRole"],
        "states.amazonaws.com",
    );

    let name = arn_text(&properties["Name"]);
    let own = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}";
    let mut grants: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in deployment.role_statements() {
        if statement.owner != "OrgSweepStateMachineRole" {
            continue;
        }
        for action in statement.actions {
            // The run files in the sweep bucket: org_bucket.
            if action.starts_with("s3:") {
                continue;
            }
            grants.insert(action, statement.resources.clone());
        }
    }
    let on = |resource: String| vec![resource];
    assert_eq!(
        grants.remove("lambda:InvokeFunction"),
        Some(on("!GetAtt RemediatorFunction.Arn".into()))
    );
    assert_eq!(
        grants.remove("states:StartExecution"),
        Some(on(format!("{own}:stateMachine:{name}")))
    );
    for action in ["states:DescribeExecution", "states:StopExecution"] {
        assert_eq!(
            grants.remove(action),
            Some(on(format!("{own}:execution:{name}/*"))),
            "{action}"
        );
    }
    for (action, resources) in &grants {
        assert!(action.starts_with("logs:"), "{action} on {resources:?}");
    }
    assert!(grants.contains_key("logs:CreateLogDelivery"), "{grants:?}");
}

fn organization_grants(deployment: &Deployment) -> BTreeMap<String, Vec<String>> {
    let mut grants = BTreeMap::new();
    for statement in deployment.role_statements() {
        for action in &statement.actions {
            if action.starts_with("organizations:") {
                assert_eq!(statement.owner, "RemediatorRole", "{statement:?}");
                grants.insert(action.clone(), statement.resources.clone());
            }
        }
    }
    grants
}

#[test]
fn the_organizations_grants_are_read_only_and_only_there_when_needed() {
    let template = central();
    let partition = "arn:${AWS::Partition}:organizations::*";
    for (sweep_organization, mode_tags) in
        [("off", "off"), ("on", "off"), ("off", "on"), ("on", "on")]
    {
        let deployment = template.deploy(&[
            ("SweepOrganization", sweep_organization),
            ("OrgModeTags", mode_tags),
        ]);
        let grants = organization_grants(&deployment);
        let context = format!("SweepOrganization={sweep_organization} OrgModeTags={mode_tags}");
        if (sweep_organization, mode_tags) == ("off", "off") {
            assert!(grants.is_empty(), "{context}: {grants:?}");
            continue;
        }
        let actions: Vec<&str> = grants.keys().map(String::as_str).collect();
        let mut expected = ORGANIZATION_READS.to_vec();
        expected.sort_unstable();
        assert_eq!(actions, expected, "{context}");
        for (action, resources) in &grants {
            if action == "organizations:ListTagsForResource" {
                assert_eq!(
                    resources,
                    &[
                        format!("{partition}:account/o-*/*"),
                        format!("{partition}:ou/o-*/ou-*"),
                        format!("{partition}:root/o-*/r-*"),
                    ],
                    "{context}: not on policies"
                );
            } else {
                assert_eq!(resources, &["*"], "{context}: {action}");
            }
        }
    }
    // Whatever the parameters, nothing that changes the organisation is granted anywhere.
    for name in super::TEMPLATES {
        for statement in role_statements(&Template::load(name)) {
            for action in &statement.actions {
                if action.starts_with("organizations:") {
                    assert!(
                        ORGANIZATION_READS.contains(&action.as_str()),
                        "{name} {}: {action}",
                        statement.owner
                    );
                }
            }
        }
    }
}

#[test]
fn the_member_roles_ceiling_tag_is_its_mode_and_it_reads_only_its_own_tags() {
    let member = Template::load("member-account.yaml");
    for mode in MODES {
        let deployment = member.deploy(&[
            ("AWS::AccountId", MEMBER_ACCOUNT),
            ("CentralFunctionRoleArn", CENTRAL_ROLE_ARN),
            ("CentralEventBusArn", CENTRAL_BUS_ARN),
            ("RemediationMode", mode.as_str()),
        ]);
        let resources = created(&deployment);
        let role = &resources["MemberRole"]["Properties"];
        let ceilings: Vec<Json> = role["Tags"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|tag| tag["Key"].as_str() == Some("access-key-remediator:ceiling"))
            .map(|tag| deployment.evaluate(&tag["Value"]))
            .collect();
        assert_eq!(ceilings, [json!(mode.as_str())]);
        assert_eq!(arn_text(&role["RoleName"]), "!Ref MemberRoleName");
        let reads: Vec<_> = deployment
            .role_statements()
            .into_iter()
            .filter(|s| s.actions.iter().any(|a| a == "iam:ListRoleTags"))
            .collect();
        assert_eq!(reads.len(), 1, "{reads:?}");
        assert_eq!(reads[0].owner, "MemberRole");
        assert_eq!(reads[0].actions, ["iam:ListRoleTags"]);
        assert_eq!(
            reads[0].resources,
            ["arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${MemberRoleName}"]
        );
        assert_eq!(reads[0].only_if, None, "in every mode");
    }
    // The central role reads no role's tags: at home the ceiling is the central mode.
    let central = role_statements(&Template::load("template.yaml"));
    assert!(
        central
            .iter()
            .all(|s| !s.actions.iter().any(|a| a == "iam:ListRoleTags")),
        "{central:?}"
    );
}

#[test]
fn reserved_concurrency_leaves_room_for_the_map_and_two_events() {
    let template = central();
    let number = |name: &str| -> u64 { template.default_of(name).parse().unwrap() };
    assert!(
        number("ReservedConcurrency") >= number("MapMaxConcurrency") + 2,
        "ReservedConcurrency {} < MapMaxConcurrency {} + 2",
        number("ReservedConcurrency"),
        number("MapMaxConcurrency")
    );
    for name in ["ReservedConcurrency", "MapMaxConcurrency"] {
        let description = template.parameter(name)["Description"].as_str().unwrap();
        assert!(
            description.contains("MapMaxConcurrency + 2"),
            "{name}'s description does not state the rule: {description}"
        );
    }
    assert_eq!(number("MapMaxConcurrency"), 10);
    assert_eq!(number("FailureTolerancePercent"), 10);
    assert_eq!(number("OrgModeCacheSeconds"), 900);
    let tolerance = template.parameter("FailureTolerancePercent");
    assert_eq!(
        (
            tolerance["MinValue"].as_u64(),
            tolerance["MaxValue"].as_u64()
        ),
        (Some(0), Some(100))
    );
    for switch in ["SweepOrganization", "OrgModeTags"] {
        assert_eq!(template.default_of(switch), "off", "{switch}");
        assert_eq!(
            template.parameter(switch)["AllowedValues"],
            yaml_serde::from_str::<Value>(r#"["on", "off"]"#).unwrap()
        );
    }
    for optional in ["SweepUnits", "SweepExclusions"] {
        assert_eq!(template.default_of(optional), "", "{optional}");
    }
}

#[test]
fn the_function_gets_each_organisation_setting_from_its_parameter() {
    let template = central();
    let variables =
        &template.resource("RemediatorFunction")["Properties"]["Environment"]["Variables"];
    for (variable, parameter) in [
        ("SWEEP_ORGANIZATION", "SweepOrganization"),
        ("SWEEP_ACCOUNTS", "SweepAccounts"),
        ("SWEEP_UNITS", "SweepUnits"),
        ("SWEEP_EXCLUDE", "SweepExclusions"),
        ("ORG_MODE_TAGS", "OrgModeTags"),
        ("ORG_CACHE_TTL_SECONDS", "OrgModeCacheSeconds"),
        ("MAP_MAX_CONCURRENCY", "MapMaxConcurrency"),
        ("FAILURE_TOLERANCE_PERCENT", "FailureTolerancePercent"),
        ("RESERVED_CONCURRENCY", "ReservedConcurrency"),
    ] {
        assert_eq!(
            arn_text(&variables[variable]),
            format!("!Ref {parameter}"),
            "{variable}"
        );
    }
    let grouped: BTreeSet<&str> =
        template.root["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|group| group["Parameters"].as_sequence().unwrap())
            .map(|p| p.as_str().unwrap())
            .collect();
    for parameter in [
        "SweepOrganization",
        "SweepUnits",
        "SweepExclusions",
        "OrgModeTags",
        "OrgModeCacheSeconds",
        "MapMaxConcurrency",
        "FailureTolerancePercent",
    ] {
        assert!(
            grouped.contains(parameter),
            "{parameter} is in no ParameterGroup"
        );
    }
}

#[test]
fn a_failed_execution_alarms_to_the_stacks_topic() {
    let template = central();
    let alarm = template.resource("OrgSweepFailedAlarm");
    assert_eq!(alarm["Condition"].as_str(), Some("SweepsOrganization"));
    let p = &alarm["Properties"];
    assert_eq!(p["Namespace"].as_str(), Some("AWS/States"));
    assert_eq!(p["MetricName"].as_str(), Some("ExecutionsFailed"));
    let dimensions = p["Dimensions"].as_sequence().unwrap();
    assert_eq!(dimensions.len(), 1);
    assert_eq!(dimensions[0]["Name"].as_str(), Some("StateMachineArn"));
    assert_eq!(arn_text(&dimensions[0]["Value"]), format!("!Ref {MACHINE}"));
    // At least one failed execution: above 0 of a Sum.
    assert_eq!(p["Statistic"].as_str(), Some("Sum"));
    assert_eq!(p["Threshold"].as_u64(), Some(0));
    assert_eq!(
        p["ComparisonOperator"].as_str(),
        Some("GreaterThanThreshold")
    );
    assert_eq!(
        p["AlarmActions"],
        yaml_serde::from_str::<Value>("[!Ref NotificationTopic]").unwrap()
    );
    assert!(matches!(
        intrinsic(&template.root["Outputs"]["SweepRuleName"]["Value"]),
        Some(("If", _))
    ));
}
