//! The stack's CloudFormation templates read as data, short-form intrinsics (`!Sub`, `!If`,
//! `!Ref`, …) included; a template deployed with given parameter values (its Conditions
//! resolved, `!If` and `AWS::NoValue` applied); and the real matchers
//! (tests/emulator/filters.py) their filters are evaluated with.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value as Json;
use yaml_serde::Value;

pub struct Template {
    pub name: &'static str,
    pub root: Value,
}

impl Template {
    /// Reads a template from the crate root (`template.yaml`, `member-account.yaml`).
    pub fn load(name: &'static str) -> Template {
        let path = super::project_path(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let root = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        Template { name, root }
    }

    /// Every resource, by logical id, in file order.
    pub fn resources(&self) -> Vec<(String, &Value)> {
        self.root["Resources"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{}: no Resources", self.name))
            .iter()
            .map(|(id, resource)| (id.as_str().unwrap().to_owned(), resource))
            .collect()
    }

    pub fn resource(&self, logical_id: &str) -> &Value {
        let resource = &self.root["Resources"][logical_id];
        assert!(
            resource.is_mapping(),
            "{}: no resource {logical_id}",
            self.name
        );
        resource
    }

    pub fn resources_of_type(&self, resource_type: &str) -> Vec<(String, &Value)> {
        self.resources()
            .into_iter()
            .filter(|(_, resource)| resource["Type"].as_str() == Some(resource_type))
            .collect()
    }

    pub fn parameter(&self, name: &str) -> &Value {
        let parameter = &self.root["Parameters"][name];
        assert!(parameter.is_mapping(), "{}: no parameter {name}", self.name);
        parameter
    }

    /// A parameter's default as a string ("" when it has none).
    pub fn default_of(&self, name: &str) -> String {
        match &self.parameter(name)["Default"] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("{}: {name} has default {other:?}", self.name),
        }
    }

    /// Converts a template value to JSON as CloudFormation would deploy it with default
    /// parameters: `!Ref Parameter` becomes the parameter's default (a list for a
    /// CommaDelimitedList). Any other intrinsic is a test bug and panics.
    pub fn to_json(&self, value: &Value) -> Json {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => serde_json::to_value(n).unwrap(),
            Value::String(s) => Json::String(s.clone()),
            Value::Sequence(items) => Json::Array(items.iter().map(|v| self.to_json(v)).collect()),
            Value::Mapping(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| (k.as_str().unwrap().to_owned(), self.to_json(v)))
                    .collect(),
            ),
            Value::Tagged(_) => match intrinsic(value) {
                Some(("Ref", Value::String(name))) => {
                    let default = self.default_of(name);
                    if self.parameter(name)["Type"].as_str() == Some("CommaDelimitedList") {
                        Json::Array(default.split(',').map(|s| Json::from(s.trim())).collect())
                    } else {
                        Json::String(default)
                    }
                }
                _ => panic!("{}: cannot evaluate {value:?}", self.name),
            },
        }
    }
}

/// The intrinsic function a value calls, short form (`!Sub x`) or long (`{"Fn::Sub": x}`,
/// `{"Ref": x}`), as (name without `Fn::`, argument).
pub fn intrinsic(value: &Value) -> Option<(&'static str, &Value)> {
    let (written, argument) = match value {
        Value::Tagged(tagged) => (tagged.tag.to_string(), &tagged.value),
        Value::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            let key = key.as_str()?;
            let name = if key == "Ref" {
                key
            } else {
                key.strip_prefix("Fn::")?
            };
            (name.to_owned(), argument)
        }
        _ => return None,
    };
    let written = written.trim_start_matches('!');
    let name = FUNCTIONS.iter().copied().find(|f| *f == written)?;
    Some((name, argument))
}

const FUNCTIONS: [&str; 16] = [
    "Ref",
    "Sub",
    "If",
    "GetAtt",
    "Join",
    "Split",
    "Select",
    "Equals",
    "Not",
    "And",
    "Or",
    "Contains",
    "FindInMap",
    "Base64",
    "ImportValue",
    "Condition",
];

