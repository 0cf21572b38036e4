//! Sample events for the triggers' patterns: the fixtures in events/, and variants of them
//! that differ in the one field a pattern must look at (a workflow status, a control's name, a
//! finding type), each with the trigger whose pattern must admit it.

use serde_json::{Value as Json, json};

use crate::support::fixture;

pub const CONFIG: &str = "config";
pub const SECURITY_HUB: &str = "security-hub";
pub const ACCESS_ANALYZER: &str = "access-analyzer";

/// One event the patterns are tried on, and the trigger whose pattern must admit it (`None`:
/// no pattern may).
pub struct Sample {
    pub label: String,
    pub event: Json,
    pub admitted_by: Option<&'static str>,
}

fn sample(file: &str, admitted_by: Option<&'static str>) -> Sample {
    Sample {
        label: file.to_owned(),
        event: fixture(file),
        admitted_by,
    }
}

/// A sample fixture with fields changed (`Some`) or removed (`None`), at JSON pointers.
fn variant(
    file: &str,
    label: &str,
    edits: &[(&str, Option<Json>)],
    admitted_by: Option<&'static str>,
) -> Sample {
    let mut event = fixture(file);
    for (pointer, value) in edits {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let object = event
            .pointer_mut(parent)
            .and_then(Json::as_object_mut)
            .unwrap_or_else(|| panic!("{file}: no object at {parent}"));
        match value {
            Some(value) => object.insert(key.to_owned(), value.clone()),
            None => object.remove(key),
        };
    }
    Sample {
        label: format!("{file}, {label}"),
        event,
        admitted_by,
    }
}

const FINDING: &str = "/detail/findings/0";

/// The IAM.3 sample named by its standard's GeneratorId only, as before consolidated controls.
fn generator_only(label: &str, generator_id: &str, admitted_by: Option<&'static str>) -> Sample {
    variant(
        "security-hub-iam3.json",
        label,
        &[
            ("/detail/findings/0/Compliance/SecurityControlId", None),
            ("/detail/findings/0/GeneratorId", Some(json!(generator_id))),
        ],
        admitted_by,
    )
}

pub fn samples() -> Vec<Sample> {
    let (config, hub, analyzer) = (Some(CONFIG), Some(SECURITY_HUB), Some(ACCESS_ANALYZER));
    let iam3 = "security-hub-iam3.json";
    let unused = "access-analyzer-unused-key.json";
    let at = |field: &str| format!("{FINDING}/{field}");
    let set = |file, label, field: &str, value: Json, admitted| {
        variant(file, label, &[(&at(field), Some(value))], admitted)
    };
    vec![
        sample("non-compliant-alice.json", config),
        sample("non-compliant-securityhub-rule.json", config),
        sample("non-compliant-org-rule.json", config),
        sample("non-compliant-conformance-pack-rule.json", config),
        // The function, not the pattern, decides by what the rule is.
        sample("other-rule.json", config),
        // The pattern does not look at resourceId; the function refuses it, naming the field.
        sample("malformed-missing-resource-id.json", config),
        sample("compliant-alice.json", None),
        sample("non-user-resource.json", None),
        sample(iam3, hub),
        sample("security-hub-iam8.json", hub),
        sample("security-hub-suppressed.json", None),
        set(iam3, "NOTIFIED", "Workflow/Status", json!("NOTIFIED"), hub),
        set(iam3, "RESOLVED", "Workflow/Status", json!("RESOLVED"), None),
        set(iam3, "ARCHIVED", "RecordState", json!("ARCHIVED"), None),
        set(iam3, "PASSED", "Compliance/Status", json!("PASSED"), None),
        set(
            iam3,
            "a role",
            "Resources/0/Type",
            json!("AwsIamRole"),
            None,
        ),
        variant(
            iam3,
            "control IAM.4",
            &[
                (&at("Compliance/SecurityControlId"), Some(json!("IAM.4"))),
                (&at("GeneratorId"), Some(json!("security-control/IAM.4"))),
            ],
            None,
        ),
        generator_only(
            "FSBP IAM.3",
            "aws-foundational-security-best-practices/v/1.0.0/IAM.3",
            hub,
        ),
        generator_only(
            "FSBP IAM.8",
            "aws-foundational-security-best-practices/v/1.0.0/IAM.8",
            hub,
        ),
        generator_only(
            "CIS 1.2.0 rule/1.4",
            "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.4",
            hub,
        ),
        generator_only(
            "CIS 1.4.0 1.14",
            "cis-aws-foundations-benchmark/v/1.4.0/1.14",
            hub,
        ),
        generator_only(
            "CIS 1.4.0 1.12",
            "cis-aws-foundations-benchmark/v/1.4.0/1.12",
            hub,
        ),
        // CIS 1.4.0's 1.4 is the root user's keys, not ours.
        generator_only(
            "CIS 1.4.0 1.4",
            "cis-aws-foundations-benchmark/v/1.4.0/1.4",
            None,
        ),
        sample(unused, analyzer),
        set_detail(
            unused,
            "a password",
            "findingType",
            json!("UnusedIAMUserPassword"),
            None,
        ),
        set_detail(unused, "ARCHIVED", "status", json!("ARCHIVED"), None),
        set_detail(unused, "RESOLVED", "status", json!("RESOLVED"), None),
        // The pattern does not look at isDeleted; the function ignores it, with a reason.
        set_detail(unused, "deleted", "isDeleted", json!(true), analyzer),
        sample("scheduled-sweep.json", None),
    ]
}

fn set_detail(
    file: &str,
    label: &str,
    field: &str,
    value: Json,
    admitted_by: Option<&'static str>,
) -> Sample {
    variant(
        file,
        label,
        &[(&format!("/detail/{field}"), Some(value))],
        admitted_by,
    )
}
