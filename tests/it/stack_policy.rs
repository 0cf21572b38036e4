//! The deployment templates, template.yaml (the central stack) and member-account.yaml (the
//! StackSet), read as data: the roles grant least privilege, IAM enforces the remediation
//! mode (each mode's role permits exactly that mode's writes), every function setting is a
//! parameter, and failures and alarms have somewhere to go. The triggers' rules and patterns
//! are in `triggers`, the grants that come with them in `finding_grants`.

mod dashboard;
mod finding_grants;
mod notice_grants;
mod org_bucket;
mod org_dashboard;
mod org_stack;
mod org_sweep;
mod trigger_samples;
mod triggers;

use std::collections::{BTreeMap, BTreeSet};

use access_key_remediator::domain::ids::AccountId;
use access_key_remediator::domain::marker::{LEGACY_MARKER_PREFIX, STATE_TAG_KEY};
use access_key_remediator::domain::policy::Mode;
use access_key_remediator::triggers::{Work, classify};
use serde_json::Value as Json;
use yaml_serde::Value;

use crate::support::cloudformation::{
    Statement, Template, arn_text, intrinsic, is_no_value, role_statements,
};
use crate::support::{fixture, project_path};

const TEMPLATES: [&str; 2] = ["template.yaml", "member-account.yaml"];

const OWN_USERS: &str = "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*";
/// The one tag that holds a user's grace clocks, which the function writes.
const STATE_TAG: &str = "access-key-remediator:state";
/// The first format's per-key tags, which it still reads and removes on its next write.
const LEGACY_TAGS: &str = "access-key-remediator:deactivated:*";
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

/// The calls on one user that only read.
const KEY_READS: [&str; 4] = [
    "iam:GetUser",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListUserTags",
];

/// The IAM writes, each of which the remediation mode may withhold.
const IAM_WRITES: [&str; 4] = [
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:TagUser",
    "iam:UntagUser",
];

/// The conditions the mode-dependent writes are granted under, the same in both templates.
const MODE_CONDITIONS: [&str; 2] = ["MayWriteKeys", "MayDeleteKeys"];

/// Every action that changes something, anywhere in the stacks. A "*" resource on any of
/// them fails the policy test.
const WRITE_ACTIONS: [&str; 17] = [
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:TagUser",
    "iam:UntagUser",
    "sts:AssumeRole",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "sqs:SendMessage",
    "sns:Publish",
    "ses:SendEmail",
    "events:PutEvents",
    "securityhub:BatchUpdateFindings",
    // The organisation sweep's state machine and its schedule (org_sweep).
    "lambda:InvokeFunction",
    "states:StartExecution",
    "states:StopExecution",
    // Its run files in the sweep bucket (org_bucket).
    "s3:PutObject",
    "s3:AbortMultipartUpload",
];

/// Reads scoped to one kind of resource of the account: its Config rules, its analyzers.
/// (GetFindingV2 is authorized as `access-analyzer:GetFinding`: IAM has no GetFindingV2 action.)
const SCOPED_READS: [&str; 3] = [
    "config:DescribeConfigRules",
    "access-analyzer:GetFinding",
    "access-analyzer:GetAnalyzer",
];

/// The only actions with no resource-level permissions that the function needs; the only
/// ones that may have Resource "*". (LookupEvents reads a key's recent callers for its
/// owner's notice.)
const ACCOUNT_WIDE_READS: [&str; 5] = [
    "config:ListDiscoveredResources",
    "iam:ListUsers",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "cloudtrail:LookupEvents",
];

/// The Organizations reads that have no resource-level permissions: the tree, for discovery
/// and each account's mode (org_sweep checks the grant).
const ORGANIZATION_TREE_READS: [&str; 4] = [
    "organizations:ListRoots",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListAccountsForParent",
    "organizations:ListParents",
];

