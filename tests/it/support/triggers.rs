//! What the trigger tests share: the emulator's commands for the services beside IAM that the
//! triggers use (Config rules, Security Hub findings, Access Analyzer's analyzers and findings;
//! see emulator.py), and the samples in events/ pointed at a seeded user.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Emulator, fixture};

/// The analyzer the sample unused-key event names.
pub const ANALYZER_ARN: &str =
    "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/unused-access";

/// A BatchUpdateFindings as it reached the emulator, one per finding it named.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingUpdateRecord {
    pub account: String,
    pub id: String,
    pub product_arn: String,
    pub found: bool,
    pub workflow_status: Option<String>,
    pub note: Option<String>,
    pub updated_by: Option<String>,
}

impl Emulator {
    /// The AWS-managed ACCESS_KEYS_ROTATED named `name` (maxAccessKeyAge 90 unless given);
    /// returns the rule's ARN.
    pub fn managed_rule(&mut self, name: &str, max_access_key_age: Option<u32>) -> String {
        let answer = self.command(json!({ "op": "config_rule", "name": name, "managed": true,
            "maxAccessKeyAge": max_access_key_age }));
        answer["arn"].as_str().expect("rule ARN").to_owned()
    }

    /// A custom Lambda rule named `name`.
    pub fn custom_rule(&mut self, name: &str) -> String {
        let answer = self.command(json!({ "op": "config_rule", "name": name, "managed": false }));
        answer["arn"].as_str().expect("rule ARN").to_owned()
    }

    /// The next `times` requests of `action` fail with AccessDenied, in the action's
    /// protocol's error shape.
    pub fn deny(&mut self, action: &str, times: u32) {
        self.command(json!({ "op": "fail", "action": action, "times": times, "status": 403 }));
    }

    /// Puts the event's one finding into the emulator's Security Hub, so that
    /// BatchUpdateFindings finds it.
    pub fn import_finding(&mut self, event: &Value) {
        self.command(json!({ "op": "import_finding", "finding": finding_of(event) }));
    }

    /// The finding as Security Hub holds it now, read inside the emulator (no API call).
    pub fn security_hub_finding(&mut self, id: &str) -> Value {
        let answer = self.command(json!({ "op": "security_hub_findings" }));
        answer["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|finding| finding["Id"] == id)
            .unwrap_or_else(|| panic!("Security Hub holds no finding {id}"))
            .clone()
    }

    /// Every finding BatchUpdateFindings was asked to update since the last reset.
    pub fn finding_updates(&mut self) -> Vec<FindingUpdateRecord> {
        let answer = self.command(json!({ "op": "finding_updates" }));
        serde_json::from_value(answer["updates"].clone()).expect("updates list")
    }

    /// An unused-access analyzer at `ANALYZER_ARN`.
    pub fn analyzer(&mut self, unused_access_age: Option<u32>) {
        self.command(
            json!({ "op": "analyzer", "arn": ANALYZER_ARN, "unusedAccessAge": unused_access_age }),
        );
    }

    /// A finding of the analyzer at `ANALYZER_ARN`, as GetFindingV2 answers it: `spec` holds
    /// emulator.py's `analyzer_finding` fields but the analyzer's.
    pub fn analyzer_finding(&mut self, mut spec: Value) {
        spec["op"] = json!("analyzer_finding");
        spec["analyzerArn"] = json!(ANALYZER_ARN);
        self.command(spec);
    }
}

/// The one finding of a Security Hub event.
pub fn finding_of(event: &Value) -> &Value {
    &event["detail"]["findings"][0]
}

/// The sample unused-key event, for one finding of `user_name`.
pub fn unused_key_event(user_name: &str, finding_id: &str) -> Value {
    let mut event = fixture("access-analyzer-unused-key.json");
    event["detail"]["resource"] = json!(format!("arn:aws:iam::123456789012:user/{user_name}"));
    event["detail"]["findingId"] = json!(finding_id);
    event
}

/// The sample compliance-change event for `user_id`, from the rule `rule_name` (its ARN made
/// from the name, so that each name is its own rule to the function's cache).
pub fn rule_event(rule_name: &str, user_id: &str) -> Value {
    let mut event = fixture("non-compliant-alice.json");
    let detail = &mut event["detail"];
    detail["resourceId"] = json!(user_id);
    detail["configRuleName"] = json!(rule_name);
    detail["configRuleARN"] = json!(format!(
        "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-{rule_name}"
    ));
    for result in ["newEvaluationResult", "oldEvaluationResult"] {
        let identifier = &mut detail[result]["evaluationResultIdentifier"];
        identifier["evaluationResultQualifier"]["resourceId"] = json!(user_id);
        identifier["evaluationResultQualifier"]["configRuleName"] = json!(rule_name);
    }
    event
}
