//! The Map's step: one account swept through the member role in the mode discovery gave it,
//! lowered to the role's ceiling tag (the stack's mode when the role has none), with its own
//! MAX_ACTIONS_PER_INVOCATION budget; a compact answer whose counts are the full report's,
//! and a failure the state machine counts against its tolerance.

use access_key_remediator::aws::fake::{ErrorKind, FakeIam, Fault};
use access_key_remediator::domain::policy::Mode;
use serde_json::{Value, json};

use super::{
    Fakes, HOME, MEMBER_ROLE, Org, PROD_A, PROD_B, member_iam, org_settings, over_age_users, tree,
    with_cap, writes,
};

fn role_of(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/{MEMBER_ROLE}")
}

/// The central stack in `mode` over PROD_A, whose role carries `ceiling`.
fn over_member(mode: Mode, ceiling: Option<&str>) -> Org {
    let member = Fakes::of(member_iam(ceiling));
    let settings = org_settings(mode, |_| {});
    Org::with_accounts(settings, tree(), Fakes::default(), vec![(PROD_A, member)])
}

/// The answer, less its call count (checked on its own).
fn without_calls(mut answer: Value) -> Value {
    answer.as_object_mut().unwrap().remove("calls");
    answer
}

#[tokio::test]
async fn an_account_is_swept_through_its_member_role_in_the_mode_it_is_given() {
    // (mode asked, its actions on two over-age users and one past its grace period)
    let cases = [
        (
            "delete",
            json!({ "deactivated": 2, "deleted": 1 }),
            vec!["UpdateAccessKey", "DeleteAccessKey"],
        ),
        (
            "deactivate",
            json!({ "deactivated": 2, "pending": 1 }),
            vec!["UpdateAccessKey"],
        ),
        (
            "report",
            json!({ "would-deactivate": 2, "would-delete": 1 }),
            vec![],
        ),
    ];
    for (mode, actions, key_writes) in cases {
        let org = over_member(Mode::Delete, Some("delete"));

        let answer = org.sweep(PROD_A, mode).await.expect("the account is swept");

        assert_eq!(
            without_calls(answer),
            json!({
                "account": PROD_A,
                "mode": mode,
                "users": 3,
                "actions": actions,
                "deferredUsers": 0,
            }),
            "{mode}"
        );
        assert_eq!(*org.roles.lock().unwrap(), vec![role_of(PROD_A)], "{mode}");
        for operation in ["UpdateAccessKey", "DeleteAccessKey"] {
            let expected = u64::from(key_writes.contains(&operation));
            let made = org.calls_of(operation).min(1);
            assert_eq!(made, expected, "{mode}: {operation}");
        }
        assert!(org.home.iam.writes().is_empty(), "{mode}: nothing at home");
        // Report mode asks nothing of the role: it writes nothing whatever the role permits.
        let ceiling_reads = u64::from(mode != "report");
        assert_eq!(org.calls_of("ListRoleTags"), ceiling_reads, "{mode}");
    }
}

#[tokio::test]
async fn the_roles_ceiling_lowers_the_mode_asked_for() {
    let org = over_member(Mode::Delete, Some("deactivate"));

    let answer = org.sweep(PROD_A, "delete").await.expect("swept");

    assert_eq!(answer["mode"], "deactivate");
    assert_eq!(answer["askedMode"], "delete");
    assert_eq!(answer["actions"], json!({ "deactivated": 2, "pending": 1 }));
    assert_eq!(org.calls_of("DeleteAccessKey"), 0);
    assert_eq!(org.calls_of("ListRoleTags"), 1);
    assert!(
        !writes(&org.member(PROD_A).iam)
            .iter()
            .any(|w| w.starts_with("delete")),
        "no key deleted"
    );

    // Asked for no more than the ceiling: no askedMode.
    let org = over_member(Mode::Delete, Some("deactivate"));
    let answer = org.sweep(PROD_A, "deactivate").await.expect("swept");
    assert_eq!(answer["mode"], "deactivate");
    assert_eq!(answer.get("askedMode"), None);
}

#[tokio::test]
async fn without_a_ceiling_tag_the_stacks_own_mode_is_the_ceiling() {
    // (the stack's mode, what the account runs in when asked for delete)
    for (stack, runs) in [(Mode::Deactivate, "deactivate"), (Mode::Delete, "delete")] {
        let org = over_member(stack, None);

        let answer = org.sweep(PROD_A, "delete").await.expect("swept");

        assert_eq!(answer["mode"], runs, "{stack:?}");
        let asked = (runs != "delete").then_some("delete");
        assert_eq!(answer["askedMode"].as_str(), asked, "{stack:?}");
        let deleted = u64::from(runs == "delete");
        assert_eq!(org.calls_of("DeleteAccessKey"), deleted, "{stack:?}");
        assert_eq!(org.calls_of("ListRoleTags"), 1, "{stack:?}");
    }
}

#[tokio::test]
async fn the_home_accounts_ceiling_is_the_stacks_mode_with_no_role_read() {
    let home = Fakes::of(member_iam(Some("delete")));
    let settings = org_settings(Mode::Deactivate, |_| {});
    let org = Org::with_accounts(settings, tree(), home, Vec::new());

    let answer = org.sweep(HOME, "delete").await.expect("swept");

    assert_eq!(answer["mode"], "deactivate");
    assert_eq!(answer["askedMode"], "delete");
    assert_eq!(org.calls_of("ListRoleTags"), 0);
    assert!(org.roles.lock().unwrap().is_empty(), "no member role");
    assert_eq!(org.calls_of("DeleteAccessKey"), 0);
    assert_eq!(org.calls_of("UpdateAccessKey"), 2);
}