/// Reads scoped to the resources they read, outside the function's remediation calls: the
/// mode tags on accounts, OUs and roots, a member role's own ceiling tag, and the state
/// machine watching its own child executions, and the sweep bucket's run files.
const OTHER_SCOPED_READS: [&str; 5] = [
    "organizations:ListTagsForResource",
    "iam:ListRoleTags",
    "states:DescribeExecution",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
];

/// Step Functions' vended log delivery, which has no resource-level permissions: "*" only on
/// the state machine's role.
const LOG_DELIVERY: [&str; 8] = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
];
const STATE_MACHINE_ROLE: &str = "OrgSweepStateMachineRole";

/// The member role's read of its own ceiling tag, which the central role has no use for.
const CEILING_READ: &str = "iam:ListRoleTags";

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
        .chain(&SCOPED_READS)
        .chain(&ACCOUNT_WIDE_READS)
        .chain(&ORGANIZATION_TREE_READS)
        .chain(&OTHER_SCOPED_READS)
        .chain(&LOG_DELIVERY)
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
                let log_delivery = statement.owner == STATE_MACHINE_ROLE
                    && LOG_DELIVERY.contains(&action.as_str());
                assert!(
                    ACCOUNT_WIDE_READS.contains(&action.as_str())
                        || ORGANIZATION_TREE_READS.contains(&action.as_str())
                        || log_delivery,
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
                // Reads in every mode; writes only in the modes that make them (what each mode
                // grants: iam_enforces_the_mode_…).
                if KEY_READS.contains(&action) {
                    assert_eq!(
                        statement.only_if, None,
                        "{template}: {action} is conditional"
                    );
                } else {
                    let only_if = statement.only_if.as_deref().unwrap_or("none");
                    assert!(
                        MODE_CONDITIONS.contains(&only_if),
                        "{template}: {action} is granted under {only_if}, not under a mode condition"
                    );
                }
            }
        }
    }
}

/// IAM's StringLike: `*` matches any run of characters, `?` any one; case-sensitive.
fn string_like(pattern: &str, value: &str) -> bool {
    fn matches(pattern: &[char], value: &[char]) -> bool {
        match pattern.split_first() {
            None => value.is_empty(),
            Some(('*', rest)) => (0..=value.len()).any(|skip| matches(rest, &value[skip..])),
            Some(('?', rest)) => !value.is_empty() && matches(rest, &value[1..]),
            Some((c, rest)) => value.first() == Some(c) && matches(rest, &value[1..]),
        }
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let value: Vec<char> = value.chars().collect();
    matches(&pattern, &value)
}

/// The condition values of one operator on aws:TagKeys: a string or a list.
fn tag_key_values<'a>(condition: &'a Value, operator: &str) -> Vec<&'a str> {
    match &condition[operator]["aws:TagKeys"] {
        Value::String(s) => vec![s.as_str()],
        Value::Sequence(items) => items.iter().map(|v| v.as_str().unwrap()).collect(),
        other => panic!("no {operator} on aws:TagKeys: {other:?}"),
    }
}

/// Whether a statement's Condition lets through a request naming these tag keys, as IAM
/// evaluates the operators the templates use (every operator must hold). ForAllValues holds
/// when every requested key matches one of the values, so vacuously on no key at all; the
/// Null check `"false"` holds when the request names at least one.
fn condition_permits(condition: &Value, keys: &[&str]) -> bool {
    condition
        .as_mapping()
        .expect("a condition block")
        .iter()
        .all(|(operator, block)| {
            let keys_conditioned: Vec<&str> = (block.as_mapping().unwrap().keys())
                .map(|k| k.as_str().unwrap())
                .collect();
            assert_eq!(
                keys_conditioned,
                ["aws:TagKeys"],
                "{operator:?}: only aws:TagKeys"
            );
            permits_one(condition, operator.as_str().unwrap(), keys)
        })
}

