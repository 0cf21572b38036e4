//! Tables: how rule-name patterns match, and which rules' events are acted on and why.

use super::*;

fn pattern(text: &str) -> RulePattern {
    RulePattern::parse(text).unwrap()
}

fn patterns(texts: &[&str]) -> Vec<RulePattern> {
    texts.iter().map(|text| pattern(text)).collect()
}

fn managed(max_access_key_age: Option<u32>) -> RuleSource {
    RuleSource {
        owner: "AWS".into(),
        identifier: ACCESS_KEYS_ROTATED.into(),
        max_access_key_age,
    }
}

fn custom() -> RuleSource {
    RuleSource {
        owner: "CUSTOM_LAMBDA".into(),
        identifier: "arn:aws:lambda:us-east-1:123456789012:function:key-age-check".into(),
        max_access_key_age: None,
    }
}

/// One name under each pattern AWS generates for the managed rule.
const GENERATED: [&str; 4] = [
    "access-keys-rotated",
    "securityhub-access-keys-rotated-a1b2c3",
    "OrgConfigRule-access-keys-rotated-x7y8z9",
    "access-keys-rotated-conformance-pack-q1w2e3r4",
];

#[test]
fn wildcards_match_any_run_of_characters_and_nothing_else_matches_partially() {
    let rows: &[(&str, &str, bool)] = &[
        // No wildcard: the whole name, exactly.
        ("access-keys-rotated", "access-keys-rotated", true),
        ("access-keys-rotated", "access-keys-rotated-2", false),
        ("access-keys-rotated", "my-access-keys-rotated", false),
        ("access-keys-rotated", "access-keys-rotate", false),
        ("access-keys-rotated", "Access-Keys-Rotated", false),
        // A trailing `*`: a prefix, the empty run included.
        ("securityhub-*", "securityhub-access-keys-rotated-a1", true),
        ("securityhub-*", "securityhub-", true),
        ("securityhub-*", "securityhub", false),
        ("securityhub-*", "x-securityhub-a1", false),
        // A leading `*`: a suffix.
        ("*-keys-rotated", "org-keys-rotated", true),
        ("*-keys-rotated", "-keys-rotated", true),
        ("*-keys-rotated", "org-keys-rotated-1", false),
        // A `*` in the middle: both ends anchored.
        ("key-*-check", "key-age-check", true),
        ("key-*-check", "key--check", true),
        ("key-*-check", "key-check", false),
        ("key-*-check", "key-age-check-2", false),
        // The prefix and the suffix may not share characters.
        ("ab*ba", "aba", false),
        ("ab*ba", "abba", true),
        // Several `*`, in order, each matching any run.
        ("a*b*c", "abc", true),
        ("a*b*c", "aXXbYYc", true),
        ("a*b*c", "acb", false),
        ("a*b*c", "ab", false),
        ("a*bc*c", "abcc", true),
        ("a*bc*c", "abc", false),
        ("*a*a*", "a", false),
        ("*a*a*", "xaya", true),
        (
            "OrgConfigRule-*access-keys-rotated*",
            "OrgConfigRule-access-keys-rotated",
            true,
        ),
        (
            "OrgConfigRule-*access-keys-rotated*",
            "OrgConfigRule-abc-access-keys-rotated-x7",
            true,
        ),
        (
            "OrgConfigRule-*access-keys-rotated*",
            "OrgConfigRule-access-keys",
            false,
        ),
        // `*` alone, or repeated, matches every name.
        ("*", "anything-at-all", true),
        ("**", "x", true),
    ];
    for (text, name, matches) in rows {
        assert_eq!(
            pattern(text).matches(name),
            *matches,
            "{text:?} against {name:?}"
        );
    }
}

#[test]
fn a_pattern_must_be_a_config_rule_name_with_wildcards() {
    for good in ["*", "Org_Rule-1*", &"a".repeat(128)] {
        assert_eq!(pattern(good).to_string(), good);
    }
    for bad in [
        "",
        &"a".repeat(129),
        "access keys rotated",
        "rule/1",
        "rule.1",
        "rule?",
        "règle",
        " access-keys-rotated",
    ] {
        let error = RulePattern::parse(bad).expect_err(bad);
        assert!(error.contains(&format!("{bad:?}")), "{error}");
    }
}

#[test]
fn the_generated_names_are_valid_patterns_matching_each_sample_name() {
    for (generated, name) in GENERATED_NAMES.iter().zip(GENERATED) {
        assert!(pattern(generated).matches(name), "{generated} vs {name}");
    }
}

/// A row of `recognise`: the rule, what Config says of it, RULE_NAMES, and the outcome.
struct Row {
    case: &'static str,
    rule_name: &'static str,
    lookup: RuleLookup,
    allowed: &'static [&'static str],
    acts: bool,
    /// A part of the reason that says which branch decided.
    because: &'static str,
}

