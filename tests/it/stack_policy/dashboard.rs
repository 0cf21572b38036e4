//! The CloudWatch dashboard in template.yaml, read as the console would after CloudFormation
//! fills its `!Sub`: every metric it searches is one the function emits (the names taken from
//! a real `Report::metric_lines`, not a list kept here), in the function's namespace and
//! dimensions, per day; every metric the function emits is shown; and the failures row graphs
//! what the alarms watch. cfn-lint does not read a DashboardBody, so these tests are what
//! holds it to valid JSON, deployed with the organisation sweep on and off (its row and its
//! alarm come in through `!If`).

use std::collections::{BTreeMap, BTreeSet};

use access_key_remediator::domain::ids::AccountId;
use access_key_remediator::domain::policy::Mode;
use access_key_remediator::report::{Action, METRIC_NAMESPACE, Report, Trigger};
use serde_json::Value as Json;
use yaml_serde::Value;

use crate::support::cloudformation::{Template, arn_text, intrinsic};

const DASHBOARD: &str = "RemediatorDashboard";
const REGION: &str = "eu-west-1";
/// The actions the issue asks the dashboard to show, by their metric names.
const ISSUE_ACTIONS: [&str; 5] = ["deactivated", "deleted", "failed", "pending", "warned"];
const SECONDS_PER_DAY: u64 = 86_400;

/// What the function's EMF lines declare, from real reports of both triggers.
struct Emitted {
    namespaces: BTreeSet<String>,
    dimension_sets: BTreeSet<Vec<String>>,
    metric_names: BTreeSet<String>,
    triggers: BTreeSet<String>,
}

