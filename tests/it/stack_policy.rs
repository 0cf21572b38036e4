//! The deployment templates, template.yaml (the central stack) and member-account.yaml (the
//! StackSet), read as data: the roles grant least privilege, the event pattern admits exactly
//! the events the function acts on, every function setting is a parameter, and failures and
//! alarms have somewhere to go.

use std::collections::BTreeSet;

use access_key_remediator::domain::ids::AccountId;
use access_key_remediator::settings::Settings;
use access_key_remediator::triggers::{Work, classify};
use serde_json::{Value as Json, json};
use yaml_serde::Value;

use crate::support::cloudformation::{
    Statement, Template, arn_text, intrinsic, is_no_value, role_statements, run_filter,
};
use crate::support::{fixture, project_path};

const TEMPLATES: [&str; 2] = ["template.yaml", "member-account.yaml"];

const OWN_USERS: &str = "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*";
const MARKER_TAGS: &str = "access-key-remediator:deactivated:*";
const MEMBER_ROLES: &str = "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}";

/// Calls on one user's keys and tags: each must be scoped to the account's users.
const KEY_CALLS: [&str; 8] = [
    "iam:GetUser",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListUserTags",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:TagUser",
    "iam:UntagUser",
];

/// Every action that changes something, anywhere in the stacks. A "*" resource on any of
/// them fails the policy test.
const WRITE_ACTIONS: [&str; 10] = [
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:TagUser",
    "iam:UntagUser",
    "sts:AssumeRole",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:SendMessage",
    "sns:Publish",
    "events:PutEvents",
];

/// The only actions with no resource-level permissions that the function needs; the only
/// ones that may have Resource "*".
const ACCOUNT_WIDE_READS: [&str; 4] = [
    "config:ListDiscoveredResources",
    "iam:ListUsers",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
];

fn all_statements() -> Vec<(&'static str, Statement)> {
    TEMPLATES
        .iter()
        .flat_map(|name| {
            role_statements(&Template::load(name))
                .into_iter()
                .map(move |s| (*name, s))
        })
        .collect()
}

fn granting<'a>(
    statements: &'a [(&'static str, Statement)],
    action: &str,
) -> Vec<&'a (&'static str, Statement)> {
    statements
        .iter()
        .filter(|(_, s)| s.actions.iter().any(|a| a == action))
        .collect()
}

#[test]
fn every_action_the_roles_grant_is_a_named_action_the_stack_needs() {
    let known: BTreeSet<&str> = KEY_CALLS
        .iter()
        .chain(&WRITE_ACTIONS)
        .chain(&ACCOUNT_WIDE_READS)
        .copied()
        .collect();
    let statements = all_statements();
    assert!(statements.len() >= 10, "{statements:#?}");
    for (template, statement) in &statements {
        assert_eq!(statement.effect, "Allow", "{template}: {statement:?}");
        for action in &statement.actions {
            assert!(
                !action.contains('*'),
                "{template} {}: wildcard action {action}",
                statement.owner
            );
            assert!(
                known.contains(action.as_str()),
                "{template} {}: {action} is granted but not classified here as a read or a write",
                statement.owner
            );
        }
    }
}

#[test]
fn no_write_action_is_granted_on_every_resource() {
    for (template, statement) in all_statements() {
        let writes: Vec<&String> = statement
            .actions
            .iter()
            .filter(|a| WRITE_ACTIONS.contains(&a.as_str()))
            .collect();
        if writes.is_empty() {
            continue;
        }
        for resource in &statement.resources {
            assert!(
                resource != "*" && !resource.ends_with(":*") && resource != "arn:*",
                "{template} {} {}: {writes:?} on {resource}",
                statement.owner,
                statement.sid
            );
        }
    }
}

#[test]
fn only_the_account_wide_reads_have_a_star_resource() {
    for (template, statement) in all_statements() {
        if statement.resources.iter().any(|r| r == "*") {
            for action in &statement.actions {
                assert!(
                    ACCOUNT_WIDE_READS.contains(&action.as_str()),
                    "{template} {}: {action} on *",
                    statement.owner
                );
            }
        }
    }
}

