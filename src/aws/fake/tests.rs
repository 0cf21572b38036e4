//! That the fake answers as IAM and Config answer the SDK adapters: the limits, the missing
//! user or key, the faults and hooks, the report's format and the call counts.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::aws::api_calls::ApiCallCounter;
use crate::aws::{IamDirectory, IamWrites, UserInventory, WriteOutcome};
use crate::domain::ids::{AccessKeyId, UserId};
use crate::domain::user::KeyStatus;

const ALICE_ID: &str = "AIDAEXAMPLEALICE0001";
const KEY_1: &str = "AKIAEXAMPLEKEY000001";
const KEY_2: &str = "AKIAEXAMPLEKEY000002";
const CREATED: OffsetDateTime = datetime!(2026-01-01 08:30 UTC);
const USED: OffsetDateTime = datetime!(2026-11-20 17:05:09 UTC);

fn key(id: &str) -> AccessKeyId {
    AccessKeyId::parse(id).unwrap()
}

/// alice with an Active key used once and an Inactive key never used.
fn alice() -> FakeIam {
    let iam = FakeIam::new();
    iam.add_user("alice", ALICE_ID)
        .add_key("alice", KEY_1, KeyStatus::Active, CREATED, Some(USED))
        .add_key("alice", KEY_2, KeyStatus::Inactive, CREATED, None);
    iam
}

fn with_tags(count: usize) -> FakeIam {
    let iam = alice();
    for n in 0..count {
        iam.set_tag("alice", &format!("tag-{n}"), "v");
    }
    iam
}

#[tokio::test]
async fn tag_user_keeps_to_iams_fifty_tags_per_user() {
    let iam = with_tags(49);
    iam.tag_user("alice", "marker", "1").await.unwrap();
    assert_eq!(iam.tags("alice").len(), 50);

    let error = iam.tag_user("alice", "one-more", "1").await.unwrap_err();
    assert_eq!(FakeError::code_of(&error), Some("LimitExceeded"));
    assert_eq!((error.service, error.operation), ("IAM", "TagUser"));
    assert_eq!(
        error.source.to_string(),
        "LimitExceeded: Cannot exceed quota for TagsPerUser: 50"
    );
    assert!(!iam.tags("alice").contains_key("one-more"));

    iam.tag_user("alice", "marker", "2").await.unwrap();
    assert_eq!(iam.tags("alice")["marker"], "2");
    let marker = |value: &str| Write::Tagged {
        user: "alice".into(),
        key: "marker".into(),
        value: value.into(),
    };
    assert_eq!(iam.writes(), [marker("1"), marker("2")]);
}

#[tokio::test]
async fn tag_keys_that_differ_only_in_case_are_one_tag() {
    let iam = with_tags(49);
    iam.set_tag("alice", "Owner", "alice");
    iam.tag_user("alice", "owner", "bob").await.unwrap();
    let tags = iam.tags("alice");
    assert_eq!((tags.len(), tags.get("Owner")), (50, None));
    assert_eq!(tags["owner"], "bob");

    iam.untag_user("alice", &["OWNER".to_owned()])
        .await
        .unwrap();
    assert_eq!(iam.tags("alice").len(), 49);
}

#[tokio::test]
async fn a_fault_fires_as_often_as_asked_then_the_call_succeeds() {
    let iam = alice();
    iam.fail(Fault::on("TagUser", ErrorKind::Throttling).times(2));
    for _ in 0..2 {
        let error = iam.tag_user("alice", "k", "v").await.unwrap_err();
        assert_eq!(FakeError::code_of(&error), Some("Throttling"));
    }
    iam.tag_user("alice", "k", "v").await.unwrap();

    iam.fail(Fault::on("GetUser", ErrorKind::ServiceFailure).once());
    assert!(iam.get_user("alice").await.is_err());
    assert!(iam.get_user("alice").await.unwrap().is_some());
}

