//! A compliance-change event is acted on when its rule is the AWS-managed ACCESS_KEYS_ROTATED
//! whatever its name, or a custom rule RULE_NAMES lists; when Config cannot say what the rule
//! is, the names AWS generates for it (and RULE_NAMES) decide. One DescribeConfigRules per rule
//! per container; a failed one is asked again.

use access_key_remediator::domain::policy::Mode;
use access_key_remediator::domain::rules::{RuleLookup, RulePattern, RuleSource};
use access_key_remediator::report::{Outcome, SourceKind};
use access_key_remediator::settings::Settings;

use super::{
    Account, Fakes, OLD_KEY, calls, deactivation_of, over_age_active, rule_event, settings,
};

const SECURITY_HUB_NAME: &str = "securityhub-access-keys-rotated-3f9c1a";
const ORG_NAME: &str = "OrgConfigRule-access-keys-rotated-x7k2pq";
const CONFORMANCE_PACK_NAME: &str = "access-keys-rotated-conformance-pack-k3j9d8s1x";
const CUSTOM: &str = "key-rotation-check";
const CUSTOM_LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:rotate-check";

fn custom_rule() -> RuleLookup {
    RuleLookup::Described(RuleSource {
        owner: "CUSTOM_LAMBDA".to_owned(),
        identifier: CUSTOM_LAMBDA.to_owned(),
        max_access_key_age: None,
    })
}

fn listing(patterns: &[&str]) -> Settings {
    Settings {
        rule_names: patterns
            .iter()
            .map(|p| RulePattern::parse(p).expect("a valid pattern"))
            .collect(),
        ..Settings::default()
    }
}

/// What DescribeConfigRules answers for the event's rule.
#[derive(Debug, Clone)]
enum Lookup {
    Managed,
    Answer(RuleLookup),
}

/// One row: the event's rule, what Config says it is, RULE_NAMES, and what comes of it: the
/// source's subject when acted on (`""`: Config could not say), and a part of the reason.
struct Case {
    rule: &'static str,
    lookup: Lookup,
    listed: &'static [&'static str],
    acted: Option<&'static str>,
    reason: &'static str,
}

const MANAGED: &str = "ACCESS_KEYS_ROTATED";
const BY_NAME: &str = "";

// Parts of the reasons.
const IS_MANAGED: &str = "is the AWS-managed rule ACCESS_KEYS_ROTATED";
const LISTED: &str = "matches RULE_NAMES entry";
const NOT_LISTED: &str = "not the AWS-managed ACCESS_KEYS_ROTATED, and RULE_NAMES does not list it";
const GONE: &str = "Config no longer has the rule";
const UNSAID: &str = "Config did not say what the rule is";
const NEITHER: &str = "neither a name AWS gives";

fn acts(
    rule: &'static str,
    lookup: Lookup,
    listed: &'static [&'static str],
    subject: &'static str,
    reason: &'static str,
) -> Case {
    Case {
        rule,
        lookup,
        listed,
        acted: Some(subject),
        reason,
    }
}

fn ignores(
    rule: &'static str,
    lookup: Lookup,
    listed: &'static [&'static str],
    reason: &'static str,
) -> Case {
    Case {
        rule,
        lookup,
        listed,
        acted: None,
        reason,
    }
}

#[tokio::test]
async fn a_rule_is_recognised_by_what_it_is_and_by_name_only_when_config_cannot_say() {
    use Lookup::{Answer, Managed};
    let not_found = || Answer(RuleLookup::NotFound);
    let unknown = || Answer(RuleLookup::Unknown);
    let custom = || Answer(custom_rule());
    let listed = &["key-rotation-*"];
    let cases = [
        acts("access-keys-rotated", Managed, &[], MANAGED, IS_MANAGED),
        acts(SECURITY_HUB_NAME, Managed, &[], MANAGED, IS_MANAGED),
        acts(ORG_NAME, Managed, &[], MANAGED, IS_MANAGED),
        acts(CONFORMANCE_PACK_NAME, Managed, &[], MANAGED, IS_MANAGED),
        acts("team-key-age-90d", Managed, &[], MANAGED, IS_MANAGED),
        acts(CUSTOM, custom(), listed, CUSTOM_LAMBDA, LISTED),
        ignores(CUSTOM, custom(), &[], NOT_LISTED),
        // What Config says the rule is outweighs a name that looks like AWS's.
        ignores(SECURITY_HUB_NAME, custom(), &[], NOT_LISTED),
        acts(SECURITY_HUB_NAME, not_found(), &[], BY_NAME, GONE),
        ignores("iam-user-mfa-enabled", not_found(), &[], NEITHER),
        acts(ORG_NAME, unknown(), &[], BY_NAME, UNSAID),
        acts(CUSTOM, unknown(), listed, BY_NAME, LISTED),
        ignores(CUSTOM, unknown(), &[], NEITHER),
    ];
    for Case {
        rule: rule_name,
        lookup,
        listed,
        acted,
        reason,
    } in cases
    {
        let case = format!("{rule_name} {lookup:?} RULE_NAMES={listed:?}");
        let fakes = Fakes::seeded(over_age_active).rules(|rules| match lookup {
            Managed => rules.with_managed_rule(rule_name, None),
            Answer(answer) => rules.with_rule(rule_name, answer),
        });
        let account = Account::new(listing(listed), fakes);

        let report = account
            .invoke(rule_event(rule_name))
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));

        let source = report.source.as_ref().expect("the report names its rule");
        assert_eq!(source.kind, SourceKind::ConfigRule, "{case}");
        assert_eq!(source.id, rule_name, "{case}");
        let why = source.recognised.as_deref().unwrap_or_default();
        assert!(why.contains(reason), "{case}: {why}");
        assert_eq!(account.calls_of("DescribeConfigRules"), 1, "{case}");
        match acted {
            Some(subject) => {
                assert_eq!(report.outcome, Outcome::Remediated, "{case}");
                let described = source.subject.as_deref().unwrap_or_default();
                assert_eq!(described, subject, "{case}");
                assert_eq!(account.home.writes(), deactivation_of(OLD_KEY), "{case}");
            }
            None => {
                assert_eq!(report.outcome, Outcome::Ignored, "{case}");
                assert_eq!(report.reason.as_deref(), Some(why), "{case}");
                assert_eq!(
                    report.api_calls,
                    calls(&[("DescribeConfigRules", 1)]),
                    "{case}: no IAM call"
                );
                assert_eq!(account.home.writes(), Vec::<String>::new(), "{case}");
            }
        }
    }
}