/// `!Ref AWS::NoValue`: the property or list item is left out.
pub fn is_no_value(value: &Value) -> bool {
    matches!(intrinsic(value), Some(("Ref", Value::String(s))) if s == "AWS::NoValue")
}

/// A resource ARN as the template writes it: the literal, the `!Sub` template string, or
/// `!Ref X` / `!GetAtt X.Arn` spelled out.
pub fn arn_text(value: &Value) -> String {
    match (value, intrinsic(value)) {
        (Value::String(s), _) => s.clone(),
        (_, Some(("Sub", Value::String(s)))) => s.clone(),
        (_, Some(("Sub", Value::Sequence(parts)))) => parts[0].as_str().unwrap().to_owned(),
        (_, Some((name @ ("Ref" | "GetAtt"), Value::String(target)))) => {
            format!("!{name} {target}")
        }
        _ => panic!("unexpected resource value {value:?}"),
    }
}

/// A string or a list of strings, as IAM allows for Action and Resource.
pub fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// One statement of an IAM policy in a template.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Logical id of the role (or other resource) whose policy holds it.
    pub owner: String,
    pub sid: String,
    /// The condition a `!If [Condition, statement, !Ref AWS::NoValue]` puts it under.
    pub only_if: Option<String>,
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub condition: Value,
}

/// Every identity-policy statement of every AWS::IAM::Role, both branches of an `!If` taken.
pub fn role_statements(template: &Template) -> Vec<Statement> {
    let mut statements = Vec::new();
    for (owner, role) in template.resources_of_type("AWS::IAM::Role") {
        for policy in one_or_many(&role["Properties"]["Policies"]) {
            for item in one_or_many(&policy["PolicyDocument"]["Statement"]) {
                collect_statement(&owner, item, None, &mut statements);
            }
        }
    }
    statements
}

fn collect_statement(owner: &str, item: &Value, only_if: Option<String>, out: &mut Vec<Statement>) {
    if is_no_value(item) {
        return;
    }
    if let Some(("If", Value::Sequence(branches))) = intrinsic(item) {
        let condition = branches[0].as_str().unwrap().to_owned();
        collect_statement(owner, &branches[1], Some(condition.clone()), out);
        collect_statement(owner, &branches[2], Some(format!("!{condition}")), out);
        return;
    }
    assert!(
        item.get("NotAction").is_none() && item.get("NotResource").is_none(),
        "{owner}: NotAction/NotResource grant more than they name: {item:?}"
    );
    out.push(Statement {
        owner: owner.to_owned(),
        sid: item["Sid"].as_str().unwrap_or_default().to_owned(),
        only_if,
        effect: item["Effect"].as_str().unwrap_or_default().to_owned(),
        actions: one_or_many(&item["Action"])
            .into_iter()
            .map(|a| a.as_str().expect("actions are literal").to_owned())
            .collect(),
        resources: one_or_many(&item["Resource"])
            .into_iter()
            .map(arn_text)
            .collect(),
        condition: item["Condition"].clone(),
    });
}

/// A template as CloudFormation would deploy it with some parameter values: every Condition
/// resolved, and values read with `!If` taken and `!Ref AWS::NoValue` left out.
pub struct Deployment<'t> {
    pub template: &'t Template,
    /// What `!Ref` gives: the parameters (given, else their defaults) and the pseudo
    /// parameters given (`AWS::AccountId`).
    values: BTreeMap<String, String>,
    pub conditions: BTreeMap<String, bool>,
}

