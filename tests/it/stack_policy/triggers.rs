//! The triggers' EventBridge rules, in the central stack and as the member stack forwards them:
//! which exist with which parameters, what their patterns admit (by EventBridge's own matching
//! rules, tests/emulator/filters.py), that the patterns agree with what the function acts on,
//! and that each rule may invoke the function and dead-letters what it cannot deliver.

use std::collections::{BTreeMap, BTreeSet};

use access_key_remediator::settings::Settings;
use access_key_remediator::triggers::{Work, classify};
use serde_json::{Value as Json, json};
use yaml_serde::Value;

use super::trigger_samples::{ACCESS_ANALYZER, CONFIG, SECURITY_HUB, samples};
use super::{CENTRAL_ACCOUNT, CENTRAL_BUS_ARN, CENTRAL_ROLE_ARN, MEMBER_ACCOUNT, TEMPLATES};
use crate::support::cloudformation::{Deployment, Template, arn_text, intrinsic, run_filter};
use crate::support::{fixture, project_path};

/// One trigger: its rule in the central stack, and the member stack's rule that forwards it.
struct Trigger {
    name: &'static str,
    central_rule: &'static str,
    member_rule: &'static str,
}

const TRIGGERS: [Trigger; 3] = [
    Trigger {
        name: CONFIG,
        central_rule: "ConfigComplianceRule",
        member_rule: "ForwardComplianceEvents",
    },
    Trigger {
        name: SECURITY_HUB,
        central_rule: "SecurityHubFindingsRule",
        member_rule: "ForwardSecurityHubFindings",
    },
    Trigger {
        name: ACCESS_ANALYZER,
        central_rule: "UnusedAccessKeyRule",
        member_rule: "ForwardUnusedAccessFindings",
    },
];

const FUNCTION: &str = "!GetAtt RemediatorFunction.Arn";

fn central_parameters<'a>(
    security_hub: &'a str,
    access_analyzer: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AWS::AccountId", CENTRAL_ACCOUNT),
        ("SecurityHubTrigger", security_hub),
        ("AccessAnalyzerTrigger", access_analyzer),
    ]
}

fn member_parameters<'a>(
    security_hub: &'a str,
    access_analyzer: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AWS::AccountId", MEMBER_ACCOUNT),
        ("CentralFunctionRoleArn", CENTRAL_ROLE_ARN),
        ("CentralEventBusArn", CENTRAL_BUS_ARN),
        ("SecurityHubTrigger", security_hub),
        ("AccessAnalyzerTrigger", access_analyzer),
    ]
}

