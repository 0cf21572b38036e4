//! Hostile payloads: arbitrary JSON, and real events with one field replaced or removed, go
//! through the event intake. It must never panic, and must either act on a well-formed IAM
//! UserId or refuse with an error naming a field. `PROPTEST_CASES` sets the count.

use access_key_remediator::settings::Settings;
use access_key_remediator::triggers::{IntakeError, Work, classify};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Field names the intake looks for, so generated objects often get past the first checks.
const FIELDS: [&str; 12] = [
    "version",
    "detail-type",
    "source",
    "account",
    "detail",
    "resourceId",
    "resourceType",
    "configRuleName",
    "newEvaluationResult",
    "complianceType",
    "time",
    "evaluationMode",
];

/// Values that reach deeper branches: the strings the intake compares against.
fn interesting_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("aws.config".to_owned()),
        Just("aws.events".to_owned()),
        Just("Config Rules Compliance Change".to_owned()),
        Just("Scheduled Event".to_owned()),
        Just("access-keys-rotated".to_owned()),
        Just("AWS::IAM::User".to_owned()),
        Just("NON_COMPLIANT".to_owned()),
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

fn real_event() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/non-compliant-alice.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Pointers to every field of the real event that the intake reads.
const POINTERS: [&str; 9] = [
    "",
    "/source",
    "/detail-type",
    "/account",
    "/detail",
    "/detail/resourceId",
    "/detail/resourceType",
    "/detail/configRuleName",
    "/detail/newEvaluationResult/complianceType",
];

/// A real event with one field replaced by arbitrary JSON, or removed.
fn mutated_event() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&POINTERS[..]),
        prop::option::of(any_json()),
    )
        .prop_map(|(pointer, replacement)| {
            let mut event = real_event();
            match (pointer, replacement) {
                ("", Some(value)) => value,
                ("", None) => Value::Null,
                (pointer, Some(value)) => {
                    *event.pointer_mut(pointer).unwrap() = value;
                    event
                }
                (pointer, None) => {
                    let (parent, field) = pointer.rsplit_once('/').unwrap();
                    event
                        .pointer_mut(parent)
                        .and_then(Value::as_object_mut)
                        .unwrap()
                        .remove(field);
                    event
                }
            }
        })
}

/// The Config rules acted on by default (`RULE_NAMES` unset).
fn rule_names() -> Vec<String> {
    Settings::default().rule_names
}

fn assert_well_behaved(payload: Value) -> Result<(), TestCaseError> {
    match classify(payload, &rule_names()) {
        Ok(Work::Remediate(target)) => {
            let user_id = target.user_id.as_str();
            prop_assert!(!user_id.is_empty());
            prop_assert!(user_id.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        Ok(Work::Ignore { reason, .. }) => prop_assert!(!reason.is_empty()),
        Ok(Work::Sweep { .. }) => {}
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
        assert_well_behaved(payload)?;
    }

    #[test]
    fn a_real_event_with_one_field_broken_is_acted_on_ignored_or_refused_by_name(payload in mutated_event()) {
        assert_well_behaved(payload)?;
    }
}

#[test]
fn the_unbroken_event_is_acted_on() {
    assert!(matches!(
        classify(real_event(), &rule_names()),
        Ok(Work::Remediate(_))
    ));
    assert!(matches!(
        classify(json!({"detail": {}}), &rule_names()),
        Err(IntakeError::Malformed { .. })
    ));
}

/// The account decides whose credentials act on an event, so a compliance change that names
/// none is refused by name, never acted on in the function's own account.
#[test]
fn a_compliance_change_without_an_account_is_refused_by_name() {
    let mut event = real_event();
    event.as_object_mut().unwrap().remove("account");
    match classify(event, &rule_names()) {
        Err(IntakeError::Malformed { path, .. }) => assert_eq!(path, "account"),
        other => panic!("expected a malformed event, got {other:?}"),
    }
    let mut null_account = real_event();
    null_account["account"] = Value::Null;
    assert!(matches!(
        classify(null_account, &rule_names()),
        Err(IntakeError::Malformed { path, .. }) if path == "account"
    ));
}