fn permits_one(condition: &Value, operator: &str, keys: &[&str]) -> bool {
    match operator {
        operator @ "ForAllValues:StringEquals" => {
            let allowed = tag_key_values(condition, operator);
            keys.iter().all(|k| allowed.contains(k))
        }
        operator @ "ForAllValues:StringLike" => {
            let patterns = tag_key_values(condition, operator);
            keys.iter()
                .all(|k| patterns.iter().any(|p| string_like(p, k)))
        }
        "Null" => match condition["Null"]["aws:TagKeys"].as_str() {
            Some("false") => !keys.is_empty(),
            Some("true") => keys.is_empty(),
            other => panic!("Null aws:TagKeys {other:?}"),
        },
        other => panic!("operator {other} is not modelled here"),
    }
}

#[test]
fn the_state_and_legacy_tag_keys_are_the_ones_the_function_uses() {
    assert_eq!(STATE_TAG, STATE_TAG_KEY);
    assert_eq!(LEGACY_TAGS, format!("{LEGACY_MARKER_PREFIX}*"));
}

#[test]
fn tag_writes_are_conditioned_to_the_functions_own_tags_and_to_a_non_empty_key_set() {
    let exempt = Template::load("template.yaml").default_of("ExemptTagKey");
    let legacy = "access-key-remediator:deactivated:AKIAIOSFODNN7EXAMPLE";
    let foreign: [&str; 6] = [
        exempt.as_str(),
        "owner",
        "aws:cloudformation:stack-name",
        "access-key-remediator:statex",
        "access-key-remediator:state:extra",
        "Access-Key-Remediator:State",
    ];
    // Each action: the operator and values it must be conditioned with exactly, and the
    // requests (the tag keys named) IAM must let through.
    let expected = [
        (
            "iam:TagUser",
            "ForAllValues:StringEquals",
            vec![STATE_TAG],
            vec![vec![STATE_TAG]],
        ),
        (
            "iam:UntagUser",
            "ForAllValues:StringLike",
            vec![STATE_TAG, LEGACY_TAGS],
            vec![
                vec![STATE_TAG],
                vec![legacy],
                vec![STATE_TAG, legacy, "access-key-remediator:deactivated:AKIA2"],
            ],
        ),
    ];
    let statements = all_statements();
    for (action, operator, values, permitted) in expected {
        let grants = granting(&statements, action);
        assert_eq!(grants.len(), 2, "{action}: once per template");
        for (template, statement) in grants {
            assert_eq!(statement.actions, [action], "{template}: {action} alone");
            let condition = &statement.condition;
            let operators: BTreeSet<&str> = condition
                .as_mapping()
                .unwrap_or_else(|| panic!("{template}: {action} is unconditioned"))
                .keys()
                .map(|k| k.as_str().unwrap())
                .collect();
            assert_eq!(
                operators,
                BTreeSet::from([operator, "Null"]),
                "{template}: {action}"
            );
            assert_eq!(
                tag_key_values(condition, operator),
                values,
                "{template}: {action}"
            );
            // ForAllValues is vacuously true on an empty set of keys; the Null check makes a
            // request name at least one key.
            assert_eq!(
                condition["Null"]["aws:TagKeys"].as_str(),
                Some("false"),
                "{template}: {action} lacks the Null check"
            );
            for keys in &permitted {
                assert!(
                    condition_permits(condition, keys),
                    "{template}: {action} refuses {keys:?}"
                );
            }
            let mut refused: Vec<Vec<&str>> = vec![vec![]];
            refused.extend(foreign.iter().map(|f| vec![*f]));
            refused.extend(foreign.iter().map(|f| vec![STATE_TAG, *f]));
            if action == "iam:TagUser" {
                // The function writes only the state tag, never a per-key tag again.
                refused.push(vec![legacy]);
            }
            for keys in &refused {
                assert!(
                    !condition_permits(condition, keys),
                    "{template}: {action} lets through {keys:?}"
                );
            }
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
fn the_member_role_grants_what_the_central_role_grants_on_users_rules_and_findings() {
    type Grant = (String, Option<String>, Vec<String>, Vec<String>, String);
    let grants = |name| -> BTreeSet<Grant> {
        role_statements(&Template::load(name))
            .into_iter()
            .filter(|s| s.actions.iter().all(|a| is_remediation_call(a)))
            .filter(|s| s.actions != [CEILING_READ])
            .map(|s| {
                let condition = format!("{:?}", s.condition);
                (s.sid, s.only_if, s.actions, s.resources, condition)
            })
            .collect()
    };
    let central = grants("template.yaml");
    let member = grants("member-account.yaml");
    assert_eq!(member, central);

    let member_roles: Vec<_> = role_statements(&Template::load("member-account.yaml"))
        .into_iter()
        .filter(|s| s.owner == "MemberRole" && s.actions != [CEILING_READ])
        .collect();
    assert_eq!(member_roles.len(), central.len(), "{member_roles:#?}");

    // The grants are under conditions of the same names; they must also mean the same.
    let (central, member) = (
        Template::load("template.yaml"),
        Template::load("member-account.yaml"),
    );
    // HasSecurityHubTrigger differs on purpose: the member's has a value that grants without
    // forwarding. MayUpdateFindings combines it with MayWriteKeys the same way in both.
    for condition in MODE_CONDITIONS
        .iter()
        .chain(&["MayUpdateFindings", "HasAccessAnalyzerTrigger"])
    {
        assert_eq!(
            member.root["Conditions"][condition], central.root["Conditions"][condition],
            "{condition}"
        );
    }
}

/// The calls the function makes on the account it remediates (users, Config rules, findings,
/// a key's recent callers in CloudTrail), as opposed to its own plumbing (logs, queue, topic,
/// email, role assumption).
fn is_remediation_call(action: &str) -> bool {
    [
        "iam:",
        "config:",
        "securityhub:",
        "access-analyzer:",
        "cloudtrail:",
    ]
    .iter()
    .any(|service| action.starts_with(service))
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

/// Account ids and the central stack's outputs, to deploy member-account.yaml with on paper.
const CENTRAL_ACCOUNT: &str = "111111111111";
const MEMBER_ACCOUNT: &str = "222222222222";
const CENTRAL_ROLE_ARN: &str =
    "arn:aws:iam::111111111111:role/access-key-remediator-RemediatorRole-EXAMPLE";
const CENTRAL_BUS_ARN: &str = "arn:aws:events:us-east-1:111111111111:event-bus/default";

const MODES: [Mode; 3] = [Mode::Report, Mode::Deactivate, Mode::Delete];

/// The IAM writes the function makes in each mode: exactly what its role may permit.
/// Deactivate tags (the grace clock) and untags (a clock gone stale, a first-format tag
/// folded into the state tag) as well as deactivating.
fn writes_of(mode: Mode) -> BTreeSet<&'static str> {
    match mode {
        Mode::Report => BTreeSet::new(),
        Mode::Deactivate => BTreeSet::from(["iam:UpdateAccessKey", "iam:TagUser", "iam:UntagUser"]),
        Mode::Delete => BTreeSet::from(IAM_WRITES),
    }
}

/// The role each template gives the function: the central one, and the one it assumes in a
/// member account.
fn function_role(template: &str) -> &'static str {
    match template {
        "template.yaml" => "RemediatorRole",
        "member-account.yaml" => "MemberRole",
        other => panic!("{other}"),
    }
}

/// The parameter sets each template is deployed with, besides RemediationMode: the defaults,
/// and every optional feature on, so that the mode alone is seen to decide the writes. The
/// member stack is deployed in a member account.
fn parameter_sets(template: &str) -> Vec<Vec<(&'static str, &'static str)>> {
    match template {
        "template.yaml" => {
            let defaults = vec![("AWS::AccountId", CENTRAL_ACCOUNT)];
            let mut everything = defaults.clone();
            everything.extend([
                ("ConfigRuleNames", "my-keys-rotated,my-org-*-keys"),
                ("SecurityHubTrigger", "on"),
                ("AccessAnalyzerTrigger", "on"),
                ("CreateConfigRule", "true"),
                ("MaxAccessKeyAge", "90"),
                ("NotificationEmail", "security@example.com"),
                ("OrganizationId", "o-a1b2c3d4e5"),
                ("MemberRoleName", "access-key-remediator-member"),
                ("MemberRoleExternalId", "example-external-id"),
                ("SweepAccounts", "111111111111,222222222222"),
            ]);
            vec![defaults, everything]
        }
        "member-account.yaml" => {
            let defaults = vec![
                ("AWS::AccountId", MEMBER_ACCOUNT),
                ("CentralFunctionRoleArn", CENTRAL_ROLE_ARN),
                ("CentralEventBusArn", CENTRAL_BUS_ARN),
            ];
            let mut everything = defaults.clone();
            everything.extend([
                ("MemberRoleExternalId", "example-external-id"),
                ("SecurityHubTrigger", "on"),
                ("AccessAnalyzerTrigger", "on"),
            ]);
            vec![defaults, everything]
        }
        other => panic!("{other}"),
    }
}

/// The remediation calls (IAM, Config, Security Hub, Access Analyzer) each role of a
/// deployment permits, by role.
fn iam_grants_by_role(
    template: &Template,
    parameters: &[(&str, &str)],
) -> BTreeMap<String, BTreeSet<String>> {
    let deployment = template.deploy(parameters);
    let mut by_role: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for statement in deployment.role_statements() {
        assert_eq!(statement.only_if, None, "deployed, no !If is left");
        for action in statement.actions {
            if is_remediation_call(&action) {
                by_role
                    .entry(statement.owner.clone())
                    .or_default()
                    .insert(action);
            }
        }
    }
    by_role
}

/// The IAM writes the function's role permits with RemediationMode `mode` (and `parameters`);
/// asserts along the way that no other role grants remediation calls, that every read stays,
/// and that nothing else is granted but the finding calls (finding_grants checks those).
fn permitted_writes(
    template_name: &'static str,
    mode: Mode,
    parameters: &[(&str, &str)],
) -> Vec<&'static str> {
    let template = Template::load(template_name);
    let mut given = parameters.to_vec();
    given.push(("RemediationMode", mode.as_str()));
    let by_role = iam_grants_by_role(&template, &given);
    let role = function_role(template_name);
    assert_eq!(
        by_role.keys().collect::<Vec<_>>(),
        [role],
        "{template_name} {}: only the function's role has IAM grants",
        mode.as_str()
    );
    let granted = &by_role[role];
    let reads: BTreeSet<String> = KEY_READS
        .iter()
        .chain(&ACCOUNT_WIDE_READS)
        .chain(&["config:DescribeConfigRules"])
        .map(|a| (*a).to_owned())
        .collect();
    assert!(
        granted.is_superset(&reads),
        "{template_name} {}: reads missing: {:?}",
        mode.as_str(),
        reads.difference(granted).collect::<Vec<_>>()
    );
    let writes: Vec<&'static str> = IAM_WRITES
        .into_iter()
        .filter(|w| granted.contains(*w))
        .collect();
    let rest: Vec<&String> = granted
        .iter()
        .filter(|a| !reads.contains(*a) && !IAM_WRITES.contains(&a.as_str()))
        .filter(|a| !(template_name == "member-account.yaml" && a.as_str() == CEILING_READ))
        .filter(|a| !a.starts_with("securityhub:") && !a.starts_with("access-analyzer:"))
        .collect();
    assert!(rest.is_empty(), "{template_name}: unclassified {rest:?}");
    writes
}

fn listed(writes: &[&str]) -> String {
    if writes.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<&str> = writes
        .iter()
        .map(|w| w.trim_start_matches("iam:"))
        .collect();
    names.join(", ")
}

#[test]
fn iam_enforces_the_mode_each_role_permits_exactly_the_writes_of_its_mode() {
    let mut table = String::from(
        "IAM writes each mode's role permits (template.yaml: RemediatorRole; \
         member-account.yaml: MemberRole, its own RemediationMode)\n\
         | RemediationMode | template.yaml | member-account.yaml |\n|---|---|---|\n",
    );
    for mode in MODES {
        let mut row = Vec::new();
        for template in TEMPLATES {
            let mut seen = BTreeSet::new();
            for parameters in parameter_sets(template) {
                let writes = permitted_writes(template, mode, &parameters);
                assert_eq!(
                    writes.iter().copied().collect::<BTreeSet<_>>(),
                    writes_of(mode),
                    "{template} in {} mode with {parameters:?}",
                    mode.as_str()
                );
                seen.insert(listed(&writes));
            }
            assert_eq!(
                seen.len(),
                1,
                "{template}: the other parameters change {seen:?}"
            );
            row.push(seen.pop_first().unwrap());
        }
        table.push_str(&format!(
            "| {} | {} | {} |\n",
            mode.as_str(),
            row[0],
            row[1]
        ));
    }
    println!("{table}");
}

#[test]
fn both_templates_take_the_functions_modes_and_default_to_report() {
    let modes: Vec<&str> = MODES.iter().map(|m| m.as_str()).collect();
    let central = Template::load("template.yaml");
    for name in TEMPLATES {
        let template = Template::load(name);
        let parameter = template.parameter("RemediationMode");
        assert_eq!(parameter["Type"].as_str(), Some("String"), "{name}");
        let allowed: Vec<&str> = parameter["AllowedValues"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name}: RemediationMode has no AllowedValues"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(allowed, modes, "{name}");
        // The member stack defaults to what the central stack deploys by default.
        assert_eq!(
            template.default_of("RemediationMode"),
            central.default_of("RemediationMode"),
            "{name}"
        );
    }
    assert_eq!(central.default_of("RemediationMode"), "report");
}

#[test]
fn no_grant_escapes_the_role_policies_read_here() {
    // The per-mode reading sees the roles' inline policies only: no other policy resource,
    // no managed policy (checked by role_statements on deploy), no SAM-generated one.
    for name in TEMPLATES {
        let template = Template::load(name);
        for (id, resource) in template.resources() {
            let kind = resource["Type"].as_str().unwrap();
            assert!(
                !kind.starts_with("AWS::IAM::") || kind == "AWS::IAM::Role",
                "{name} {id}: {kind}"
            );
            if kind == "AWS::Serverless::Function" {
                assert!(
                    resource["Properties"]["Policies"].is_null(),
                    "{name} {id}: SAM policies"
                );
                assert!(
                    !resource["Properties"]["Role"].is_null(),
                    "{name} {id}: no Role"
                );
            }
        }
    }
}

#[test]
fn in_the_central_account_the_member_stack_creates_no_role_in_any_mode() {
    let member = Template::load("member-account.yaml");
    let triggers = [("off", "off"), ("on", "on"), ("on-no-forwarding", "on")];
    for (mode, (security_hub, access_analyzer)) in MODES
        .into_iter()
        .flat_map(|mode| triggers.map(|t| (mode, t)))
    {
        let deployment = member.deploy(&[
            ("AWS::AccountId", CENTRAL_ACCOUNT),
            ("CentralFunctionRoleArn", CENTRAL_ROLE_ARN),
            ("CentralEventBusArn", CENTRAL_BUS_ARN),
            ("RemediationMode", mode.as_str()),
            ("SecurityHubTrigger", security_hub),
            ("AccessAnalyzerTrigger", access_analyzer),
        ]);
        assert!(deployment.condition("IsCentralAccount"));
        let created: Vec<String> = deployment
            .resources()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            created,
            ["NothingToDoInTheCentralAccount"],
            "{} {security_hub} {access_analyzer}",
            mode.as_str()
        );
        assert!(deployment.role_statements().is_empty());
    }
}