/// The EventBridge rules a deployment creates that have a pattern, with their targets.
fn pattern_rules(deployment: &Deployment) -> BTreeMap<String, Vec<String>> {
    deployment
        .resources_of_type("AWS::Events::Rule")
        .into_iter()
        .filter(|(_, rule)| !rule["Properties"]["EventPattern"].is_null())
        .map(|(id, rule)| {
            let targets = rule["Properties"]["Targets"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{id} has no targets"))
                .iter()
                .map(|target| arn_text(&target["Arn"]))
                .collect();
            (id, targets)
        })
        .collect()
}

/// A rule's pattern as JSON (the patterns are literals: no parameter reaches them).
fn pattern(template: &Template, rule: &str) -> Json {
    template.to_json(&template.resource(rule)["Properties"]["EventPattern"])
}

fn matched(pattern: &Json, events: &[Json]) -> Vec<bool> {
    let answer = run_filter(
        "event-pattern",
        &json!({ "pattern": pattern, "events": events }),
    );
    serde_json::from_value(answer["matched"].clone()).unwrap()
}

#[test]
fn each_trigger_rule_exists_only_when_its_parameter_is_on() {
    let central = Template::load("template.yaml");
    for (security_hub, access_analyzer) in
        [("off", "off"), ("on", "off"), ("off", "on"), ("on", "on")]
    {
        let deployment = central.deploy(&central_parameters(security_hub, access_analyzer));
        let mut expected = vec!["ConfigComplianceRule"];
        if security_hub == "on" {
            expected.push("SecurityHubFindingsRule");
        }
        if access_analyzer == "on" {
            expected.push("UnusedAccessKeyRule");
        }
        let rules = pattern_rules(&deployment);
        assert_eq!(
            rules.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            expected.into_iter().collect::<BTreeSet<_>>(),
            "template.yaml, SecurityHubTrigger={security_hub} AccessAnalyzerTrigger={access_analyzer}"
        );
        for (rule, targets) in rules {
            assert_eq!(targets, [FUNCTION], "{rule}");
        }
    }

    // The member's on-no-forwarding grants the role its finding updates but forwards nothing:
    // the central account, as Security Hub administrator, receives the findings already.
    let member = Template::load("member-account.yaml");
    for security_hub in ["off", "on", "on-no-forwarding"] {
        for access_analyzer in ["off", "on"] {
            let deployment = member.deploy(&member_parameters(security_hub, access_analyzer));
            let mut expected = vec!["ForwardComplianceEvents"];
            if security_hub == "on" {
                expected.push("ForwardSecurityHubFindings");
            }
            if access_analyzer == "on" {
                expected.push("ForwardUnusedAccessFindings");
            }
            let rules = pattern_rules(&deployment);
            assert_eq!(
                rules.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                expected.into_iter().collect::<BTreeSet<_>>(),
                "member-account.yaml, SecurityHubTrigger={security_hub} AccessAnalyzerTrigger={access_analyzer}"
            );
            for (rule, targets) in rules {
                assert_eq!(targets, ["!Ref CentralEventBusArn"], "{rule}");
            }
        }
    }
}

#[test]
fn the_member_stack_forwards_exactly_what_the_central_rules_admit() {
    let (central, member) = (
        Template::load("template.yaml"),
        Template::load("member-account.yaml"),
    );
    for trigger in TRIGGERS {
        assert_eq!(
            pattern(&member, trigger.member_rule),
            pattern(&central, trigger.central_rule),
            "{}: {} forwards another pattern than {}",
            trigger.name,
            trigger.member_rule,
            trigger.central_rule
        );
    }
}

/// Whether a JSON value has `key` as a field name anywhere inside it.
fn has_field(value: &Json, key: &str) -> bool {
    match value {
        Json::Object(map) => map.iter().any(|(k, v)| k == key || has_field(v, key)),
        Json::Array(items) => items.iter().any(|v| has_field(v, key)),
        _ => false,
    }
}

#[test]
fn the_config_pattern_is_non_compliant_iam_users_of_any_rule() {
    for (name, rule) in TEMPLATES
        .into_iter()
        .zip(["ConfigComplianceRule", "ForwardComplianceEvents"])
    {
        let pattern = pattern(&Template::load(name), rule);
        assert_eq!(
            pattern,
            json!({
                "source": ["aws.config"],
                "detail-type": ["Config Rules Compliance Change"],
                "detail": {
                    "resourceType": ["AWS::IAM::User"],
                    "newEvaluationResult": { "complianceType": ["NON_COMPLIANT"] }
                }
            }),
            "{name}"
        );
        // The managed rule comes under generated names; the function asks Config what it is.
        assert!(!has_field(&pattern, "configRuleName"), "{name}: {pattern}");
    }
}

/// Where a template refers to a parameter with `!Ref`, as paths of keys.
fn references_to(value: &Value, parameter: &str, path: &str, found: &mut Vec<String>) {
    if let Some(("Ref", Value::String(name))) = intrinsic(value) {
        if name == parameter {
            found.push(path.to_owned());
        }
        return;
    }
    match value {
        Value::Tagged(tagged) => references_to(&tagged.value, parameter, path, found),
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                references_to(item, parameter, &format!("{path}[{i}]"), found);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map {
                let key = key.as_str().unwrap_or("?");
                references_to(item, parameter, &format!("{path}.{key}"), found);
            }
        }
        _ => {}
    }
}