#[tokio::test]
async fn a_fault_for_one_user_leaves_the_others_alone_and_always_means_always() {
    let iam = alice();
    iam.add_user("bob", "AIDAEXAMPLEBOB000001");
    iam.fail(Fault::on("ListAccessKeys", ErrorKind::ConcurrentModification).for_user("bob"));
    for _ in 0..3 {
        let error = iam.key_statuses("bob").await.unwrap_err();
        assert_eq!(FakeError::code_of(&error), Some("ConcurrentModification"));
    }
    assert_eq!(iam.key_statuses("alice").await.unwrap().unwrap().len(), 2);
}

#[tokio::test]
async fn a_refused_write_changes_nothing_and_is_not_recorded() {
    let iam = alice();
    for operation in ["UpdateAccessKey", "DeleteAccessKey", "TagUser", "UntagUser"] {
        iam.fail(Fault::on(operation, ErrorKind::AccessDenied));
    }
    let before = iam.user("alice");
    let error = iam.deactivate_key("alice", &key(KEY_1)).await.unwrap_err();
    assert_eq!(FakeError::code_of(&error), Some("AccessDenied"));
    assert!(error.source.to_string().contains("iam:UpdateAccessKey"));
    assert!(iam.delete_key("alice", &key(KEY_2)).await.is_err());
    assert!(iam.tag_user("alice", "k", "v").await.is_err());
    assert!(iam.untag_user("alice", &["k".into()]).await.is_err());
    assert_eq!(iam.user("alice"), before);
    assert_eq!(iam.writes(), []);
}

#[tokio::test]
async fn a_deleted_user_is_gone_to_every_read_and_done_to_every_write() {
    let iam = alice();
    iam.delete_user("alice");
    let gone = iam.deactivate_key("alice", &key(KEY_1)).await.unwrap();
    assert_eq!(gone, WriteOutcome::Gone);
    iam.delete_key("alice", &key(KEY_2)).await.unwrap();
    iam.tag_user("alice", "k", "v").await.unwrap();
    iam.untag_user("alice", &["k".into()]).await.unwrap();
    assert_eq!(iam.writes(), []);

    assert_eq!(iam.get_user("alice").await.unwrap(), None);
    assert_eq!(iam.snapshot("alice").await.unwrap(), None);
    assert_eq!(iam.key_statuses("alice").await.unwrap(), None);
    let id = UserId::parse(ALICE_ID).unwrap();
    assert_eq!(iam.find_user_by_id(&id).await.unwrap(), None);
}

#[tokio::test]
async fn an_injected_no_such_entity_is_answered_as_the_adapter_answers_it() {
    let iam = alice();
    for operation in ["UpdateAccessKey", "DeleteAccessKey", "TagUser", "GetUser"] {
        iam.fail(Fault::on(operation, ErrorKind::NoSuchEntity).once());
    }
    let gone = iam.deactivate_key("alice", &key(KEY_1)).await.unwrap();
    assert_eq!(gone, WriteOutcome::Gone);
    iam.delete_key("alice", &key(KEY_2)).await.unwrap();
    iam.tag_user("alice", "k", "v").await.unwrap();
    assert_eq!(iam.get_user("alice").await.unwrap(), None);
    assert_eq!(iam.writes(), []);
    assert_eq!(iam.keys("alice").len(), 2);

    // A key gone since ListAccessKeys answers GetAccessKeyLastUsed with NoSuchEntity.
    iam.fail(Fault::on("GetAccessKeyLastUsed", ErrorKind::NoSuchEntity).once());
    let snapshot = iam.snapshot("alice").await.unwrap().unwrap();
    assert_eq!(snapshot.keys[0].last_used, None);
}