#[test]
fn the_member_stacks_mode_is_the_ceiling_of_what_the_central_function_does_there() {
    // In a member account the function acts with the member role's grants only: it attempts
    // the writes of the central mode, and IAM lets through those the member mode permits.
    // The rest are refused (AccessDenied: the key is reported failed).
    let member_defaults = &parameter_sets("member-account.yaml")[0];
    let rank = |mode: Mode| MODES.iter().position(|m| *m == mode).unwrap();
    let mut table = String::from(
        "IAM writes that happen in a member account (refused: attempted, denied by the member \
         role)\n| central mode | member mode | written | refused |\n|---|---|---|---|\n",
    );
    for central in MODES {
        for member in MODES {
            let permits: BTreeSet<&str> =
                permitted_writes("member-account.yaml", member, member_defaults)
                    .into_iter()
                    .collect();
            let attempts = writes_of(central);
            let written: Vec<&str> = IAM_WRITES
                .into_iter()
                .filter(|w| attempts.contains(w) && permits.contains(w))
                .collect();
            let refused: Vec<&str> = IAM_WRITES
                .into_iter()
                .filter(|w| attempts.contains(w) && !permits.contains(w))
                .collect();
            let lower = MODES[rank(central).min(rank(member))];
            assert_eq!(
                written.iter().copied().collect::<BTreeSet<_>>(),
                writes_of(lower),
                "central {}, member {}",
                central.as_str(),
                member.as_str()
            );
            table.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                central.as_str(),
                member.as_str(),
                listed(&written),
                listed(&refused)
            ));
        }
    }
    println!("{table}");
}