/// RULE_NAMES as the function reads it from the environment the stack gives it.
fn rule_names_deployed(config_rule_names: Option<&str>) -> Settings {
    let template = Template::load("template.yaml");
    let mut given = vec![("AWS::AccountId", CENTRAL_ACCOUNT)];
    given.extend(config_rule_names.map(|names| ("ConfigRuleNames", names)));
    let deployment = template.deploy(&given);
    let variables =
        &template.resource("RemediatorFunction")["Properties"]["Environment"]["Variables"];
    let Json::String(rule_names) = deployment.evaluate(&variables["RULE_NAMES"]) else {
        panic!("RULE_NAMES is not a string");
    };
    Settings::from_lookup(|name| (name == "RULE_NAMES").then(|| rule_names.clone()))
        .unwrap_or_else(|e| panic!("RULE_NAMES={rule_names:?}: {e}"))
}

#[test]
fn config_rule_names_feed_rule_names_only_and_default_to_none() {
    let central = Template::load("template.yaml");
    let mut found = Vec::new();
    references_to(
        &central.root["Resources"],
        "ConfigRuleNames",
        "Resources",
        &mut found,
    );
    assert_eq!(
        found,
        ["Resources.RemediatorFunction.Properties.Environment.Variables.RULE_NAMES[1]"],
        "no event pattern filters on rule names any more"
    );
    let member = Template::load("member-account.yaml");
    assert!(
        member.root["Parameters"]["ConfigRuleNames"].is_null(),
        "the member stack forwards by what an event is, not by its rule's name"
    );

    // Empty: no custom rule; the managed rule is recognised by what Config says it is.
    assert!(rule_names_deployed(None).rule_names.is_empty());
    let listed = rule_names_deployed(Some("my-keys-rotated,my-org-*-keys")).rule_names;
    let accepts = |name: &str| listed.iter().any(|pattern| pattern.matches(name));
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(accepts("my-keys-rotated") && accepts("my-org-eu-keys"));
    assert!(!accepts("access-keys-rotated") && !accepts("my-keys-rotated-2"));
}

