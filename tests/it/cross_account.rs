//! Organisations: events and sweeps for member accounts, acted on through the member role
//! against moto with two accounts. moto keeps one IAM per account and routes each request by
//! its credentials, and its STS AssumeRole hands out credentials of the role's account, so
//! acting in the wrong account would show up in that account's state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use access_key_remediator::aws::accounts::HomeAccount;
use access_key_remediator::domain::ids::AccountId;
use access_key_remediator::handler::{HandlerError, handle};
use access_key_remediator::remediate::outcome::{Outcome, RemediationError};
use access_key_remediator::report::{Action, Report};
use access_key_remediator::settings::{MemberRole, Settings};
use access_key_remediator::startup::AwsRemediator;
use access_key_remediator::triggers;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

use crate::support::audit::{STATE_TAG, grace_clocks};
use crate::support::{Emulator, UserState, fixture, invocation};

const HOME: &str = "123456789012";
const MEMBER: &str = "210987654321";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:access-key-remediator";
const ROLE_NAME: &str = "AccessKeyRemediatorMember";

fn with_member_role() -> Settings {
    Settings {
        member_role: Some(MemberRole {
            name: ROLE_NAME.to_owned(),
            external_id: Some("org-7f3a".to_owned()),
        }),
        ..Settings::default()
    }
}

/// An invocation as Lambda makes it: the invoked ARN names the function's own account.
fn invoked_as_deployed(payload: Value) -> LambdaEvent<Value> {
    let mut event = invocation(payload);
    event.context.invoked_function_arn = FUNCTION_ARN.to_owned();
    event
}

/// The remediator with the member role, and the EMF lines it emits.
fn remediator_with_metrics(aws: &Emulator) -> (AwsRemediator, Arc<Mutex<Vec<String>>>) {
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&metrics);
    let remediator = aws
        .remediator(with_member_role())
        .with_metric_sink(Box::new(move |line| {
            sink.lock().unwrap().push(line.to_owned())
        }));
    (remediator, metrics)
}

fn metric_lines(metrics: &Mutex<Vec<String>>) -> Vec<Value> {
    metrics
        .lock()
        .unwrap()
        .iter()
        .map(|line| serde_json::from_str(line).expect("EMF is JSON"))
        .collect()
}

fn account_of(report: &Report) -> Option<&str> {
    report.account.as_ref().map(AccountId::as_str)
}

/// events/non-compliant-member-account.json: dave, in the member account.
fn member_event() -> Value {
    let event = fixture("non-compliant-member-account.json");
    assert_eq!(event["account"], MEMBER);
    event
}

fn account_state(aws: &mut Emulator, account: &str) -> BTreeMap<String, UserState> {
    aws.account_state_in(Some(account))
}

fn assumed_roles(aws: &mut Emulator, account: &str) -> Vec<Value> {
    aws.command(json!({ "op": "assumed_roles", "account": account }))["roles"]
        .as_array()
        .expect("roles")
        .clone()
}

/// The same over-age user in both accounts, with the same UserId: a function that acted in
/// its own account by mistake would find the home twin and deactivate its key.
fn seed_twins(aws: &mut Emulator) {
    let user_id = member_event()["detail"]["resourceId"].clone();
    let user = json!([{ "name": "dave", "userId": user_id, "keys": [{ "ageDays": 200 }] }]);
    aws.seed_in(Some(MEMBER), user.clone());
    aws.seed_in(Some(HOME), user);
}

fn key_statuses(state: &BTreeMap<String, UserState>, user: &str) -> Vec<String> {
    state[user].keys.values().cloned().collect()
}

