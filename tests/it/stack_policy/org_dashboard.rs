//! The dashboard's organisation-sweep row: with SweepOrganization on, it graphs the state
//! machine's executions and the summary step's org-level metrics (names, namespace and
//! dimension taken from a real metric line); without, neither, and no placeholder.

use access_key_remediator::report::METRIC_NAMESPACE;
use access_key_remediator::report::org::{OrgSummary, SweepRun};
use serde_json::{Value as Json, json};

use super::dashboard::{Metric, dashboard_body, graphed, strings};
use crate::support::cloudformation::Template;

/// What the summary step's org-level EMF line declares: (namespace, dimension, its value,
/// metric names), from a real line.
fn org_metric_line() -> (String, String, String, Vec<String>) {
    let run: SweepRun = serde_json::from_value(json!({"accounts": []})).unwrap();
    let line: Json = serde_json::from_str(&OrgSummary::of(&run).metric_line(0)).unwrap();
    let directives = line["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    assert_eq!(directives.len(), 1, "{line}");
    let directive = &directives[0];
    let dimension_sets = directive["Dimensions"].as_array().unwrap();
    assert_eq!(dimension_sets.len(), 1, "{line}");
    let dimensions = strings(&dimension_sets[0]);
    assert_eq!(dimensions.len(), 1, "{line}");
    let dimension = dimensions[0].clone();
    let names = directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap().to_owned())
        .collect();
    (
        directive["Namespace"].as_str().unwrap().to_owned(),
        dimension.clone(),
        line[&dimension].as_str().unwrap().to_owned(),
        names,
    )
}

#[test]
fn with_the_organisation_sweep_a_row_graphs_its_executions_and_each_sweeps_accounts() {
    let template = Template::load("template.yaml");
    let machine = "<OrgSweepStateMachine>".to_owned();
    let executions: Vec<Metric> = [
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
    ]
    .into_iter()
    .map(|name| Metric {
        namespace: "AWS/States".into(),
        name: name.into(),
        dimensions: vec![("StateMachineArn".into(), machine.clone())],
    })
    .collect();
    let (namespace, dimension, value, names) = org_metric_line();
    assert_eq!(namespace, METRIC_NAMESPACE);
    assert!(names.len() >= 5, "{names:?}");
    let accounts: Vec<Metric> = names
        .iter()
        .map(|name| Metric {
            namespace: namespace.clone(),
            name: name.clone(),
            dimensions: vec![(dimension.clone(), value.clone())],
        })
        .collect();

    let on = graphed(&dashboard_body(&template, "on"));
    for metric in executions.iter().chain(&accounts) {
        assert!(on.contains(metric), "{metric:?} is not graphed: {on:#?}");
    }
    let off = dashboard_body(&template, "off");
    for metric in graphed(&off) {
        assert!(
            !executions.contains(&metric) && !accounts.contains(&metric),
            "{metric:?} is graphed without the state machine"
        );
    }
    // No placeholder: the header names the state machine only when there is one.
    let header = |body: &Json| body["widgets"][0]["properties"]["markdown"].to_string();
    assert!(!header(&off).contains("state machine"), "{}", header(&off));
    assert!(header(&dashboard_body(&template, "on")).contains("<OrgSweepStateMachine.Name>"));
}