fn emitted() -> Emitted {
    let account = AccountId::parse("111111111111").expect("an account id");
    let mut emitted = Emitted {
        namespaces: BTreeSet::new(),
        dimension_sets: BTreeSet::new(),
        metric_names: BTreeSet::new(),
        triggers: BTreeSet::new(),
    };
    for trigger in [Trigger::Event, Trigger::Sweep] {
        let report = Report::new(trigger, Mode::Delete, Some(account.clone()), Vec::new());
        for line in report.metric_lines(0) {
            let line: Json = serde_json::from_str(&line).expect("an EMF line is JSON");
            for directive in line["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
                emitted
                    .namespaces
                    .insert(directive["Namespace"].as_str().unwrap().to_owned());
                for set in directive["Dimensions"].as_array().unwrap() {
                    emitted.dimension_sets.insert(strings(set));
                }
                for metric in directive["Metrics"].as_array().unwrap() {
                    emitted
                        .metric_names
                        .insert(metric["Name"].as_str().unwrap().to_owned());
                }
            }
            emitted
                .triggers
                .insert(line["Trigger"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        emitted.namespaces,
        BTreeSet::from([METRIC_NAMESPACE.into()])
    );
    emitted
}

pub(super) fn strings(list: &Json) -> Vec<String> {
    let items = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"));
    items
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect()
}

/// What a `${Name}` of the dashboard's `!Sub` becomes here: sample values for the pseudo
/// parameters, `<Resource>` or `<Resource.Attribute>` for the stack's own resources.
fn sample_value(template: &Template, name: &str) -> String {
    match name {
        "AWS::Region" => REGION.into(),
        "AWS::StackName" => "remediator".into(),
        "AWS::AccountId" => "111111111111".into(),
        "AWS::Partition" => "aws".into(),
        _ => {
            let resource = name.split('.').next().unwrap();
            template.resource(resource);
            format!("<{name}>")
        }
    }
}

/// The SweepOrganization values the dashboard is deployed with.
const SWEEP_ORGANIZATION: [&str; 2] = ["off", "on"];

/// `!Sub` text with every `${Name}` replaced (from `variables`, else a sample value) and every
/// `${!Literal}` written as `${Literal}`.
fn substitute(template: &Template, text: &str, variables: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        if let Some(literal) = after.strip_prefix('!') {
            out.push_str("${");
            rest = literal;
            continue;
        }
        let end = after
            .find('}')
            .expect("an unclosed ${ in the DashboardBody");
        let name = &after[..end];
        match variables.get(name) {
            Some(value) => out.push_str(value),
            None => out.push_str(&sample_value(template, name)),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The DashboardBody as deployed with SweepOrganization `sweep_organization`, parsed: a
/// `!Sub [text, variables]` whose variables are `!If`s of literal text or `!Sub` text.
pub(super) fn dashboard_body(template: &Template, sweep_organization: &str) -> Json {
    let deployment = template.deploy(&[("SweepOrganization", sweep_organization)]);
    let body = deployment
        .resolve(&template.resource(DASHBOARD)["Properties"]["DashboardBody"])
        .unwrap();
    let Some(("Sub", Value::Sequence(sub))) = intrinsic(&body) else {
        panic!("the DashboardBody is not a !Sub [text, variables]: {body:?}");
    };
    let no_variables = BTreeMap::new();
    let variables: BTreeMap<String, String> = sub[1]
        .as_mapping()
        .expect("the !Sub variables")
        .iter()
        .map(|(name, value)| {
            let text = match (value, intrinsic(value)) {
                (Value::String(literal), _) => literal.clone(),
                (_, Some(("Sub", Value::String(text)))) => {
                    substitute(template, text, &no_variables)
                }
                _ => panic!("the dashboard variable {name:?} is {value:?}"),
            };
            (name.as_str().unwrap().to_owned(), text)
        })
        .collect();
    let json = substitute(template, sub[0].as_str().unwrap(), &variables);
    serde_json::from_str(&json).unwrap_or_else(|e| {
        panic!("DashboardBody (SweepOrganization={sweep_organization}) is not JSON: {e}\n{json}")
    })
}

/// One line of a metric widget: a metric math expression, or a metric by name.
enum Line {
    Expression(String),
    Metric(Metric),
}

/// A metric by name, as a widget or an alarm names it.
#[derive(Debug, PartialEq)]
pub(super) struct Metric {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) dimensions: Vec<(String, String)>,
}

fn metric_widgets(body: &Json) -> Vec<&Json> {
    let widgets = body["widgets"].as_array().expect("a widgets list");
    widgets
        .iter()
        .filter(|w| w["type"] == "metric")
        .map(|w| &w["properties"])
        .collect()
}

fn lines(body: &Json) -> Vec<Line> {
    metric_widgets(body)
        .into_iter()
        .flat_map(|widget| widget["metrics"].as_array().unwrap())
        .map(|entry| {
            let parts = entry.as_array().unwrap();
            if let Some(expression) = parts[0]["expression"].as_str() {
                return Line::Expression(expression.to_owned());
            }
            let text: Vec<String> = parts
                .iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect();
            assert!(!text.contains(&".".into()), "no `.` shorthand: {entry}");
            Line::Metric(Metric {
                namespace: text[0].clone(),
                name: text[1].clone(),
                dimensions: text[2..]
                    .chunks(2)
                    .map(|pair| (pair[0].clone(), pair[1].clone()))
                    .collect(),
            })
        })
        .collect()
}

/// `SEARCH('{Namespace,Dim,…} Key="value" …', 'Stat', period)`, taken apart.
#[derive(Debug)]
struct Search {
    namespace: String,
    dimensions: Vec<String>,
    terms: Vec<(String, String)>,
    stat: String,
    period: u64,
}

fn parse_search(expression: &str) -> Search {
    let inner = expression
        .strip_prefix("SEARCH('")
        .and_then(|e| e.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not a SEARCH: {expression}"));
    let (query, arguments) = inner
        .split_once("', '")
        .expect("SEARCH(query, stat, period)");
    let (stat, period) = arguments
        .split_once("', ")
        .expect("SEARCH(query, stat, period)");
    let (schema, filter) = query
        .strip_prefix('{')
        .and_then(|q| q.split_once('}'))
        .unwrap_or_else(|| panic!("no {{schema}} in {expression}"));
    let mut schema = schema.split(',').map(str::to_owned);
    let terms = filter
        .split_whitespace()
        .map(|term| {
            let (key, value) = term
                .split_once('=')
                .unwrap_or_else(|| panic!("free text matches too much: {term} in {expression}"));
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
            let value = value.unwrap_or_else(|| panic!("an unquoted value in {expression}"));
            (key.to_owned(), value.to_owned())
        })
        .collect();
    Search {
        namespace: schema.next().unwrap(),
        dimensions: schema.collect(),
        terms,
        stat: stat.to_owned(),
        period: period.trim().parse().expect("a period in seconds"),
    }
}

fn searches(body: &Json) -> Vec<Search> {
    lines(body)
        .into_iter()
        .filter_map(|line| match line {
            Line::Expression(expression) => Some(parse_search(&expression)),
            Line::Metric(_) => None,
        })
        .collect()
}

fn searched_names(search: &Search) -> Vec<&str> {
    let names: Vec<&str> = search
        .terms
        .iter()
        .filter(|(key, _)| key == "MetricName")
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(names.len(), 1, "one MetricName per SEARCH: {search:?}");
    names
}

#[test]
fn the_dashboard_body_is_json_whose_widgets_read_this_stacks_region() {
    let template = Template::load("template.yaml");
    for sweep_organization in SWEEP_ORGANIZATION {
        let body = dashboard_body(&template, sweep_organization);
        let widgets = metric_widgets(&body);
        assert!(widgets.len() >= 6, "{body:#}");
        for widget in widgets {
            assert_eq!(widget["region"], REGION, "{widget:#}");
            assert!(widget["title"].is_string(), "{widget:#}");
        }
    }
    let outputs = &template.root["Outputs"];
    assert_eq!(
        arn_text(&outputs["DashboardName"]["Value"]),
        "!Ref RemediatorDashboard"
    );
    let url = arn_text(&outputs["DashboardUrl"]["Value"]);
    assert!(
        url.ends_with("#dashboards/dashboard/${RemediatorDashboard}"),
        "{url}"
    );
}

#[test]
fn every_metric_the_dashboard_searches_is_one_the_function_emits_per_day() {
    let emitted = emitted();
    let template = Template::load("template.yaml");
    for sweep_organization in SWEEP_ORGANIZATION {
        let searches = searches(&dashboard_body(&template, sweep_organization));
        assert!(searches.len() >= ISSUE_ACTIONS.len(), "{searches:#?}");
        for search in &searches {
            assert_searches_what_the_function_emits(search, &emitted);
        }
    }
}

fn assert_searches_what_the_function_emits(search: &Search, emitted: &Emitted) {
    assert!(emitted.namespaces.contains(&search.namespace), "{search:?}");
    assert!(
        emitted.dimension_sets.contains(&search.dimensions),
        "{search:?}: the function emits {:?}",
        emitted.dimension_sets
    );
    for name in searched_names(search) {
        assert!(
            emitted.metric_names.contains(name),
            "the dashboard searches {name}, which the function does not emit: {:?}",
            emitted.metric_names
        );
    }
    for (key, value) in &search.terms {
        // Filtering on an account would leave out the accounts added later.
        match key.as_str() {
            "MetricName" => {}
            "Trigger" => assert!(emitted.triggers.contains(value), "{search:?}"),
            _ => panic!("{search:?} filters on {key}"),
        }
    }
    assert_eq!(search.period, SECONDS_PER_DAY, "{search:?}");
    assert!(
        ["Sum", "Maximum"].contains(&search.stat.as_str()),
        "{search:?}"
    );
}

#[test]
fn every_metric_the_function_emits_is_on_the_dashboard_the_issues_actions_included() {
    let emitted = emitted();
    let body = dashboard_body(&Template::load("template.yaml"), "off");
    let searches = searches(&body);
    let shown: BTreeSet<&str> = searches.iter().flat_map(searched_names).collect();
    for name in &emitted.metric_names {
        assert!(
            shown.contains(name.as_str()),
            "{name} is not on the dashboard: {shown:?}"
        );
    }
    let named: Vec<&str> = Action::ALL
        .iter()
        .map(|action| action.as_str())
        .filter(|name| ISSUE_ACTIONS.contains(name))
        .collect();
    for name in ISSUE_ACTIONS {
        if !named.contains(&name) {
            assert_eq!(name, "warned", "{name} is no longer an action");
            eprintln!("skipped: `warned` is not an action yet, so not required on the dashboard");
        }
    }
    for name in named {
        assert!(
            shown.contains(name),
            "the issue's {name} is not on the dashboard"
        );
    }
}

/// The metrics graphed by name (not by SEARCH).
pub(super) fn graphed(body: &Json) -> Vec<Metric> {
    lines(body)
        .into_iter()
        .filter_map(|line| match line {
            Line::Metric(metric) => Some(metric),
            Line::Expression(_) => None,
        })
        .collect()
}

#[test]
fn the_failures_row_graphs_and_lists_what_the_alarms_watch() {
    let template = Template::load("template.yaml");
    for sweep_organization in SWEEP_ORGANIZATION {
        let body = dashboard_body(&template, sweep_organization);
        let graphed = graphed(&body);
        let deployment = template.deploy(&[("SweepOrganization", sweep_organization)]);
        let alarms = deployment.resources_of_type("AWS::CloudWatch::Alarm");
        assert_eq!(
            alarms.len(),
            if sweep_organization == "on" { 3 } else { 2 },
            "{alarms:?}"
        );
        for (id, alarm) in &alarms {
            let watched = watched_metric(&alarm["Properties"]);
            assert!(
                graphed.contains(&watched),
                "{id} watches {watched:?}, not graphed"
            );
        }
        let listed: Vec<String> = body["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["type"] == "alarm")
            .flat_map(|w| strings(&w["properties"]["alarms"]))
            .collect();
        let expected: Vec<String> = alarms.iter().map(|(id, _)| format!("<{id}.Arn>")).collect();
        assert_eq!(listed, expected, "SweepOrganization={sweep_organization}");
    }
}

/// The metric an alarm watches, its dimensions written as the dashboard's sample values.
fn watched_metric(alarm: &Value) -> Metric {
    let dimensions = alarm["Dimensions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| {
            let value = arn_text(&d["Value"]);
            let target = value
                .trim_start_matches("!Ref ")
                .trim_start_matches("!GetAtt ");
            (
                d["Name"].as_str().unwrap().to_owned(),
                format!("<{target}>"),
            )
        })
        .collect();
    Metric {
        namespace: alarm["Namespace"].as_str().unwrap().to_owned(),
        name: alarm["MetricName"].as_str().unwrap().to_owned(),
        dimensions,
    }
}