#[test]
fn key_calls_are_allowed_only_on_the_accounts_own_users() {
    let statements = all_statements();
    for action in KEY_CALLS {
        for template in TEMPLATES {
            let grants: Vec<_> = granting(&statements, action)
                .into_iter()
                .filter(|(t, _)| *t == template)
                .collect();
            assert!(!grants.is_empty(), "{template} never grants {action}");
            for (_, statement) in grants {
                assert_eq!(
                    statement.resources,
                    [OWN_USERS],
                    "{template} {}: {action}",
                    statement.owner
                );
                assert_eq!(
                    statement.only_if, None,
                    "{template}: {action} is conditional"
                );
            }
        }
    }
}

#[test]
fn tag_writes_are_conditioned_to_the_marker_prefix_and_to_a_non_empty_key_set() {
    let statements = all_statements();
    for action in ["iam:TagUser", "iam:UntagUser"] {
        let grants = granting(&statements, action);
        assert_eq!(grants.len(), 2, "{action}: once per template");
        for (template, statement) in grants {
            let condition = &statement.condition;
            let patterns: Vec<&str> = match &condition["ForAllValues:StringLike"]["aws:TagKeys"] {
                Value::String(s) => vec![s.as_str()],
                Value::Sequence(items) => items.iter().map(|v| v.as_str().unwrap()).collect(),
                other => panic!("{template}: {action} has no aws:TagKeys condition: {other:?}"),
            };
            assert_eq!(patterns, [MARKER_TAGS], "{template}: {action}");
            for pattern in &patterns {
                assert!(pattern.starts_with("access-key-remediator:"), "{pattern}");
                // Only a trailing "*": the literal part before it is then exactly what a
                // key must start with.
                let literal = pattern.strip_suffix('*').unwrap();
                assert!(!literal.contains(['*', '?']), "{pattern}");
                for foreign in [
                    "access-key-remediator:exempt",
                    "owner",
                    "aws:cloudformation:stack-name",
                ] {
                    assert!(
                        !foreign.starts_with(literal),
                        "{template}: {action} may write {foreign}"
                    );
                }
            }
            // ForAllValues is vacuously true on an empty set of keys; the Null check makes a
            // request name at least one key.
            assert_eq!(
                condition["Null"]["aws:TagKeys"].as_str(),
                Some("false"),
                "{template}: {action} lacks the Null check"
            );
            let operators: BTreeSet<&str> = condition
                .as_mapping()
                .unwrap()
                .keys()
                .map(|k| k.as_str().unwrap())
                .collect();
            assert_eq!(
                operators,
                BTreeSet::from(["ForAllValues:StringLike", "Null"]),
                "{template}: {action}"
            );
        }
    }
}

