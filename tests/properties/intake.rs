//! Hostile payloads: arbitrary JSON, and each trigger's sample event in `events/` with one
//! field replaced or removed, go through the event intake. It must never panic, and must act
//! on a well-formed user (through the trigger the sample is of), ignore with a reason, or
//! refuse with an error naming a field. `PROPTEST_CASES` sets the count.

use std::sync::LazyLock;

use access_key_remediator::triggers::{Cause, IntakeError, UserRef, Work, classify};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Field names the intake looks for, so generated objects often get past the first checks.
const FIELDS: [&str; 27] = [
    "version",
    "detail-type",
    "source",
    "account",
    "detail",
    "resources",
    "resourceId",
    "resourceType",
    "configRuleName",
    "newEvaluationResult",
    "complianceType",
    "time",
    "evaluationMode",
    "findings",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Compliance",
    "Status",
    "RecordState",
    "Resources",
    "Type",
    "findingId",
    "findingType",
    "resource",
    "accountId",
];

/// Values that reach deeper branches: the strings the intake compares against.
fn interesting_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("aws.config".to_owned()),
        Just("aws.events".to_owned()),
        Just("aws.securityhub".to_owned()),
        Just("aws.access-analyzer".to_owned()),
        Just("Config Rules Compliance Change".to_owned()),
        Just("Scheduled Event".to_owned()),
        Just("Security Hub Findings - Imported".to_owned()),
        Just("Unused Access Finding for IAM entities".to_owned()),
        Just("access-keys-rotated".to_owned()),
        Just("AWS::IAM::User".to_owned()),
        Just("NON_COMPLIANT".to_owned()),
        Just("FAILED".to_owned()),
        Just("ACTIVE".to_owned()),
        Just("NEW".to_owned()),
        Just("SUPPRESSED".to_owned()),
        Just("IAM.3".to_owned()),
        Just("security-control/IAM.8".to_owned()),
        Just("AwsIamUser".to_owned()),
        Just("UnusedIAMUserAccessKey".to_owned()),
        Just("123456789012".to_owned()),
        Just("arn:aws:iam::123456789012:user/a/b".to_owned()),
        Just("arn:aws:iam::123456789012:user/".to_owned()),
        Just("arn:aws:access-analyzer:us-east-1:123456789012:analyzer/x".to_owned()),
        Just("AIDAZ4ALICEEXAMPLE001".to_owned()),
        ".{0,40}",
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        interesting_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(&FIELDS[..]).prop_map(str::to_owned),
                        ".{0,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn sample(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

static CONFIG_EVENT: LazyLock<Value> = LazyLock::new(|| sample("non-compliant-alice.json"));
static SECURITY_HUB_EVENT: LazyLock<Value> = LazyLock::new(|| sample("security-hub-iam3.json"));
static ACCESS_ANALYZER_EVENT: LazyLock<Value> =
    LazyLock::new(|| sample("access-analyzer-unused-key.json"));

/// Which trigger a sample is of, and so which cause acting on it may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    ConfigRule,
    SecurityHub,
    AccessAnalyzer,
}

impl Trigger {
    fn sample(self) -> &'static Value {
        match self {
            Trigger::ConfigRule => &CONFIG_EVENT,
            Trigger::SecurityHub => &SECURITY_HUB_EVENT,
            Trigger::AccessAnalyzer => &ACCESS_ANALYZER_EVENT,
        }
    }

    /// Pointers to every field of the sample that the intake reads.
    fn pointers(self) -> &'static [&'static str] {
        match self {
            Trigger::ConfigRule => &[
                "",
                "/source",
                "/detail-type",
                "/account",
                "/detail",
                "/detail/resourceId",
                "/detail/resourceType",
                "/detail/configRuleName",
                "/detail/configRuleARN",
                "/detail/newEvaluationResult/complianceType",
            ],
            Trigger::SecurityHub => &[
                "",
                "/source",
                "/detail-type",
                "/account",
                "/detail",
                "/detail/findings",
                "/detail/findings/0",
                "/detail/findings/0/Id",
                "/detail/findings/0/ProductArn",
                "/detail/findings/0/GeneratorId",
                "/detail/findings/0/AwsAccountId",
                "/detail/findings/0/Compliance",
                "/detail/findings/0/Compliance/Status",
                "/detail/findings/0/Compliance/SecurityControlId",
                "/detail/findings/0/RecordState",
                "/detail/findings/0/Workflow",
                "/detail/findings/0/Workflow/Status",
                "/detail/findings/0/Resources",
                "/detail/findings/0/Resources/0",
                "/detail/findings/0/Resources/0/Type",
                "/detail/findings/0/Resources/0/Id",
                "/detail/findings/0/Resources/0/Details",
                "/detail/findings/0/Resources/0/Details/AwsIamUser",
                "/detail/findings/0/Resources/0/Details/AwsIamUser/UserName",
                "/detail/findings/0/Resources/0/Details/AwsIamUser/UserId",
            ],
            Trigger::AccessAnalyzer => &[
                "",
                "/source",
                "/detail-type",
                "/account",
                "/resources",
                "/resources/0",
                "/detail",
                "/detail/findingId",
                "/detail/findingType",
                "/detail/status",
                "/detail/resource",
                "/detail/accountId",
                "/detail/isDeleted",
            ],
        }
    }

    fn caused(self, cause: &Cause) -> bool {
        matches!(
            (self, cause),
            (Trigger::ConfigRule, Cause::ConfigRule { .. })
                | (Trigger::SecurityHub, Cause::SecurityHub(_))
                | (Trigger::AccessAnalyzer, Cause::AccessAnalyzer(_))
        )
    }
}