#[test]
fn each_pattern_admits_its_own_kind_of_event_and_nothing_else() {
    let central = Template::load("template.yaml");
    let samples = samples();
    let events: Vec<Json> = samples.iter().map(|s| s.event.clone()).collect();
    let mut wrong = Vec::new();
    for trigger in TRIGGERS {
        let answers = matched(&pattern(&central, trigger.central_rule), &events);
        for (sample, admitted) in samples.iter().zip(answers) {
            if admitted != (sample.admitted_by == Some(trigger.name)) {
                wrong.push(format!(
                    "{} pattern admits {}: {admitted}",
                    trigger.name, sample.label
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Samples a pattern admits though the function then ignores them, each for a reason it
/// reports: the pattern does not look at the field.
const ADMITTED_BUT_IGNORED: [&str; 1] = ["access-analyzer-unused-key.json, deleted"];

/// Every event in events/, and the samples built from them.
fn every_event() -> Vec<(String, Json)> {
    let mut events: Vec<(String, Json)> = std::fs::read_dir(project_path("events"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|file| file.ends_with(".json"))
        .map(|file| (file.clone(), fixture(&file)))
        .collect();
    events.extend(samples().into_iter().map(|s| (s.label, s.event)));
    events
}

#[test]
fn what_the_function_acts_on_some_pattern_admits_and_what_it_ignores_none_does() {
    let central = Template::load("template.yaml");
    let events = every_event();
    let bodies: Vec<Json> = events.iter().map(|(_, event)| event.clone()).collect();
    let answers: Vec<Vec<bool>> = TRIGGERS
        .iter()
        .map(|trigger| matched(&pattern(&central, trigger.central_rule), &bodies))
        .collect();
    let mut acted_on_by = BTreeSet::new();
    for (index, (label, event)) in events.iter().enumerate() {
        let admitting: Vec<&str> = TRIGGERS
            .iter()
            .zip(&answers)
            .filter(|(_, answers)| answers[index])
            .map(|(trigger, _)| trigger.name)
            .collect();
        assert!(admitting.len() <= 1, "{label}: admitted by {admitting:?}");
        match classify(event.clone()) {
            Ok(Work::Remediate(_)) => {
                assert!(
                    !admitting.is_empty(),
                    "the function acts on {label}, but no rule admits it"
                );
                acted_on_by.extend(admitting);
            }
            Ok(Work::Ignore { reason, .. }) if !ADMITTED_BUT_IGNORED.contains(&label.as_str()) => {
                assert!(
                    admitting.is_empty(),
                    "{label} invokes the function, which ignores it: {reason}"
                );
            }
            Ok(Work::Sweep { .. }) => assert!(admitting.is_empty(), "{label}: {admitting:?}"),
            // Refused, naming the field: the function says so loudly, wherever it came from.
            Ok(Work::Ignore { .. }) | Err(_) => {}
        }
    }
    assert_eq!(
        acted_on_by,
        BTreeSet::from([CONFIG, SECURITY_HUB, ACCESS_ANALYZER]),
        "some trigger has no sample the function acts on"
    );
}

/// The logical id in `!GetAtt <id>.Arn`.
fn get_att_arn_of(text: &str) -> Option<&str> {
    text.strip_prefix("!GetAtt ")?.strip_suffix(".Arn")
}

#[test]
fn every_rule_may_invoke_the_function_and_dead_letters_to_its_queue() {
    let central = Template::load("template.yaml");
    for (security_hub, access_analyzer) in [("off", "off"), ("on", "on")] {
        let deployment = central.deploy(&central_parameters(security_hub, access_analyzer));
        let rules: BTreeMap<String, Value> = deployment
            .resources_of_type("AWS::Events::Rule")
            .into_iter()
            .collect();
        let permitted: BTreeSet<String> = deployment
            .resources_of_type("AWS::Lambda::Permission")
            .into_iter()
            .map(|(id, permission)| {
                let p = &permission["Properties"];
                assert_eq!(
                    p["Principal"].as_str(),
                    Some("events.amazonaws.com"),
                    "{id}"
                );
                assert_eq!(
                    arn_text(&p["FunctionName"]),
                    "!Ref RemediatorFunction",
                    "{id}"
                );
                get_att_arn_of(&arn_text(&p["SourceArn"]))
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let policy = &deployment.resources_of_type("AWS::SQS::QueuePolicy")[0].1;
        let dead_lettered: BTreeSet<String> = policy["Properties"]["PolicyDocument"]["Statement"]
            [0]["Condition"]["ArnEquals"]["aws:SourceArn"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|arn| get_att_arn_of(&arn_text(arn)).unwrap().to_owned())
            .collect();
        let ids: BTreeSet<String> = rules.keys().cloned().collect();
        let context =
            format!("SecurityHubTrigger={security_hub} AccessAnalyzerTrigger={access_analyzer}");
        assert_eq!(permitted, ids, "{context}: Lambda permissions");
        assert_eq!(
            dead_lettered, ids,
            "{context}: the dead-letter queue policy"
        );
        for (id, rule) in &rules {
            let target = &rule["Properties"]["Targets"][0];
            assert_eq!(
                arn_text(&target["DeadLetterConfig"]["Arn"]),
                "!GetAtt DeadLetterQueue.Arn",
                "{id}"
            );
            assert_eq!(
                target["RetryPolicy"]["MaximumEventAgeInSeconds"].as_u64(),
                Some(3600),
                "{id}"
            );
        }
    }
}
