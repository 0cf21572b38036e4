//! Access Analyzer "Unused Access Finding for IAM entities" events: only an ACTIVE unused
//! access key finding against a user is work, read later in the analyzer's account.

use super::*;

const ANALYZER_ARN: &str =
    "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/UnusedAccess-ConsoleAnalyzer";
const FINDING_ID: &str = "ab5a8e6a-0b9c-4f6e-9d1a-2c3b4d5e6f70";

/// An organisation analyzer in 123456789012 reporting alice's key in 210987654321.
fn event() -> Value {
    json!({
        "version": "0",
        "id": "c2a6e7f4-1d2b-4e3a-9f8b-7a6c5d4e3f21",
        "detail-type": "Unused Access Finding for IAM entities",
        "source": "aws.access-analyzer",
        "account": "123456789012",
        "time": "2026-11-20T20:26:12Z",
        "region": "us-east-1",
        "resources": [ANALYZER_ARN],
        "detail": {
            "findingId": FINDING_ID,
            "resource": "arn:aws:iam::210987654321:user/alice",
            "resourceType": "AWS::IAM::User",
            "accountId": "210987654321",
            "createdAt": "2026-11-20T20:26:09Z",
            "updatedAt": "2026-11-20T20:26:09Z",
            "analyzedAt": "2026-11-20T20:26:09Z",
            "previousStatus": "",
            "status": "ACTIVE",
            "version": "1.0",
            "findingType": "UnusedIAMUserAccessKey",
            "isDeleted": false
        }
    })
}

fn detail_with(field: &str, value: Value) -> Value {
    with(event(), &format!("/detail/{field}"), value)
}

#[test]
fn an_active_unused_key_finding_is_remediated_in_the_users_account() {
    assert_eq!(
        classify(event()),
        Ok(Work::Remediate(UserTarget {
            user: UserRef::Name {
                user_name: "alice".into(),
                user_id: None,
            },
            account: account("210987654321"),
            cause: Cause::AccessAnalyzer(AnalyzerFinding {
                analyzer_arn: ANALYZER_ARN.into(),
                finding_id: FINDING_ID.into(),
                // The finding is read where the analyzer is: the event's own account.
                analyzer_account: account("123456789012"),
            }),
        }))
    );
}

#[test]
fn a_user_arn_with_a_path_names_the_user_by_its_last_segment() {
    let payload = detail_with(
        "resource",
        json!("arn:aws:iam::210987654321:user/engineering/ci/alice"),
    );
    assert_eq!(
        remediated(payload, "user with a path").user,
        UserRef::Name {
            user_name: "alice".into(),
            user_id: None,
        }
    );
}

#[test]
fn an_event_without_is_deleted_is_an_active_finding() {
    let payload = without(event(), "/detail", "isDeleted");
    remediated(payload, "no isDeleted");
}

#[test]
fn other_findings_and_closed_findings_are_ignored_with_a_reason() {
    let cases = [
        (
            detail_with("findingType", json!("UnusedIAMRole")),
            "finding type \"UnusedIAMRole\" is not UnusedIAMUserAccessKey",
        ),
        (
            detail_with("findingType", json!("UnusedPermission")),
            "finding type \"UnusedPermission\" is not UnusedIAMUserAccessKey",
        ),
        (
            detail_with("findingType", json!("UnusedIAMUserPassword")),
            "finding type \"UnusedIAMUserPassword\" is not UnusedIAMUserAccessKey",
        ),
        (
            detail_with("status", json!("RESOLVED")),
            "finding status is \"RESOLVED\", not ACTIVE",
        ),
        (
            detail_with("status", json!("ARCHIVED")),
            "finding status is \"ARCHIVED\", not ACTIVE",
        ),
        (
            detail_with("isDeleted", json!(true)),
            "finding status is \"ACTIVE\", deleted, not ACTIVE",
        ),
    ];
    for (payload, expected) in cases {
        let reason = ignored(payload, expected, Some("123456789012"));
        assert_eq!(reason, expected);
    }
}

#[test]
fn malformed_findings_name_the_field_that_is_wrong() {
    let cases = [
        (
            "no resources",
            without(event(), "", "resources"),
            "resources[0]",
        ),
        (
            "empty resources",
            with(event(), "/resources", json!([])),
            "resources[0]",
        ),
        (
            "resources[0] not an analyzer",
            with(
                event(),
                "/resources",
                json!(["arn:aws:iam::210987654321:user/alice", ANALYZER_ARN]),
            ),
            "resources[0]",
        ),
        (
            "analyzer ARN without an account",
            with(
                event(),
                "/resources",
                json!(["arn:aws:access-analyzer:us-east-1::analyzer/x"]),
            ),
            "resources[0]",
        ),
        ("no account", without(event(), "", "account"), "account"),
        (
            "bad account",
            with(event(), "/account", json!("12345")),
            "account",
        ),
        (
            "bad accountId",
            detail_with("accountId", json!("2109876543210")),
            "detail.accountId",
        ),
        (
            "missing accountId",
            without(event(), "/detail", "accountId"),
            "detail.accountId",
        ),
        (
            "a role, not a user",
            detail_with("resource", json!("arn:aws:iam::210987654321:role/deployer")),
            "detail.resource",
        ),
        (
            "not an ARN",
            detail_with("resource", json!("alice")),
            "detail.resource",
        ),
        (
            "missing findingId",
            without(event(), "/detail", "findingId"),
            "detail.findingId",
        ),
        (
            "isDeleted not a bool",
            detail_with("isDeleted", json!("false")),
            "detail.isDeleted",
        ),
    ];
    for (case, payload, path) in cases {
        assert_eq!(refused(payload, case), path, "{case}");
    }
}
