//! The payloads in `events/` (played by `make demo` and the end-to-end tests) classify as their
//! names say, so that a sample cannot quietly stop exercising the branch it is named for.

use std::path::Path;

use super::*;
use crate::domain::rules::GENERATED_NAMES;
use crate::domain::rules::RulePattern;

/// What the intake makes of a sample, as its file name announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A user to remediate, through a Config rule (whatever the rule: the pipeline decides).
    ConfigRule,
    /// A Config rule under a name AWS generates for ACCESS_KEYS_ROTATED.
    GeneratedRuleName,
    SecurityHub(Control),
    AccessAnalyzer,
    Sweep,
    Ignored,
    Malformed,
}

/// The expectation a sample's name announces; `None` for a name no rule here covers, which
/// fails the test so that a new sample gets a rule.
fn expectation(name: &str) -> Option<Expect> {
    let expect = if name.starts_with("malformed-") {
        Expect::Malformed
    } else if name.starts_with("scheduled-sweep") {
        Expect::Sweep
    } else if name.starts_with("compliant-")
        || name.starts_with("non-user-")
        || name.contains("suppressed")
    {
        Expect::Ignored
    } else if name.starts_with("security-hub-iam3") {
        Expect::SecurityHub(Control::KeyRotation)
    } else if name.starts_with("security-hub-iam8") {
        Expect::SecurityHub(Control::UnusedCredentials)
    } else if name.starts_with("access-analyzer-") {
        Expect::AccessAnalyzer
    } else if name.starts_with("non-compliant-") && name.ends_with("-rule.json") {
        Expect::GeneratedRuleName
    } else if name.starts_with("non-compliant-") || name == "other-rule.json" {
        // Another rule's event is still work for the intake: only Config can say what the
        // rule is, so the pipeline ignores it.
        Expect::ConfigRule
    } else {
        return None;
    };
    Some(expect)
}

fn classified_as(work: &Result<Work, IntakeError>) -> Expect {
    match work {
        Err(IntakeError::Malformed { .. }) => Expect::Malformed,
        Ok(Work::Sweep { .. }) => Expect::Sweep,
        Ok(Work::Ignore { .. }) => Expect::Ignored,
        Ok(Work::Remediate(target)) => match &target.cause {
            Cause::ConfigRule { rule_name, .. } => {
                let generated = GENERATED_NAMES
                    .iter()
                    .any(|name| RulePattern::parse(name).unwrap().matches(rule_name));
                if generated && rule_name != "access-keys-rotated" {
                    Expect::GeneratedRuleName
                } else {
                    Expect::ConfigRule
                }
            }
            Cause::SecurityHub(finding) => Expect::SecurityHub(finding.control),
            Cause::AccessAnalyzer(_) => Expect::AccessAnalyzer,
        },
    }
}

#[test]
fn every_sample_event_classifies_as_its_name_says() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("events/ exists") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let expected = expectation(&name)
            .unwrap_or_else(|| panic!("{name}: no rule says what this sample should be"));
        let payload: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect(&name);
        let work = classify(payload);
        assert_eq!(classified_as(&work), expected, "{name}: {work:?}");
        seen.push(expected);
    }
    // The samples of each kind the issue asks for are there to be checked.
    for kind in [
        Expect::SecurityHub(Control::KeyRotation),
        Expect::SecurityHub(Control::UnusedCredentials),
        Expect::AccessAnalyzer,
        Expect::Ignored,
        Expect::Malformed,
        Expect::Sweep,
        Expect::ConfigRule,
    ] {
        assert!(seen.contains(&kind), "no sample of {kind:?}: {seen:?}");
    }
    let renamed = seen
        .iter()
        .filter(|e| **e == Expect::GeneratedRuleName)
        .count();
    assert!(
        renamed >= 3,
        "{renamed} renamed-rule samples, one per kind expected"
    );
}

#[test]
fn the_suppressed_sample_is_ignored_as_the_security_teams_exemption() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/security-hub-suppressed.json");
    let payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let reason = ignored(payload, "suppressed sample", Some("123456789012"));
    assert!(reason.contains("SUPPRESSED"), "{reason:?}");
}