#[tokio::test]
async fn writes_are_applied_and_recorded_in_order() {
    let iam = alice();
    let applied = iam.deactivate_key("alice", &key(KEY_1)).await.unwrap();
    assert_eq!(applied, WriteOutcome::Applied);
    iam.delete_key("alice", &key(KEY_2)).await.unwrap();
    let gone = iam.deactivate_key("alice", &key(KEY_2)).await.unwrap();
    assert_eq!(gone, WriteOutcome::Gone);
    iam.delete_key("alice", &key(KEY_2)).await.unwrap();
    let keys = iam.keys("alice");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].status, KeyStatus::Inactive);
    let user = || "alice".to_owned();
    let expected = [
        Write::Deactivated {
            user: user(),
            key: key(KEY_1),
        },
        Write::Deleted {
            user: user(),
            key: key(KEY_2),
        },
    ];
    assert_eq!(iam.writes(), expected);
}

#[tokio::test]
async fn the_credential_report_is_in_iams_format() {
    let iam = alice();
    iam.add_user("bob", "AIDAEXAMPLEBOB000001");
    let csv = iam.credential_report().await.unwrap();
    let mut reader = csv::Reader::from_reader(&csv[..]);
    let header: Vec<_> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header.join(","), REPORT_HEADER);
    let rows: Vec<BTreeMap<String, String>> = reader.deserialize().map(Result::unwrap).collect();
    let users: Vec<_> = rows.iter().map(|row| row["user"].as_str()).collect();
    assert_eq!(users, ["<root_account>", "alice", "bob"]);

    let alice = &rows[1];
    assert_eq!(alice["arn"], "arn:aws:iam::123456789012:user/alice");
    let columns = |slot: u8| {
        [
            "active",
            "last_rotated",
            "last_used_date",
            "last_used_region",
        ]
        .map(|column| alice[&format!("access_key_{slot}_{column}")].as_str())
    };
    let created = "2026-01-01T08:30:00+00:00";
    let used = "2026-11-20T17:05:09+00:00";
    assert_eq!(columns(1), ["true", created, used, "us-east-1"]);
    assert_eq!(columns(2), ["false", created, "N/A", "N/A"]);
    assert_eq!(rows[2]["access_key_1_active"], "false");
    assert_eq!(rows[2]["access_key_1_last_rotated"], "N/A");

    // The nominator reads it: alice's keys are over age by then, bob has none.
    let policy = crate::domain::policy::Policy::default();
    let nominees =
        crate::domain::nomination::nominate(&csv, datetime!(2027-01-01 0:00 UTC), &policy);
    assert_eq!(nominees.unwrap(), ["alice"]);
}

#[tokio::test]
async fn calls_are_counted_as_the_adapter_makes_them_refused_ones_included() {
    let counter = ApiCallCounter::default();
    let iam = alice().with_api_calls(counter.clone());
    let inventory = iam.inventory().with_api_calls(counter.clone());
    let id = UserId::parse(ALICE_ID).unwrap();
    assert_eq!(
        inventory.user_name_for_id(&id).await.unwrap().unwrap(),
        "alice"
    );
    assert!(iam.find_user_by_id(&id).await.unwrap().is_some());
    iam.get_user("alice").await.unwrap();
    iam.credential_report().await.unwrap();
    iam.snapshot("alice").await.unwrap();
    iam.key_statuses("alice").await.unwrap();
    iam.fail(Fault::on("UpdateAccessKey", ErrorKind::AccessDenied).once());
    iam.deactivate_key("alice", &key(KEY_1)).await.unwrap_err();
    iam.deactivate_key("alice", &key(KEY_1)).await.unwrap();
    iam.delete_key("alice", &key(KEY_2)).await.unwrap();
    iam.tag_user("alice", "k", "v").await.unwrap();
    iam.untag_user("alice", &["k".into()]).await.unwrap();
    let expected = [
        ("DeleteAccessKey", 1),
        ("GenerateCredentialReport", 1),
        ("GetAccessKeyLastUsed", 2),
        ("GetCredentialReport", 1),
        ("GetUser", 1),
        ("ListAccessKeys", 2),
        ("ListDiscoveredResources", 1),
        ("ListUserTags", 1),
        ("ListUsers", 1),
        ("TagUser", 1),
        ("UntagUser", 1),
        ("UpdateAccessKey", 2),
    ];
    let expected: BTreeMap<_, _> = expected.map(|(op, n)| (op.to_owned(), n)).into();
    assert_eq!(counter.snapshot(), expected);
}

