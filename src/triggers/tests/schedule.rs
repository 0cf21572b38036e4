//! The scheduled sweep: of the event's own account, or of the accounts its input lists.

use super::*;

fn scheduled_with(detail: Value) -> Value {
    json!({
        "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-20T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"], "detail": detail
    })
}

#[test]
fn a_scheduled_event_asks_for_a_sweep_of_its_own_account() {
    assert_eq!(
        classify(scheduled_with(json!({}))),
        Ok(Work::Sweep {
            account: Some(account("123456789012")),
            accounts: vec![],
        })
    );
}

#[test]
fn a_scheduled_event_may_name_the_accounts_to_sweep_once_each() {
    let payload =
        scheduled_with(json!({ "accounts": ["210987654321", "123456789012", "210987654321"] }));
    assert_eq!(
        classify(payload),
        Ok(Work::Sweep {
            account: Some(account("123456789012")),
            accounts: vec![account("210987654321"), account("123456789012")],
        })
    );
}

#[test]
fn a_sweep_refuses_account_lists_that_are_empty_or_not_account_ids() {
    let cases = [
        (json!({ "accounts": [] }), "detail.accounts"),
        (
            json!({ "accounts": ["210987654321", "12345"] }),
            "detail.accounts[1]",
        ),
        (
            json!({ "accounts": ["arn:aws:iam::1:root"] }),
            "detail.accounts[0]",
        ),
        (json!({ "accounts": "210987654321" }), "detail.accounts"),
        (
            json!({ "accounts": [210987654321u64] }),
            "detail.accounts[0]",
        ),
    ];
    for (detail, path) in cases {
        assert_eq!(
            refused(scheduled_with(detail.clone()), &detail.to_string()),
            path
        );
    }
}
