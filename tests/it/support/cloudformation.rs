//! The stack's CloudFormation templates read as data, short-form intrinsics (`!Sub`, `!If`,
//! `!Ref`, …) included, and the real matchers (tests/emulator/filters.py) their filters are
//! evaluated with.

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