#[tokio::test]
async fn a_hook_changes_the_account_between_two_calls() {
    let iam = alice();
    iam.before_call("ListAccessKeys", 2, |iam| {
        iam.set_key_status("alice", KEY_2, KeyStatus::Active);
    });
    let snapshot = iam.snapshot("alice").await.unwrap().unwrap();
    assert_eq!(snapshot.keys[1].status, KeyStatus::Inactive);
    let fresh = iam.key_statuses("alice").await.unwrap().unwrap();
    assert_eq!(fresh[&key(KEY_2)], KeyStatus::Active);
}

#[tokio::test]
async fn the_inventory_can_be_stale_or_failing() {
    let iam = alice();
    let inventory = iam.inventory();
    iam.rename_user("alice", "alice2");
    let id = UserId::parse(ALICE_ID).unwrap();
    assert_eq!(
        inventory.user_name_for_id(&id).await.unwrap().unwrap(),
        "alice"
    );
    let found = iam.find_user_by_id(&id).await.unwrap().unwrap();
    assert_eq!(found.user_name, "alice2");
    assert_eq!(iam.keys("alice2").len(), 2);

    let failing = FakeInventory::recording([(ALICE_ID, "alice")]).failing_times(1);
    let error = failing.user_name_for_id(&id).await.unwrap_err();
    assert_eq!(
        (error.service, FakeError::code_of(&error)),
        ("Config", Some("AccessDeniedException"))
    );
    assert!(failing.user_name_for_id(&id).await.unwrap().is_some());
    assert!(
        FakeInventory::empty()
            .failing()
            .user_name_for_id(&id)
            .await
            .is_err()
    );
    assert_eq!(
        FakeInventory::empty().user_name_for_id(&id).await.unwrap(),
        None
    );
}

#[test]
#[should_panic(expected = "no operation \"TagUsers\"")]
fn a_misspelt_operation_is_refused() {
    Fault::on("TagUsers", ErrorKind::AccessDenied);
}

#[tokio::test]
async fn a_role_tag_is_read_ignoring_key_case_and_a_missing_role_has_none() {
    let counter = ApiCallCounter::default();
    let iam = FakeIam::new().with_api_calls(counter.clone());
    iam.add_role("remediator").set_role_tag(
        "remediator",
        "Access-Key-Remediator:Ceiling",
        Some("deactivate"),
    );
    let ceiling = "access-key-remediator:ceiling";

    let tag = iam.role_tag("remediator", ceiling).await.unwrap();
    assert_eq!(tag.as_deref(), Some("deactivate"));
    assert_eq!(iam.role_tag("remediator", "other").await.unwrap(), None);
    assert_eq!(iam.role_tag("no-such-role", ceiling).await.unwrap(), None);

    iam.set_role_tag("remediator", "Access-Key-Remediator:Ceiling", None);
    assert_eq!(iam.role_tag("remediator", ceiling).await.unwrap(), None);
    assert_eq!(counter.snapshot().get("ListRoleTags"), Some(&4));
}

#[tokio::test]
async fn faults_fire_on_a_roles_list_role_tags() {
    let iam = FakeIam::new();
    iam.add_role("remediator")
        .set_role_tag("remediator", "ceiling", Some("report"))
        .fail(
            Fault::on("ListRoleTags", ErrorKind::AccessDenied)
                .for_user("remediator")
                .once(),
        )
        .fail(Fault::on("ListRoleTags", ErrorKind::NoSuchEntity).once());

    let error = iam.role_tag("remediator", "ceiling").await.unwrap_err();
    assert_eq!(
        (error.operation, FakeError::code_of(&error)),
        ("ListRoleTags", Some("AccessDenied"))
    );
    assert_eq!(iam.role_tag("remediator", "ceiling").await.unwrap(), None);
    let tag = iam.role_tag("remediator", "ceiling").await.unwrap();
    assert_eq!(tag.as_deref(), Some("report"));
}