impl Template {
    /// Deploys (on paper) with these values for parameters and pseudo parameters
    /// (`("AWS::AccountId", "111111111111")`); every other parameter takes its default. A
    /// value outside a parameter's AllowedValues, an unknown parameter, or one that has no
    /// default and is not given, is a test bug and panics, as CloudFormation would refuse it.
    pub fn deploy(&self, given: &[(&str, &str)]) -> Deployment<'_> {
        let mut values = BTreeMap::new();
        for (name, value) in given {
            if !name.starts_with("AWS::") {
                let allowed = &self.parameter(name)["AllowedValues"];
                if let Value::Sequence(allowed) = allowed {
                    assert!(
                        allowed
                            .iter()
                            .any(|a| scalar_text(a).as_deref() == Some(*value)),
                        "{}: {name}={value} is not among {allowed:?}",
                        self.name
                    );
                }
            }
            values.insert((*name).to_owned(), (*value).to_owned());
        }
        for (name, parameter) in self.root["Parameters"].as_mapping().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !values.contains_key(name) && !parameter["Default"].is_null() {
                values.insert(name.to_owned(), self.default_of(name));
            }
        }
        let mut deployment = Deployment {
            template: self,
            values,
            conditions: BTreeMap::new(),
        };
        let mut resolving = BTreeSet::new();
        for name in self.condition_names() {
            deployment.resolve_condition(&name, &mut resolving);
        }
        deployment
    }

    fn condition_names(&self) -> Vec<String> {
        self.root["Conditions"]
            .as_mapping()
            .into_iter()
            .flatten()
            .map(|(name, _)| name.as_str().unwrap().to_owned())
            .collect()
    }
}