#[tokio::test]
async fn each_rule_is_described_once_per_container() {
    let fakes = Fakes::seeded(over_age_active).rules(|rules| {
        rules
            .with_managed_rule(SECURITY_HUB_NAME, None)
            .with_managed_rule(ORG_NAME, None)
    });
    let account = Account::new(Settings::default(), fakes);

    let first = account.invoke(rule_event(SECURITY_HUB_NAME)).await.unwrap();
    let again = account.invoke(rule_event(SECURITY_HUB_NAME)).await.unwrap();
    assert_eq!(first.api_calls.get("DescribeConfigRules"), Some(&1));
    assert_eq!(again.api_calls.get("DescribeConfigRules"), None);
    assert_eq!(again.outcome, Outcome::Remediated, "the cached answer acts");
    assert_eq!(account.calls_of("DescribeConfigRules"), 1);

    let other = account.invoke(rule_event(ORG_NAME)).await.unwrap();
    assert_eq!(
        other.api_calls.get("DescribeConfigRules"),
        Some(&1),
        "another rule"
    );
    assert_eq!(account.calls_of("DescribeConfigRules"), 2);
}

/// Denied or failed is not an answer about the rule: the next event asks again.
#[tokio::test]
async fn a_failed_description_is_asked_again_by_the_next_event() {
    let fakes = Fakes::seeded(over_age_active)
        .rules(|rules| rules.with_rule(SECURITY_HUB_NAME, RuleLookup::Unknown));
    let account = Account::new(Settings::default(), fakes);

    for delivery in 1..=2 {
        let report = account.invoke(rule_event(SECURITY_HUB_NAME)).await.unwrap();
        assert_eq!(
            report.outcome,
            Outcome::Remediated,
            "#{delivery}: by its name"
        );
        assert_eq!(
            report.api_calls.get("DescribeConfigRules"),
            Some(&1),
            "#{delivery}"
        );
    }
    assert_eq!(account.calls_of("DescribeConfigRules"), 2);
}

#[tokio::test]
async fn a_differing_max_access_key_age_is_warned_of_once_per_container() {
    let fakes = Fakes::seeded(over_age_active)
        .rules(|rules| rules.with_managed_rule(SECURITY_HUB_NAME, Some(60)));
    let account = Account::new(settings(Mode::Delete, None), fakes);

    let first = account.invoke(rule_event(SECURITY_HUB_NAME)).await.unwrap();
    let again = account.invoke(rule_event(SECURITY_HUB_NAME)).await.unwrap();

    let [warning] = first.warnings.as_slice() else {
        panic!("one warning in the first report: {:?}", first.warnings);
    };
    for says in [
        SECURITY_HUB_NAME,
        "maxAccessKeyAge=60",
        "MAX_KEY_AGE_DAYS=90",
        "MAX_KEY_AGE_DAYS wins",
    ] {
        assert!(warning.contains(says), "{says:?} in {warning}");
    }
    assert_eq!(
        again.warnings,
        Vec::<String>::new(),
        "only the first report"
    );
    assert_eq!(
        first.outcome,
        Outcome::Remediated,
        "a warning, not a refusal"
    );
}

#[tokio::test]
async fn a_max_access_key_age_equal_to_ours_or_the_default_is_no_warning() {
    for max_age in [Some(90), None] {
        let fakes = Fakes::seeded(over_age_active)
            .rules(|rules| rules.with_managed_rule(SECURITY_HUB_NAME, max_age));
        let account = Account::new(Settings::default(), fakes);

        let report = account.invoke(rule_event(SECURITY_HUB_NAME)).await.unwrap();

        assert_eq!(report.warnings, Vec::<String>::new(), "{max_age:?}");
    }
}