/// How many grace clocks the user's tags record, all in the one state tag.
fn marker_count(state: &BTreeMap<String, UserState>, user: &str) -> usize {
    let tags = &state[user].tags;
    let clocks = grace_clocks(tags);
    assert!(
        clocks.is_empty() || tags.contains_key(STATE_TAG),
        "{user}'s clocks are not in the state tag: {tags:?}"
    );
    clocks.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_from_a_member_account_is_remediated_there_and_the_home_account_is_untouched() {
    let mut aws = Emulator::start();
    seed_twins(&mut aws);
    let home_before = account_state(&mut aws, HOME);
    let remediator = aws.remediator(with_member_role());

    let report = handle(&remediator, invoked_as_deployed(member_event()))
        .await
        .expect("the member account's event succeeds");

    assert_eq!(account_of(&report), Some(MEMBER));
    assert_eq!(report.users[0].keys[0].action.as_str(), "deactivated");
    let member = account_state(&mut aws, MEMBER);
    assert_eq!(key_statuses(&member, "dave"), ["Inactive"]);
    assert_eq!(marker_count(&member, "dave"), 1);
    assert_eq!(
        account_state(&mut aws, HOME),
        home_before,
        "home account changed"
    );
    assert_eq!(
        assumed_roles(&mut aws, MEMBER),
        [json!({
            "roleArn": format!("arn:aws:iam::{MEMBER}:role/{ROLE_NAME}"),
            "sessionName": "access-key-remediator",
            "externalId": "org-7f3a",
        })]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warm_container_reuses_the_member_accounts_credentials() {
    let mut aws = Emulator::start();
    seed_twins(&mut aws);
    let remediator = aws.remediator(with_member_role());

    for _ in 0..3 {
        handle(&remediator, invoked_as_deployed(member_event()))
            .await
            .expect("each delivery succeeds");
    }

    assert_eq!(assumed_roles(&mut aws, MEMBER).len(), 1);
    assert_eq!(aws.calls().get("AssumeRole"), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_from_another_account_without_a_member_role_is_refused_and_nothing_is_touched() {
    let mut aws = Emulator::start();
    seed_twins(&mut aws);
    let before = (
        account_state(&mut aws, HOME),
        account_state(&mut aws, MEMBER),
    );
    let remediator = aws.remediator(Settings::default());

    let error = handle(&remediator, invoked_as_deployed(member_event()))
        .await
        .expect_err("an account the function cannot reach is an error");

    assert!(
        matches!(
            error,
            HandlerError::Remediation(RemediationError::ForeignAccount { .. })
        ),
        "{error:?}"
    );
    let diagnostic = Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "AccountNotConfigured");
    assert!(
        diagnostic.error_message.contains(MEMBER)
            && diagnostic.error_message.contains("MEMBER_ROLE_NAME"),
        "{}",
        diagnostic.error_message
    );
    assert_eq!(aws.calls(), BTreeMap::new(), "no AWS call at all");
    let after = (
        account_state(&mut aws, HOME),
        account_state(&mut aws, MEMBER),
    );
    assert_eq!(after, before);
}

/// Before issue 10, a context whose invoked ARN is no Lambda ARN made the event's own account
/// the home account: the member's event was then acted on in the home account, with the home
/// account's credentials, on the home twin. Now the function cannot tell its own account from
/// another, and refuses.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_naming_an_account_is_refused_when_the_home_account_is_unknown() {
    let mut aws = Emulator::start();
    seed_twins(&mut aws);
    let before = (
        account_state(&mut aws, HOME),
        account_state(&mut aws, MEMBER),
    );
    let remediator = aws.remediator(with_member_role());

    for (event, account) in [
        (member_event(), MEMBER),
        (fixture("non-compliant-alice.json"), HOME),
    ] {
        let mut unknown_home = invocation(event);
        unknown_home.context.invoked_function_arn = "not-an-arn".to_owned();
        let error = handle(&remediator, unknown_home)
            .await
            .expect_err("an account the function cannot compare with its own is refused");

        assert!(
            matches!(
                &error,
                HandlerError::Remediation(RemediationError::HomeUnknown { account: named })
                    if named.as_str() == account
            ),
            "{error:?}"
        );
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "HomeAccountUnknown");
        assert!(
            diagnostic.error_message.contains(account),
            "{}",
            diagnostic.error_message
        );
    }
    assert_eq!(aws.calls(), BTreeMap::new(), "no AWS call at all");
    assert!(assumed_roles(&mut aws, MEMBER).is_empty());
    let after = (
        account_state(&mut aws, HOME),
        account_state(&mut aws, MEMBER),
    );
    assert_eq!(after, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_naming_accounts_sweeps_each_with_its_own_credentials_and_metrics() {
    let mut aws = Emulator::start();
    aws.seed_in(
        Some(MEMBER),
        json!([
            { "name": "member-old", "keys": [{ "ageDays": 150 }] },
            { "name": "member-young", "keys": [{ "ageDays": 10 }] },
        ]),
    );
    aws.seed_in(
        Some(HOME),
        json!([
            { "name": "home-old", "keys": [{ "ageDays": 300 }] },
        ]),
    );
    let (remediator, metrics) = remediator_with_metrics(&aws);
    let sweep = fixture("scheduled-sweep-accounts.json");
    assert_eq!(sweep["detail"]["accounts"], json!([HOME, MEMBER]));

    let report = handle(&remediator, invoked_as_deployed(sweep))
        .await
        .expect("the sweep of both accounts succeeds");

    let swept: Vec<(&str, Vec<&str>)> = report
        .accounts
        .iter()
        .map(|account| (account_of(account).unwrap(), users_acted_on(account)))
        .collect();
    assert_eq!(
        swept,
        [(HOME, vec!["home-old"]), (MEMBER, vec!["member-old"])]
    );
    assert_eq!(report.summary.count(Action::Deactivated), 2);
    assert_eq!(
        key_statuses(&account_state(&mut aws, MEMBER), "member-young"),
        ["Active"]
    );
    assert_eq!(
        key_statuses(&account_state(&mut aws, MEMBER), "member-old"),
        ["Inactive"]
    );
    assert_eq!(
        key_statuses(&account_state(&mut aws, HOME), "home-old"),
        ["Inactive"]
    );
    assert_eq!(assumed_roles(&mut aws, MEMBER).len(), 1);
    assert!(
        assumed_roles(&mut aws, HOME).is_empty(),
        "home is swept as itself"
    );

    let lines = metric_lines(&metrics);
    let per_account: Vec<(&str, &str, u64)> = lines
        .iter()
        .map(|line| {
            (
                line["Account"].as_str().unwrap(),
                line["Trigger"].as_str().unwrap(),
                line["deactivated"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(per_account, [(HOME, "sweep", 1), (MEMBER, "sweep", 1)]);
}

fn users_acted_on(report: &Report) -> Vec<&str> {
    report
        .users
        .iter()
        .filter(|user| {
            user.keys
                .iter()
                .any(|key| key.action.as_str() == "deactivated")
        })
        .map(|user| user.user_name.as_str())
        .collect()
}

/// The home account's over-age user, and a member account whose role cannot be assumed;
/// returns a sweep of both, the member first.
fn seed_home_and_block_the_member(aws: &mut Emulator) -> Value {
    aws.seed_in(
        Some(HOME),
        json!([
            { "name": "home-old", "keys": [{ "ageDays": 300 }] },
        ]),
    );
    aws.command(json!({ "op": "fail", "action": "AssumeRole", "times": 100, "status": 403, "code": "AccessDenied" }));
    let mut sweep = fixture("scheduled-sweep.json");
    sweep["detail"] = json!({ "accounts": [MEMBER, HOME] });
    sweep
}

/// The sweep failed for one account, the member.
fn assert_only_the_member_failed(failure: Option<&RemediationError>) {
    let Some(RemediationError::Accounts {
        failed, account, ..
    }) = failure
    else {
        panic!("expected RemediationError::Accounts, got {failure:?}");
    };
    assert_eq!((*failed, account.as_str()), (1, MEMBER));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_account_that_cannot_be_reached_fails_the_sweep_only_after_the_others_are_done() {
    let mut aws = Emulator::start();

    // The pipeline: the report of what was done, beside the failure.
    let sweep = seed_home_and_block_the_member(&mut aws);
    let remediator = aws.remediator(with_member_role());
    let work = triggers::classify(sweep).expect("a sweep");
    let Outcome { report, failure } = remediator
        .run(work, None, HomeAccount::from_function_arn(FUNCTION_ARN))
        .await
        .expect("a sweep of listed accounts reports each account");
    assert_only_the_member_failed(failure.as_ref());
    let swept: Vec<&str> = report.accounts.iter().filter_map(account_of).collect();
    assert_eq!(swept, [HOME]);
    assert_eq!(
        key_statuses(&account_state(&mut aws, HOME), "home-old"),
        ["Inactive"]
    );

    // The handler, on the same accounts afresh: the Lambda error, the metrics, the message.
    aws.reset();
    let sweep = seed_home_and_block_the_member(&mut aws);
    let (remediator, metrics) = remediator_with_metrics(&aws);

    let error = handle(&remediator, invoked_as_deployed(sweep))
        .await
        .expect_err("an unreachable account fails the invocation, so Lambda retries it");

    let HandlerError::Remediation(failure) = &error else {
        panic!("expected HandlerError::Remediation, got {error:?}");
    };
    assert_only_the_member_failed(Some(failure));
    assert_eq!(
        key_statuses(&account_state(&mut aws, HOME), "home-old"),
        ["Inactive"]
    );
    // The failed invocation still counts what it did, for the account it did it in.
    let lines = metric_lines(&metrics);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (
            lines[0]["Account"].as_str(),
            lines[0]["deactivated"].as_u64()
        ),
        (Some(HOME), Some(1))
    );
    let message = Diagnostic::from(error).error_message;
    assert!(
        message.contains("AssumeRole") || message.contains("credentials"),
        "{message}"
    );
}