impl Deployment<'_> {
    /// Whether the named Condition holds.
    pub fn condition(&self, name: &str) -> bool {
        *self
            .conditions
            .get(name)
            .unwrap_or_else(|| panic!("{}: no condition {name}", self.template.name))
    }

    /// `value` as deployed: every `!If` replaced by the branch its condition picks, and what
    /// is `!Ref AWS::NoValue` left out (`None` when `value` itself is). Other intrinsics stay
    /// as written, their arguments resolved the same way.
    pub fn resolve(&self, value: &Value) -> Option<Value> {
        if is_no_value(value) {
            return None;
        }
        if let Some(("If", Value::Sequence(branches))) = intrinsic(value) {
            assert_eq!(
                branches.len(),
                3,
                "{}: !If {branches:?}",
                self.template.name
            );
            let name = branches[0].as_str().expect("!If names a condition");
            let taken = if self.condition(name) { 1 } else { 2 };
            return self.resolve(&branches[taken]);
        }
        Some(match value {
            Value::Sequence(items) => {
                Value::Sequence(items.iter().filter_map(|v| self.resolve(v)).collect())
            }
            Value::Mapping(map) => Value::Mapping(
                map.iter()
                    .filter_map(|(k, v)| Some((k.clone(), self.resolve(v)?)))
                    .collect(),
            ),
            Value::Tagged(tagged) => Value::Tagged(Box::new(yaml_serde::value::TaggedValue {
                tag: tagged.tag.clone(),
                value: self
                    .resolve(&tagged.value)
                    .unwrap_or_else(|| panic!("{}: {value:?}", self.template.name)),
            })),
            scalar => scalar.clone(),
        })
    }

    /// The resources this deployment creates (their Condition holds), resolved, in file order.
    pub fn resources(&self) -> Vec<(String, Value)> {
        self.template
            .resources()
            .into_iter()
            .filter(|(_, resource)| match &resource["Condition"] {
                Value::Null => true,
                Value::String(name) => self.condition(name),
                other => panic!("{}: Condition {other:?}", self.template.name),
            })
            .map(|(id, resource)| (id, self.resolve(resource).unwrap()))
            .collect()
    }

    /// The resources of one type this deployment creates, resolved, in file order.
    pub fn resources_of_type(&self, resource_type: &str) -> Vec<(String, Value)> {
        self.resources()
            .into_iter()
            .filter(|(_, resource)| resource["Type"].as_str() == Some(resource_type))
            .collect()
    }

    /// Every identity-policy statement of every AWS::IAM::Role this deployment creates, as
    /// deployed (so none has `only_if`). A role with managed policies is refused: what they
    /// grant cannot be read here.
    pub fn role_statements(&self) -> Vec<Statement> {
        let mut statements = Vec::new();
        for (owner, role) in self.resources() {
            if role["Type"].as_str() != Some("AWS::IAM::Role") {
                continue;
            }
            assert!(
                role["Properties"]["ManagedPolicyArns"].is_null(),
                "{} {owner}: managed policies grant what this reading cannot see",
                self.template.name
            );
            for policy in one_or_many(&role["Properties"]["Policies"]) {
                for item in one_or_many(&policy["PolicyDocument"]["Statement"]) {
                    collect_statement(&owner, item, None, &mut statements);
                }
            }
        }
        statements
    }

    fn resolve_condition(&mut self, name: &str, resolving: &mut BTreeSet<String>) -> bool {
        if let Some(known) = self.conditions.get(name) {
            return *known;
        }
        assert!(
            resolving.insert(name.to_owned()),
            "{}: condition {name} depends on itself",
            self.template.name
        );
        let definition = &self.template.root["Conditions"][name];
        assert!(
            !definition.is_null(),
            "{}: no condition {name}",
            self.template.name
        );
        let holds = self.evaluate_condition(definition, resolving);
        resolving.remove(name);
        self.conditions.insert(name.to_owned(), holds);
        holds
    }

    /// `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or` and `Condition`, as CloudFormation
    /// evaluates them.
    fn evaluate_condition(&mut self, value: &Value, resolving: &mut BTreeSet<String>) -> bool {
        let name = self.template.name;
        match intrinsic(value) {
            Some(("Equals", Value::Sequence(sides))) if sides.len() == 2 => {
                self.evaluate(&sides[0]) == self.evaluate(&sides[1])
            }
            Some(("Not", Value::Sequence(inner))) if inner.len() == 1 => {
                !self.evaluate_condition(&inner[0], resolving)
            }
            Some((operator @ ("And" | "Or"), Value::Sequence(terms))) => {
                assert!(
                    (2..=10).contains(&terms.len()),
                    "{name}: Fn::{operator} takes 2 to 10 conditions: {terms:?}"
                );
                let results: Vec<bool> = terms
                    .iter()
                    .map(|term| self.evaluate_condition(term, resolving))
                    .collect();
                if operator == "And" {
                    results.iter().all(|r| *r)
                } else {
                    results.iter().any(|r| *r)
                }
            }
            Some(("Condition", Value::String(other))) => self.resolve_condition(other, resolving),
            _ => panic!("{name}: not a condition function: {value:?}"),
        }
    }

    /// A value as CloudFormation computes it for a condition: a string, or a list for a
    /// CommaDelimitedList or a `!Split`. `!Ref`, `!Select`, `!Split` and `!Join`; anything
    /// else is a test bug and panics.
    pub fn evaluate(&self, value: &Value) -> Json {
        let name = self.template.name;
        if let Some(text) = scalar_text(value) {
            return Json::String(text);
        }
        match (value, intrinsic(value)) {
            (Value::Sequence(items), _) => {
                Json::Array(items.iter().map(|v| self.evaluate(v)).collect())
            }
            (_, Some(("Ref", Value::String(reference)))) => {
                let text = self.values.get(reference).unwrap_or_else(|| {
                    panic!("{name}: !Ref {reference} has no value (give it to deploy)")
                });
                let list = !reference.starts_with("AWS::")
                    && self.template.parameter(reference)["Type"].as_str()
                        == Some("CommaDelimitedList");
                if list {
                    Json::Array(text.split(',').map(|s| Json::from(s.trim())).collect())
                } else {
                    Json::String(text.clone())
                }
            }
            (_, Some(("Select", Value::Sequence(args)))) if args.len() == 2 => {
                let index: usize = match self.evaluate(&args[0]) {
                    Json::String(s) => s.parse().unwrap(),
                    other => panic!("{name}: !Select index {other}"),
                };
                match self.evaluate(&args[1]) {
                    Json::Array(items) => items
                        .get(index)
                        .cloned()
                        .unwrap_or_else(|| panic!("{name}: !Select {index} of {items:?}")),
                    other => panic!("{name}: !Select from {other}"),
                }
            }
            (_, Some(("Split", Value::Sequence(args)))) if args.len() == 2 => {
                match (self.evaluate(&args[0]), self.evaluate(&args[1])) {
                    (Json::String(delimiter), Json::String(text)) => {
                        text.split(delimiter.as_str()).map(Json::from).collect()
                    }
                    other => panic!("{name}: !Split {other:?}"),
                }
            }
            (_, Some(("Join", Value::Sequence(args)))) if args.len() == 2 => {
                match (self.evaluate(&args[0]), self.evaluate(&args[1])) {
                    (Json::String(delimiter), Json::Array(items)) => Json::String(
                        items
                            .iter()
                            .map(|i| i.as_str().unwrap().to_owned())
                            .collect::<Vec<_>>()
                            .join(&delimiter),
                    ),
                    other => panic!("{name}: !Join {other:?}"),
                }
            }
            _ => panic!("{name}: cannot evaluate {value:?}"),
        }
    }
}