/// Environment variables that src/settings.rs reads: the quoted upper-case names with an
/// underscore in its non-test part.
fn variables_settings_reads() -> BTreeSet<String> {
    let mut code = String::new();
    for file in [
        "src/settings.rs",
        "src/settings/notices.rs",
        "src/settings/organization.rs",
    ] {
        let source = std::fs::read_to_string(project_path(file)).unwrap();
        code.push_str(source.split("#[cfg(test)]").next().unwrap());
    }
    code.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.contains('_') && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        // The SDKs' own variables (AWS_ACCOUNT_ID, for local runtimes) are not the stack's.
        .filter(|s| !s.starts_with("AWS_"))
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
        // Notices go to the stack's own topic, not to one a parameter names.
        if name == "NOTICE_TOPIC_ARN" {
            let topic = intrinsic(value);
            assert!(
                matches!(topic, Some(("Ref", Value::String(r))) if r == "NotificationTopic"),
                "{value:?}"
            );
            continue;
        }
        // The sweep bucket is the stack's own, with SweepOrganization on (org_bucket).
        if name == "SWEEP_BUCKET" {
            continue;
        }
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
        "ConfigRuleNames",
        "NotificationEmail",
        "OrganizationId",
        "MemberRoleName",
        "MemberRoleExternalId",
        "SesFromAddress",
    ] {
        assert_eq!(template.default_of(optional), "", "{optional}");
    }
    assert_eq!(template.default_of("OwnerTagKey"), "owner");
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
            ("AWS/States".into(), "ExecutionsFailed".into()),
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
        classify(event),
        Ok(Work::Sweep {
            account: Some(account("123456789012")),
            accounts: vec![account("123456789012"), account("210987654321")],
        })
    );
}

#[test]
fn a_mistyped_sweep_accounts_parameter_is_refused_by_name_not_guessed() {
    let event = transformed_sweep_event("123456789012, 210987654321");

    let error = classify(event).expect_err("a padded id is not an id");
    assert!(error.to_string().contains("detail.accounts[1]"), "{error}");
}
