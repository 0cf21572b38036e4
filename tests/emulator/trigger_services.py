"""The emulator's commands and seed entries for the services the triggers use besides IAM:
Config rules (config_rules.py), Security Hub findings and Access Analyzer (findings.py).
emulator.py documents each command and seed key; this module carries them out."""

import json

import config_rules
from findings import Findings

# What moto lacks of Security Hub and Access Analyzer, for the whole process.
FINDINGS = Findings()


def reset():
    config_rules.reset()
    FINDINGS.reset()


def handle(op, command):
    """One control command (see emulator.py), or ValueError when `op` is none of them."""
    if op == "config_rule":
        return put_config_rule(command)
    if op == "import_finding":
        return FINDINGS.import_finding(command["finding"], command.get("account"))
    if op == "security_hub_findings":
        return FINDINGS.security_hub_findings(command.get("account"))
    if op == "finding_updates":
        return FINDINGS.finding_updates()
    if op == "analyzer":
        return add_analyzer(command)
    if op == "analyzer_finding":
        return FINDINGS.add_analyzer_finding(command)
    raise ValueError(f"unknown op {op!r}")


def seed(spec, users):
    """A seed's Config rules, Security Hub findings, analyzers and analyzer findings, after its
    `users` (name -> {"userId", "keys"}), whose keys an analyzer finding may name by index."""
    for rule in spec.get("configRules", []):
        put_config_rule(rule)
    findings = list(spec.get("securityHubFindings", []))
    for path in spec.get("securityHubEvents", []):
        with open(path) as f:
            findings += json.load(f)["detail"]["findings"]
    for finding in findings:
        FINDINGS.import_finding(finding, spec.get("account"))
    for analyzer in spec.get("analyzers", []):
        add_analyzer(analyzer)
    for finding in spec.get("analyzerFindings", []):
        if "key" in finding:
            finding = {**finding, "accessKeyId": users[finding["userName"]]["keys"][finding["key"]]}
        FINDINGS.add_analyzer_finding(finding)


def put_config_rule(command):
    return config_rules.put_rule(command["name"], command.get("managed", True),
                                 command.get("maxAccessKeyAge"), command.get("account"))


def add_analyzer(command):
    return FINDINGS.add_analyzer(command["arn"], command.get("unusedAccessAge"),
                                 command.get("type", "ACCOUNT_UNUSED_ACCESS"))