/// A YAML scalar as the string CloudFormation sees.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Runs tests/emulator/filters.py `command` on `request` and returns its JSON answer.
pub fn run_filter(command: &str, request: &Json) -> Json {
    let script = super::project_path("tests/emulator/filters.py");
    let mut child = Command::new(super::python())
        .arg(&script)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tests/emulator/filters.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .expect("write the request");
    let output = child.wait_with_output().expect("run filters.py");
    assert!(
        output.status.success(),
        "filters.py {command} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("filters.py answers JSON")
}

/// The organisation sweep's state machine definition (template.yaml's `OrgSweepStateMachine`,
/// with SweepOrganization=on) as Step Functions gets it: its DefinitionSubstitutions applied,
/// the function's ARN `function_arn` and the partition taken from it, and `bucket` for the
/// stack's sweep bucket.
pub fn org_sweep_definition(function_arn: &str, bucket: &str) -> Json {
    let template = Template::load("template.yaml");
    let deployment = template.deploy(&[("SweepOrganization", "on")]);
    let (_, machine) = deployment
        .resources()
        .into_iter()
        .find(|(id, _)| id == "OrgSweepStateMachine")
        .expect("with SweepOrganization=on, template.yaml has OrgSweepStateMachine");
    let properties = &machine["Properties"];
    let partition = function_arn.split(':').nth(1).expect("an ARN");
    let mut values = BTreeMap::new();
    for (name, value) in properties["DefinitionSubstitutions"]
        .as_mapping()
        .expect("DefinitionSubstitutions")
    {
        let given = match arn_text(value).as_str() {
            "!GetAtt RemediatorFunction.Arn" => function_arn,
            "!Ref AWS::Partition" => partition,
            "!Ref OrgSweepBucket" => bucket,
            other => panic!("template.yaml: no test value for the substitution {other}"),
        };
        values.insert(format!("${{{}}}", name.as_str().unwrap()), given.to_owned());
    }
    let mut definition = template.to_json(&properties["Definition"]);
    substitute_strings(&mut definition, &values);
    definition
}

/// Step Functions' DefinitionSubstitutions: `${Name}` replaced in every string value.
fn substitute_strings(value: &mut Json, values: &BTreeMap<String, String>) {
    match value {
        Json::String(text) => {
            for (placeholder, given) in values {
                *text = text.replace(placeholder, given);
            }
        }
        Json::Array(items) => items
            .iter_mut()
            .for_each(|item| substitute_strings(item, values)),
        Json::Object(map) => map
            .values_mut()
            .for_each(|item| substitute_strings(item, values)),
        _ => {}
    }
}
