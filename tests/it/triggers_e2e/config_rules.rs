//! The Config trigger: the rule is known by what DescribeConfigRules says it is, the
//! AWS-managed ACCESS_KEYS_ROTATED under any name; RULE_NAMES lists custom rules; when Config
//! will not say, the names AWS generates decide.

use access_key_remediator::domain::rules::RulePattern;
use access_key_remediator::report::{Action, Outcome, SourceKind};
use access_key_remediator::settings::Settings;
use serde_json::json;

use super::{actions, call_map, calls_between, run};
use crate::support::triggers::rule_event;
use crate::support::{Emulator, fixture, writes};

/// The three names AWS generates for the managed rule, each as its sample event has it.
const GENERATED: [(&str, &str); 3] = [
    (
        "non-compliant-securityhub-rule.json",
        "securityhub-access-keys-rotated-a1b2c3",
    ),
    (
        "non-compliant-org-rule.json",
        "OrgConfigRule-access-keys-rotated-x7y8z9",
    ),
    (
        "non-compliant-conformance-pack-rule.json",
        "access-keys-rotated-conformance-pack-q1w2e3r4",
    ),
];

/// The user the sample events name (events/non-compliant-alice.json), with an over-age key
/// and a young one.
fn seed_alice(aws: &mut Emulator) -> (String, String) {
    let alice = aws
        .seed(json!([{ "name": "alice", "path": "/engineering/", "userId": "AIDAZ4ALICEEXAMPLE001",
            "keys": [{ "ageDays": 120, "lastUsedDaysAgo": 2 }, { "ageDays": 10, "lastUsedDaysAgo": 1 }] }]))
        .remove("alice")
        .unwrap();
    (alice.keys[0].clone(), alice.keys[1].clone())
}

#[tokio::test]
async fn the_managed_rule_under_each_generated_name_is_acted_on_with_default_settings() {
    let mut aws = Emulator::start();
    for (sample, rule_name) in GENERATED {
        aws.reset();
        let (old, young) = seed_alice(&mut aws);
        aws.managed_rule(rule_name, None);
        let remediator = aws.remediator(Settings::default());

        let report = run(&remediator, fixture(sample)).await.unwrap();

        assert_eq!(
            actions(&report),
            [(old.clone(), Action::Deactivated), (young, Action::Kept)].into(),
            "{rule_name}"
        );
        assert_eq!(aws.key_states("alice").await[&old], "Inactive");
        let source = report.source.expect("the report names the rule");
        assert_eq!(source.kind, SourceKind::ConfigRule);
        assert_eq!(source.id, rule_name);
        assert_eq!(source.subject.as_deref(), Some("ACCESS_KEYS_ROTATED"));
        assert!(
            source.recognised.unwrap().contains("AWS-managed"),
            "{rule_name}"
        );
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        // One event's cost: the rule, the user by its UserId, the user's keys, last uses and
        // tags, and the two writes (deactivate, record the grace clock).
        assert_eq!(
            report.api_calls,
            call_map(&[
                ("DescribeConfigRules", 1),
                ("GetAccessKeyLastUsed", 2),
                ("ListAccessKeys", 1),
                ("ListDiscoveredResources", 1),
                ("ListUserTags", 1),
                ("ListUsers", 1),
                ("TagUser", 1),
                ("UpdateAccessKey", 1),
            ]),
            "{rule_name}"
        );

        let again = run(&remediator, fixture(sample)).await.unwrap();
        assert_eq!(actions(&again)[&old], Action::Pending, "re-delivery");
        assert_eq!(writes(&again.api_calls), 0, "re-delivery writes nothing");
        assert!(!again.api_calls.contains_key("DescribeConfigRules"));
    }
}

#[tokio::test]
async fn the_managed_rule_under_a_name_of_its_own_is_acted_on_too() {
    let mut aws = Emulator::start();
    let (old, _) = seed_alice(&mut aws);
    aws.managed_rule("key-age-check", None);
    let remediator = aws.remediator(Settings::default());

    let report = run(
        &remediator,
        rule_event("key-age-check", "AIDAZ4ALICEEXAMPLE001"),
    )
    .await
    .unwrap();

    assert_eq!(actions(&report)[&old], Action::Deactivated);
    assert_eq!(aws.key_states("alice").await[&old], "Inactive");
}