#[tokio::test]
async fn report_mode_makes_no_iam_write() {
    let org = over_member(Mode::Delete, Some("delete"));

    let answer = org.sweep(PROD_A, "report").await.expect("swept");

    assert_eq!(answer["mode"], "report");
    assert!(writes(&org.member(PROD_A).iam).is_empty());
    for operation in crate::support::IAM_WRITES {
        assert_eq!(org.calls_of(operation), 0, "{operation}");
    }
    assert_eq!(org.calls_of("ListRoleTags"), 0);
}

#[tokio::test]
async fn each_account_spends_its_own_action_budget() {
    let member = || {
        let iam = FakeIam::new();
        over_age_users(&iam, 3);
        iam.add_role(MEMBER_ROLE);
        Fakes::of(iam)
    };
    let settings = with_cap(org_settings(Mode::Delete, |_| {}), 2);
    let members = vec![(PROD_A, member()), (PROD_B, member())];
    let org = Org::with_accounts(settings, tree(), Fakes::default(), members);

    for account in [PROD_A, PROD_B] {
        let answer = org.sweep(account, "deactivate").await.expect("swept");

        // Two deactivations reach the cap of 2; the third user's key waits.
        assert_eq!(
            answer["actions"],
            json!({ "deactivated": 2, "deferred": 1 }),
            "{account}"
        );
        let deactivated = writes(&org.member(account).iam);
        let deactivated = deactivated.iter().filter(|w| w.starts_with("deactivate"));
        assert_eq!(deactivated.count(), 2, "{account}");
    }
    assert_eq!(org.calls_of("UpdateAccessKey"), 4);
}

#[tokio::test]
async fn a_failed_read_fails_the_account_naming_it() {
    let org = over_member(Mode::Delete, Some("delete"));
    let member_iam = &org.member(PROD_A).iam;
    member_iam.fail(Fault::on("GetCredentialReport", ErrorKind::ServiceFailure));

    let error = org
        .sweep(PROD_A, "delete")
        .await
        .expect_err("the read fails");

    assert_eq!(error.error_type, "AccountSweepFailed");
    let message = &error.error_message;
    assert!(
        message.starts_with(&format!("account {PROD_A}: ")),
        "{message}"
    );
    assert!(message.contains("GetCredentialReport"), "{message}");
    assert!(member_iam.writes().is_empty());

    // The ceiling unread is as much a failure: nothing is done above what the role permits.
    let org = over_member(Mode::Delete, Some("delete"));
    let member_iam = &org.member(PROD_A).iam;
    let denied = Fault::on("ListRoleTags", ErrorKind::AccessDenied).for_user(MEMBER_ROLE);
    member_iam.fail(denied);
    let error = org.sweep(PROD_A, "delete").await.expect_err("no ceiling");
    assert_eq!(error.error_type, "AccountSweepFailed");
    let message = &error.error_message;
    assert!(
        message.starts_with(&format!("account {PROD_A}: ")),
        "{message}"
    );
    assert!(message.contains("ceiling"), "{message}");
    assert_eq!(org.calls_of("GenerateCredentialReport"), 0);
}

#[tokio::test]
async fn the_answers_counts_are_the_full_reports() {
    let org = over_member(Mode::Delete, Some("delete"));

    let answer = org.sweep(PROD_A, "delete").await.expect("swept");

    // The full report is logged, and its metric line printed, as for any sweep.
    let lines = org.metric_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["Account"], PROD_A);
    assert_eq!(line["Mode"], "delete");
    let actions = answer["actions"].as_object().unwrap();
    let metrics = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap();
    for metric in metrics {
        let name = metric["Name"].as_str().unwrap();
        let counted = line[name].as_u64().unwrap();
        let answered = actions.get(name).and_then(Value::as_u64);
        match answered {
            Some(answered) => assert_eq!(answered, counted, "{name}"),
            // Only non-zero counts are answered; the metric line has every one.
            None => assert_eq!(counted, 0, "{name}"),
        }
    }
    // Every call of the invocation is the account's.
    let made: u64 = org.calls.snapshot().values().sum();
    assert_eq!(answer["calls"], made);
    assert!(made > 0);
}

#[tokio::test]
async fn a_malformed_step_is_refused_naming_the_field_before_any_call() {
    let cases = [
        (
            json!({ "remediator": "sweep-account", "account": "2100", "mode": "delete" }),
            "account",
        ),
        (
            json!({ "remediator": "sweep-account", "account": PROD_A, "mode": "Delete" }),
            "mode",
        ),
        (
            json!({ "remediator": "sweep-account", "mode": "delete" }),
            "account",
        ),
        (json!({ "remediator": "sweep-everything" }), "remediator"),
    ];
    for (payload, field) in cases {
        let org = over_member(Mode::Delete, Some("delete"));

        let error = org.step(payload.clone()).await.expect_err("malformed");

        assert_eq!(error.error_type, "MalformedEvent", "{payload}");
        assert!(
            error.error_message.contains(field),
            "{payload}: {}",
            error.error_message
        );
        assert!(org.calls.snapshot().is_empty(), "{payload}");
    }
}