/// The sample with the field at `pointer` replaced by `replacement`, or removed.
fn mutate(mut event: Value, pointer: &str, replacement: Option<Value>) -> Value {
    match (pointer, replacement) {
        ("", Some(value)) => value,
        ("", None) => Value::Null,
        (pointer, Some(value)) => {
            *event.pointer_mut(pointer).expect("the sample has it") = value;
            event
        }
        (pointer, None) => {
            let (parent, field) = pointer.rsplit_once('/').expect("a JSON pointer");
            match event.pointer_mut(parent).expect("the sample has it") {
                Value::Object(object) => {
                    object.remove(field);
                }
                Value::Array(items) => {
                    items.remove(field.parse::<usize>().expect("an index"));
                }
                other => panic!("{parent} is {other}, neither object nor array"),
            }
            event
        }
    }
}

/// A trigger's sample with one field replaced by arbitrary JSON, or removed.
fn mutated(trigger: Trigger) -> impl Strategy<Value = Value> {
    (
        prop::sample::select(trigger.pointers()),
        prop::option::of(any_json()),
    )
        .prop_map(move |(pointer, replacement)| {
            mutate(trigger.sample().clone(), pointer, replacement)
        })
}

fn assert_well_behaved(payload: Value, trigger: Option<Trigger>) -> Result<(), TestCaseError> {
    match classify(payload) {
        Ok(Work::Remediate(target)) => {
            match &target.user {
                UserRef::Id(user_id) => {
                    let user_id = user_id.as_str();
                    prop_assert!(!user_id.is_empty());
                    prop_assert!(user_id.bytes().all(|b| b.is_ascii_alphanumeric()));
                }
                UserRef::Name { user_name, .. } => {
                    prop_assert!(!user_name.is_empty());
                    prop_assert!(!user_name.contains('/'), "a path in {user_name:?}");
                }
            }
            if let Some(trigger) = trigger {
                prop_assert!(
                    trigger.caused(&target.cause),
                    "a {trigger:?} sample acted on as {:?}",
                    target.cause
                );
            }
        }
        Ok(Work::Ignore { reason, .. }) => prop_assert!(!reason.is_empty()),
        Ok(Work::Sweep { .. }) => prop_assert!(trigger.is_none(), "a sample swept"),
        Err(IntakeError::Malformed { path, message }) => {
            prop_assert!(!path.is_empty(), "an error must name a field: {message}");
            prop_assert!(!message.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics_the_intake(payload in any_json()) {
        assert_well_behaved(payload, None)?;
    }

    #[test]
    fn a_real_event_with_one_field_broken_is_acted_on_ignored_or_refused_by_name(
        payload in mutated(Trigger::ConfigRule)
    ) {
        assert_well_behaved(payload, Some(Trigger::ConfigRule))?;
    }

    #[test]
    fn a_security_hub_finding_with_one_field_broken_is_acted_on_ignored_or_refused_by_name(
        payload in mutated(Trigger::SecurityHub)
    ) {
        assert_well_behaved(payload, Some(Trigger::SecurityHub))?;
    }

    #[test]
    fn an_access_analyzer_finding_with_one_field_broken_is_acted_on_ignored_or_refused_by_name(
        payload in mutated(Trigger::AccessAnalyzer)
    ) {
        assert_well_behaved(payload, Some(Trigger::AccessAnalyzer))?;
    }
}

/// The samples the mutations start from are acted on as they are, so that a mutation is what
/// sends a case down another branch.
#[test]
fn the_unbroken_samples_are_acted_on_by_their_trigger() {
    for trigger in [
        Trigger::ConfigRule,
        Trigger::SecurityHub,
        Trigger::AccessAnalyzer,
    ] {
        match classify(trigger.sample().clone()) {
            Ok(Work::Remediate(target)) => assert!(trigger.caused(&target.cause), "{trigger:?}"),
            other => panic!("{trigger:?} sample: expected Remediate, got {other:?}"),
        }
        for pointer in trigger.pointers() {
            assert!(
                trigger.sample().pointer(pointer).is_some(),
                "{trigger:?} sample has no {pointer}"
            );
        }
    }
    assert!(matches!(
        classify(json!({"detail": {}})),
        Err(IntakeError::Malformed { .. })
    ));
}

/// The account decides whose credentials act on an event, so a compliance change that names
/// none is refused by name, never acted on in the function's own account.
#[test]
fn a_compliance_change_without_an_account_is_refused_by_name() {
    let event = mutate(CONFIG_EVENT.clone(), "/account", None);
    match classify(event) {
        Err(IntakeError::Malformed { path, .. }) => assert_eq!(path, "account"),
        other => panic!("expected a malformed event, got {other:?}"),
    }
    let null_account = mutate(CONFIG_EVENT.clone(), "/account", Some(Value::Null));
    assert!(matches!(
        classify(null_account),
        Err(IntakeError::Malformed { path, .. }) if path == "account"
    ));
}