#[tokio::test]
async fn a_custom_rule_is_ignored_with_a_reason_unless_rule_names_lists_it() {
    let mut aws = Emulator::start();
    let (old, _) = seed_alice(&mut aws);
    aws.custom_rule("my-key-rule");
    let event = rule_event("my-key-rule", "AIDAZ4ALICEEXAMPLE001");
    let before = aws.calls();

    let ignored = run(&aws.remediator(Settings::default()), event.clone())
        .await
        .unwrap();

    assert_eq!(ignored.outcome, Outcome::Ignored);
    let reason = ignored.reason.clone().unwrap();
    assert!(
        reason.contains("CUSTOM_LAMBDA") && reason.contains("RULE_NAMES"),
        "{reason}"
    );
    assert_eq!(
        calls_between(&before, &aws.calls()),
        call_map(&[("DescribeConfigRules", 1)]),
        "only the question what the rule is"
    );
    assert_eq!(aws.key_states("alice").await[&old], "Active");

    let listed = Settings {
        rule_names: vec![RulePattern::parse("my-*").unwrap()],
        ..Settings::default()
    };
    let report = run(&aws.remediator(listed), event).await.unwrap();

    assert_eq!(actions(&report)[&old], Action::Deactivated);
    let recognised = report.source.unwrap().recognised.unwrap();
    assert!(recognised.contains("\"my-*\""), "{recognised}");
}

#[tokio::test]
async fn when_describe_config_rules_is_denied_generated_names_act_and_other_names_are_ignored() {
    let mut aws = Emulator::start();
    let (old, _) = seed_alice(&mut aws);
    // Both are the managed rule, but Config will not say so.
    aws.managed_rule("securityhub-access-keys-rotated-a1b2c3", None);
    aws.managed_rule("key-age-check", None);
    aws.deny("DescribeConfigRules", 2);
    let remediator = aws.remediator(Settings::default());
    let before = aws.calls();

    let ignored = run(
        &remediator,
        rule_event("key-age-check", "AIDAZ4ALICEEXAMPLE001"),
    )
    .await
    .unwrap();

    assert_eq!(ignored.outcome, Outcome::Ignored);
    let reason = ignored.reason.unwrap();
    assert!(reason.contains("Config did not say"), "{reason}");
    assert_eq!(
        calls_between(&before, &aws.calls()),
        call_map(&[("DescribeConfigRules", 1)])
    );
    assert_eq!(aws.key_states("alice").await[&old], "Active");

    let report = run(&remediator, fixture("non-compliant-securityhub-rule.json"))
        .await
        .unwrap();

    assert_eq!(actions(&report)[&old], Action::Deactivated);
    let recognised = report.source.unwrap().recognised.unwrap();
    assert!(
        recognised.contains("Config did not say") && recognised.contains("a name AWS gives"),
        "{recognised}"
    );

    // A denial is not remembered: once Config answers, the rule is known by what it is.
    let later = run(
        &remediator,
        rule_event("key-age-check", "AIDAZ4ALICEEXAMPLE001"),
    )
    .await
    .unwrap();
    assert_eq!(later.api_calls["DescribeConfigRules"], 1);
    assert_eq!(later.outcome, Outcome::Remediated);
    let recognised = later.source.unwrap().recognised.unwrap();
    assert!(recognised.contains("AWS-managed"), "{recognised}");
}

#[tokio::test]
async fn a_differing_max_access_key_age_warns_once_per_container_and_ours_decides() {
    let mut aws = Emulator::start();
    let seeded = aws.seed(json!([
        { "name": "ann", "keys": [{ "ageDays": 120, "lastUsedDaysAgo": 1 }] },
        { "name": "ben", "keys": [{ "ageDays": 70, "lastUsedDaysAgo": 1 }] },
    ]));
    let rule = "securityhub-access-keys-rotated-a1b2c3";
    aws.managed_rule(rule, Some(60));
    let remediator = aws.remediator(Settings::default());

    let first = run(&remediator, rule_event(rule, &seeded["ann"].user_id))
        .await
        .unwrap();
    let second = run(&remediator, rule_event(rule, &seeded["ben"].user_id))
        .await
        .unwrap();

    assert_eq!(first.warnings.len(), 1, "{:?}", first.warnings);
    let warning = &first.warnings[0];
    assert!(
        warning.contains("60") && warning.contains("MAX_KEY_AGE_DAYS") && warning.contains("90"),
        "{warning}"
    );
    assert!(second.warnings.is_empty(), "{:?}", second.warnings);
    assert_eq!(actions(&first)[&seeded["ann"].keys[0]], Action::Deactivated);
    assert_eq!(
        actions(&second)[&seeded["ben"].keys[0]],
        Action::Kept,
        "MAX_KEY_AGE_DAYS=90 decides, not the rule's 60"
    );
    assert_eq!(aws.calls()["DescribeConfigRules"], 1, "asked once per rule");
    assert!(!second.api_calls.contains_key("DescribeConfigRules"));
}