fn rows() -> Vec<Row> {
    let managed = RuleLookup::Described(managed(Some(90)));
    let custom = RuleLookup::Described(custom());
    let other_managed = RuleLookup::Described(RuleSource {
        owner: "AWS".into(),
        identifier: "IAM_USER_UNUSED_CREDENTIALS_CHECK".into(),
        max_access_key_age: None,
    });
    let mut rows: Vec<Row> = GENERATED
        .iter()
        .map(|name| Row {
            case: "the managed rule under a generated name",
            rule_name: name,
            lookup: managed.clone(),
            allowed: &[],
            acts: true,
            because: "is the AWS-managed rule ACCESS_KEYS_ROTATED",
        })
        .collect();
    rows.extend([
        Row {
            case: "the managed rule under a name of the customer's own",
            rule_name: "key-hygiene",
            lookup: managed.clone(),
            allowed: &[],
            acts: true,
            because: "is the AWS-managed rule ACCESS_KEYS_ROTATED",
        },
        Row {
            case: "a custom rule RULE_NAMES lists",
            rule_name: "key-hygiene",
            lookup: custom.clone(),
            allowed: &["other-rule", "key-*"],
            acts: true,
            because: "matches RULE_NAMES entry",
        },
        Row {
            case: "a custom rule RULE_NAMES does not list",
            rule_name: "key-hygiene",
            lookup: custom.clone(),
            allowed: &["other-rule"],
            acts: false,
            because: "RULE_NAMES does not list it",
        },
        Row {
            case: "a custom rule under the managed rule's name: the source decides, not the name",
            rule_name: "access-keys-rotated",
            lookup: custom.clone(),
            allowed: &[],
            acts: false,
            because: "is CUSTOM_LAMBDA arn:aws:lambda",
        },
        Row {
            case: "another AWS-managed rule",
            rule_name: "iam-user-unused-credentials-check",
            lookup: other_managed,
            allowed: &[],
            acts: false,
            because: "not the AWS-managed ACCESS_KEYS_ROTATED",
        },
    ]);
    for (lookup, unknown) in [
        (RuleLookup::NotFound, "Config no longer has the rule"),
        (RuleLookup::Unknown, "Config did not say what the rule is"),
    ] {
        rows.extend(GENERATED.iter().map(|name| Row {
            case: unknown,
            rule_name: name,
            lookup: lookup.clone(),
            allowed: &[],
            acts: true,
            because: "is a name AWS gives ACCESS_KEYS_ROTATED",
        }));
        rows.extend([
            Row {
                case: unknown,
                rule_name: "key-hygiene",
                lookup: lookup.clone(),
                allowed: &["key-hygiene"],
                acts: true,
                because: "matches RULE_NAMES entry",
            },
            Row {
                case: unknown,
                rule_name: "key-hygiene",
                lookup: lookup.clone(),
                allowed: &["other-*"],
                acts: false,
                because: "is neither a name AWS gives ACCESS_KEYS_ROTATED nor listed",
            },
        ]);
    }
    rows
}

#[test]
fn each_rule_is_acted_on_or_ignored_by_what_config_says_it_is() {
    for row in rows() {
        let recognition = recognise(row.rule_name, &row.lookup, &patterns(row.allowed));
        let (acts, reason) = match &recognition {
            Recognition::Act(reason) => (true, reason),
            Recognition::Ignore(reason) => (false, reason),
        };
        let what = format!("{} ({}, {:?})", row.case, row.rule_name, row.lookup);
        assert_eq!(acts, row.acts, "{what}: {reason}");
        assert!(reason.contains(row.because), "{what}: {reason:?}");
        assert!(
            reason.contains(&format!("{:?}", row.rule_name)),
            "{what}: the reason names the rule: {reason:?}"
        );
        if let RuleLookup::NotFound | RuleLookup::Unknown = row.lookup {
            assert!(reason.starts_with(row.case), "{what}: {reason:?}");
        }
    }
}

#[test]
fn the_reason_names_the_rule_names_entry_that_matched_not_the_first_listed() {
    let allowed = patterns(&["other-rule", "key-*"]);
    for lookup in [RuleLookup::Described(custom()), RuleLookup::Unknown] {
        let Recognition::Act(reason) = recognise("key-hygiene", &lookup, &allowed) else {
            panic!("a listed rule is acted on");
        };
        assert!(
            reason.contains("\"key-*\"") && !reason.contains("other-rule"),
            "{reason}"
        );
    }
}

#[test]
fn an_age_limit_warning_is_due_only_when_the_managed_rule_disagrees() {
    assert_eq!(age_limit_mismatch("r", &managed(Some(90)), 90), None);
    assert_eq!(
        age_limit_mismatch("r", &managed(None), 90),
        None,
        "AWS's default is 90"
    );
    assert_eq!(age_limit_mismatch("r", &custom(), 30), None);

    let unset = age_limit_mismatch("r", &managed(None), 60).expect("90 is not 60");
    assert!(unset.contains("maxAccessKeyAge=90"), "{unset}");

    let stricter = age_limit_mismatch("key-rule", &managed(Some(45)), 90).expect("a warning");
    assert!(
        stricter.contains("\"key-rule\"")
            && stricter.contains("maxAccessKeyAge=45")
            && stricter.contains("MAX_KEY_AGE_DAYS=90")
            && stricter.contains("MAX_KEY_AGE_DAYS wins")
            && stricter.contains("left alone"),
        "{stricter}"
    );
    let laxer = age_limit_mismatch("key-rule", &managed(Some(120)), 90).expect("a warning");
    assert!(
        laxer.contains("maxAccessKeyAge=120") && laxer.contains("may be acted on by the sweep"),
        "{laxer}"
    );
}