#[test]
fn assume_role_is_granted_only_on_the_member_role_name_and_only_when_one_is_set() {
    let statements = all_statements();
    let grants = granting(&statements, "sts:AssumeRole");
    assert_eq!(grants.len(), 1, "{grants:#?}");
    let (template, statement) = grants[0];
    assert_eq!(*template, "template.yaml");
    assert_eq!(statement.actions, ["sts:AssumeRole"]);
    assert_eq!(statement.resources, [MEMBER_ROLES]);
    assert_eq!(statement.only_if.as_deref(), Some("HasMemberRole"));
    let central = Template::load("template.yaml");
    assert_eq!(
        central.root["Conditions"]["HasMemberRole"],
        yaml_serde::from_str::<Value>(r#"!Not [!Equals [!Ref MemberRoleName, ""]]"#).unwrap()
    );
    assert_eq!(central.default_of("MemberRoleName"), "");
}

#[test]
fn the_member_role_grants_what_the_central_role_grants_on_iam_and_config_and_nothing_else() {
    let grants = |name| -> BTreeSet<(String, Vec<String>, Vec<String>, String)> {
        role_statements(&Template::load(name))
            .into_iter()
            .filter(|s| {
                s.actions
                    .iter()
                    .all(|a| a.starts_with("iam:") || a.starts_with("config:"))
            })
            .map(|s| (s.sid, s.actions, s.resources, format!("{:?}", s.condition)))
            .collect()
    };
    let central = grants("template.yaml");
    let member = grants("member-account.yaml");
    assert_eq!(member, central);

    let member_roles: Vec<_> = role_statements(&Template::load("member-account.yaml"))
        .into_iter()
        .filter(|s| s.owner == "MemberRole")
        .collect();
    assert_eq!(member_roles.len(), central.len(), "{member_roles:#?}");
}

#[test]
fn the_member_role_trusts_only_the_central_function_role_with_an_optional_external_id() {
    let member = Template::load("member-account.yaml");
    let trust = &member.resource("MemberRole")["Properties"]["AssumeRolePolicyDocument"];
    let statements = trust["Statement"].as_sequence().unwrap();
    assert_eq!(statements.len(), 1);
    let statement = &statements[0];
    assert_eq!(statement["Action"].as_str(), Some("sts:AssumeRole"));
    let principal = statement["Principal"].as_mapping().unwrap();
    assert_eq!(principal.len(), 1, "only an AWS principal: {principal:?}");
    assert_eq!(
        arn_text(&statement["Principal"]["AWS"]),
        "!Ref CentralFunctionRoleArn"
    );
    let condition = &statement["Condition"];
    let Some(("If", Value::Sequence(branches))) = intrinsic(condition) else {
        panic!("the ExternalId condition is optional: {condition:?}");
    };
    assert_eq!(branches[0].as_str(), Some("HasExternalId"));
    assert_eq!(
        arn_text(&branches[1]["StringEquals"]["sts:ExternalId"]),
        "!Ref MemberRoleExternalId"
    );
    assert!(is_no_value(&branches[2]));
}

/// The rules that route Config compliance changes, the central one and the member accounts'
/// forwarding one, with their patterns as deployed with default parameters.
const COMPLIANCE_RULES: [(&str, &str); 2] = [
    ("template.yaml", "ConfigComplianceRule"),
    ("member-account.yaml", "ForwardComplianceEvents"),
];

fn compliance_patterns() -> Vec<(&'static str, Json)> {
    COMPLIANCE_RULES
        .into_iter()
        .map(|(name, rule)| {
            let template = Template::load(name);
            let pattern = &template.resource(rule)["Properties"]["EventPattern"];
            (name, template.to_json(pattern))
        })
        .collect()
}

#[test]
fn the_event_pattern_is_exactly_non_compliant_iam_users_of_the_listed_rules() {
    for (template, pattern) in compliance_patterns() {
        assert_eq!(
            pattern,
            json!({
                "source": ["aws.config"],
                "detail-type": ["Config Rules Compliance Change"],
                "detail": {
                    "configRuleName": ["access-keys-rotated"],
                    "resourceType": ["AWS::IAM::User"],
                    "newEvaluationResult": { "complianceType": ["NON_COMPLIANT"] }
                }
            }),
            "{template}"
        );
    }
    for (name, rule) in COMPLIANCE_RULES {
        let template = Template::load(name);
        let names =
            &template.resource(rule)["Properties"]["EventPattern"]["detail"]["configRuleName"];
        assert_eq!(
            arn_text(names),
            "!Ref ConfigRuleNames",
            "{name}: the rule names come from the parameter"
        );
    }
}

#[test]
fn the_event_pattern_matches_the_non_compliant_user_events_and_none_of_the_others() {
    let cases = [
        ("non-compliant-alice.json", true),
        ("non-compliant-bob-exempt.json", true),
        ("non-compliant-carol-legacy.json", true),
        ("non-compliant-deleted-user.json", true),
        // The pattern does not look at resourceId; the function refuses it, naming the field.
        ("malformed-missing-resource-id.json", true),
        ("compliant-alice.json", false),
        ("non-user-resource.json", false),
        ("other-rule.json", false),
        ("scheduled-sweep.json", false),
    ];
    let events: Vec<Json> = cases.iter().map(|(file, _)| fixture(file)).collect();
    let expected: Vec<bool> = cases.iter().map(|(_, matches)| *matches).collect();
    for (template, pattern) in compliance_patterns() {
        let answer = run_filter(
            "event-pattern",
            &json!({ "pattern": pattern, "events": events }),
        );
        let matched: Vec<bool> = serde_json::from_value(answer["matched"].clone()).unwrap();
        assert_eq!(
            matched,
            expected,
            "{template}: {:?}",
            cases.iter().map(|c| c.0).collect::<Vec<_>>()
        );
    }
}

/// Environment variables that src/settings.rs reads: the quoted upper-case names with an
/// underscore in its non-test part.
fn variables_settings_reads() -> BTreeSet<String> {
    let source = std::fs::read_to_string(project_path("src/settings.rs")).unwrap();
    let code = source.split("#[cfg(test)]").next().unwrap();
    code.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.contains('_') && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_function_setting_is_set_from_a_template_parameter() {
    let template = Template::load("template.yaml");
    let variables =
        template.resource("RemediatorFunction")["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .unwrap();
    let mut expected = variables_settings_reads();
    assert!(expected.len() >= 8, "{expected:?}");
    expected.extend(["MEMBER_ROLE_NAME".into(), "MEMBER_ROLE_EXTERNAL_ID".into()]);
    for name in &expected {
        let value = variables
            .get(name.as_str())
            .unwrap_or_else(|| panic!("template.yaml does not set {name}"));
        let parameter = match intrinsic(value) {
            Some(("Ref", Value::String(p))) => p.clone(),
            Some(("Join", Value::Sequence(args))) => arn_text(&args[1]).replace("!Ref ", ""),
            _ => panic!("{name} is not taken from a parameter: {value:?}"),
        };
        template.parameter(&parameter);
    }
    for name in ["MEMBER_ROLE_NAME", "MEMBER_ROLE_EXTERNAL_ID"] {
        let parameter = arn_text(&variables[name]).replace("!Ref ", "");
        assert_eq!(template.default_of(&parameter), "", "{name} is optional");
    }
}

#[test]
fn the_issue_parameters_exist_and_the_optional_ones_default_to_empty() {
    let template = Template::load("template.yaml");
    for name in ["ConfigRuleNames", "SweepSchedule", "MaxAccessKeyAge"] {
        template.parameter(name);
    }
    assert_eq!(
        template.parameter("CreateConfigRule")["AllowedValues"],
        yaml_serde::from_str::<Value>(r#"["true", "false"]"#).unwrap()
    );
    for optional in [
        "NotificationEmail",
        "OrganizationId",
        "MemberRoleName",
        "MemberRoleExternalId",
    ] {
        assert_eq!(template.default_of(optional), "", "{optional}");
    }
    assert_eq!(template.default_of("RemediationMode"), "report");
}

#[test]
fn the_created_config_rule_is_the_managed_access_keys_rotated_rule() {
    let template = Template::load("template.yaml");
    let rule = template.resource("AccessKeysRotatedRule");
    assert_eq!(rule["Condition"].as_str(), Some("CreateTheConfigRule"));
    let properties = &rule["Properties"];
    assert_eq!(
        properties["ConfigRuleName"].as_str(),
        Some("access-keys-rotated")
    );
    assert_eq!(properties["Source"]["Owner"].as_str(), Some("AWS"));
    assert_eq!(
        properties["Source"]["SourceIdentifier"].as_str(),
        Some("ACCESS_KEYS_ROTATED")
    );
    assert!(intrinsic(&properties["InputParameters"]["maxAccessKeyAge"]).is_some());
}

#[test]
fn the_function_is_arm64_al2023_built_by_cargo_lambda_with_json_logs_and_reserved_concurrency() {
    let template = Template::load("template.yaml");
    let function = template.resource("RemediatorFunction");
    assert_eq!(
        function["Metadata"]["BuildMethod"].as_str(),
        Some("rust-cargolambda")
    );
    let properties = &function["Properties"];
    assert_eq!(properties["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(
        properties["Architectures"],
        yaml_serde::from_str::<Value>("[arm64]").unwrap()
    );
    assert_eq!(
        arn_text(&properties["ReservedConcurrentExecutions"]),
        "!Ref ReservedConcurrency"
    );
    let logging = &properties["LoggingConfig"];
    assert_eq!(logging["LogFormat"].as_str(), Some("JSON"));
    let group = arn_text(&logging["LogGroup"]).replace("!Ref ", "");
    let log_group = template.resource(&group);
    assert_eq!(log_group["Type"].as_str(), Some("AWS::Logs::LogGroup"));
    assert_eq!(
        arn_text(&log_group["Properties"]["RetentionInDays"]),
        "!Ref LogRetentionDays"
    );
}

#[test]
fn async_failures_go_to_an_encrypted_queue_after_two_retries_and_bounded_age() {
    let template = Template::load("template.yaml");
    let config = &template.resource("RemediatorEventInvokeConfig")["Properties"];
    assert_eq!(config["MaximumRetryAttempts"].as_u64(), Some(2));
    let age = config["MaximumEventAgeInSeconds"].as_u64().unwrap();
    assert!((60..21_600).contains(&age), "{age}");
    let on_failure = arn_text(&config["DestinationConfig"]["OnFailure"]["Destination"]);
    assert_eq!(on_failure, "!GetAtt DeadLetterQueue.Arn");
    let queue = &template.resource("DeadLetterQueue")["Properties"];
    assert!(
        queue["SqsManagedSseEnabled"].as_bool() == Some(true) || !queue["KmsMasterKeyId"].is_null(),
        "the dead-letter queue is encrypted: {queue:?}"
    );
    let on_success = &config["DestinationConfig"]["OnSuccess"];
    let Some(("If", Value::Sequence(branches))) = intrinsic(on_success) else {
        panic!("reports go to SNS only with an email: {on_success:?}");
    };
    assert_eq!(branches[0].as_str(), Some("HasNotificationEmail"));
    assert_eq!(
        arn_text(&branches[1]["Destination"]),
        "!Ref NotificationTopic"
    );
}

#[test]
fn errors_and_a_non_empty_dead_letter_queue_alarm_to_the_notification_topic() {
    let template = Template::load("template.yaml");
    let alarms = template.resources_of_type("AWS::CloudWatch::Alarm");
    let watched: BTreeSet<(String, String)> = alarms
        .iter()
        .map(|(_, alarm)| {
            let p = &alarm["Properties"];
            assert_eq!(
                p["AlarmActions"],
                yaml_serde::from_str::<Value>("[!Ref NotificationTopic]").unwrap()
            );
            assert_eq!(p["Threshold"].as_u64(), Some(0));
            assert_eq!(
                p["ComparisonOperator"].as_str(),
                Some("GreaterThanThreshold")
            );
            (
                p["Namespace"].as_str().unwrap().to_owned(),
                p["MetricName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        watched,
        BTreeSet::from([
            ("AWS/Lambda".into(), "Errors".into()),
            (
                "AWS/SQS".into(),
                "ApproximateNumberOfMessagesVisible".into()
            ),
        ])
    );
    // The alarms need the topic whether or not an email is given.
    assert!(template.resource("NotificationTopic")["Condition"].is_null());
}

#[test]
fn the_event_bus_admits_the_organization_only_when_one_is_given() {
    let template = Template::load("template.yaml");
    let policy = template.resource("OrganizationEventBusPolicy");
    assert_eq!(policy["Condition"].as_str(), Some("HasOrganization"));
    let statement = &policy["Properties"]["Statement"];
    assert_eq!(statement["Action"].as_str(), Some("events:PutEvents"));
    assert_eq!(
        arn_text(&statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"]),
        "!Ref OrganizationId"
    );
    assert_eq!(
        policy["Properties"]["EventBusName"].as_str(),
        Some("default")
    );
}

#[test]
fn the_central_stack_outputs_what_the_member_stack_set_needs() {
    let central = Template::load("template.yaml");
    let member = Template::load("member-account.yaml");
    let outputs = &central.root["Outputs"];
    assert_eq!(
        arn_text(&outputs["FunctionRoleArn"]["Value"]),
        "!GetAtt RemediatorRole.Arn"
    );
    for (output, parameter) in [
        ("FunctionRoleArn", "CentralFunctionRoleArn"),
        ("CentralEventBusArn", "CentralEventBusArn"),
    ] {
        assert!(outputs[output].is_mapping(), "no output {output}");
        member.parameter(parameter);
    }
}

#[test]
fn every_skipped_checkov_check_carries_a_one_line_justification() {
    for name in TEMPLATES {
        let template = Template::load(name);
        for (id, resource) in template.resources() {
            for skip in resource["Metadata"]["checkov"]["skip"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                let check = skip["id"].as_str().unwrap_or_default();
                let comment = skip["comment"].as_str().unwrap_or_default();
                assert!(check.starts_with("CKV"), "{name} {id}: {skip:?}");
                assert!(
                    comment.len() >= 20 && !comment.contains('\n'),
                    "{name} {id}: {check} needs a one-line justification"
                );
            }
        }
    }
}

/// What EventBridge does with the sweep rule's input transformer when SweepAccounts is set:
/// the `!Sub` fills `${Accounts}` from `!Join ['","', !Split [",", SweepAccounts]]`, then each
/// `<path>` is replaced from the scheduled event.
fn transformed_sweep_event(sweep_accounts: &str) -> Json {
    let template = Template::load("template.yaml");
    let targets = &template.resource("SweepRule")["Properties"]["Targets"];
    let Some(("If", branches)) = intrinsic(&targets[0]["InputTransformer"]) else {
        panic!("the sweep target's InputTransformer is not an !If");
    };
    let transformer = &branches[1];
    let Some(("Sub", Value::Sequence(sub))) = intrinsic(&transformer["InputTemplate"]) else {
        panic!("the InputTemplate is not a !Sub [text, variables]");
    };
    let accounts: Vec<&str> = sweep_accounts.split(',').collect();
    let mut text = sub[0]
        .as_str()
        .unwrap()
        .replace("${Accounts}", &accounts.join("\",\""));
    let scheduled = fixture("scheduled-sweep.json");
    for (name, path) in transformer["InputPathsMap"].as_mapping().unwrap() {
        let field = path.as_str().unwrap().trim_start_matches("$.");
        let value = match &scheduled[field] {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        text = text.replace(&format!("<{}>", name.as_str().unwrap()), &value);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON: {e}\n{text}"))
}

#[test]
fn the_sweep_rule_with_accounts_sends_an_event_the_function_sweeps_those_accounts_for() {
    let event = transformed_sweep_event("123456789012,210987654321");
    let account = |id| AccountId::parse(id).expect("an account id");

    assert_eq!(
        classify(event, &Settings::default().rule_names),
        Ok(Work::Sweep {
            account: Some(account("123456789012")),
            accounts: vec![account("123456789012"), account("210987654321")],
        })
    );
}

#[test]
fn a_mistyped_sweep_accounts_parameter_is_refused_by_name_not_guessed() {
    let event = transformed_sweep_event("123456789012, 210987654321");

    let error =
        classify(event, &Settings::default().rule_names).expect_err("a padded id is not an id");
    assert!(error.to_string().contains("detail.accounts[1]"), "{error}");
}
