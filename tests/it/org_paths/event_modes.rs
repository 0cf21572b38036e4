//! The event path with ORG_MODE_TAGS on: a Config or Security Hub event acts in the mode its
//! account's nearest Organizations tag gives, within the account's role ceiling; the lookup
//! is kept for ORG_CACHE_TTL_SECONDS, so a changed tag takes effect within that time; and an
//! account whose mode Organizations will not say is not acted in.

use std::time::Duration;

use access_key_remediator::domain::policy::Mode;
use access_key_remediator::domain::user::KeyStatus;
use access_key_remediator::report::Report;
use access_key_remediator::settings::Settings;
use serde_json::Value;

use super::{Fakes, HOME, MEMBER_ROLE, Org, PROD, ROOT, days_ago, org_settings, tree, writes};
use crate::support::{IAM_WRITES, compliance_event, fixture};

/// The UserId events/non-compliant-alice.json and security-hub-iam3.json name, in HOME.
const ALICE_ID: &str = "AIDAZ4ALICEEXAMPLE001";
const ALICE_KEY: &str = "AKIAZ4ALICEOLDKEY0001";
/// The account and UserId events/non-compliant-member-account.json names.
const MEMBER: &str = "210987654321";
const DAVE_ID: &str = "AIDAZ4MEMBERDAVE0001";
const DAVE_KEY: &str = "AKIAZ4DAVEOLDKEY00001";

/// HOME with alice and one Active key 200 days old.
fn home_with_alice() -> Fakes {
    let iam = access_key_remediator::aws::fake::FakeIam::new();
    iam.add_user("alice", ALICE_ID);
    iam.add_key("alice", ALICE_KEY, KeyStatus::Active, days_ago(200), None);
    Fakes::of(iam)
}

/// MEMBER, in PROD, with dave and one Active key 200 days old, and the member role with
/// `ceiling`.
fn member_with_dave(ceiling: Option<&str>) -> Fakes {
    let iam = access_key_remediator::aws::fake::FakeIam::new();
    iam.add_user("dave", DAVE_ID);
    iam.add_key("dave", DAVE_KEY, KeyStatus::Active, days_ago(200), None);
    iam.add_role(MEMBER_ROLE);
    let key = access_key_remediator::domain::org::CEILING_TAG_KEY;
    iam.set_role_tag(MEMBER_ROLE, key, ceiling);
    Fakes::of(iam)
}

fn with_member() -> access_key_remediator::aws::fake::FakeOrganization {
    use access_key_remediator::domain::org::AccountState::Active;
    tree().with_account(MEMBER, PROD, Active)
}

fn cached_for(seconds: u64) -> Settings {
    org_settings(Mode::Delete, |org| {
        org.cache_ttl = Duration::from_secs(seconds);
    })
}

fn member_org(settings: Settings, ceiling: Option<&str>) -> Org {
    let members = vec![(MEMBER, member_with_dave(ceiling))];
    Org::with_accounts(settings, with_member(), home_with_alice(), members)
}

fn member_event() -> Value {
    fixture("non-compliant-member-account.json")
}

fn iam_writes(org: &Org) -> u64 {
    IAM_WRITES.iter().map(|op| org.calls_of(op)).sum()
}

#[tokio::test]
async fn an_account_tagged_report_is_not_written_to_with_the_stack_in_delete() {
    let events = [
        ("Config", compliance_event(ALICE_ID)),
        ("Security Hub", fixture("security-hub-iam3.json")),
    ];
    for (source, event) in events {
        let org = Org::with_accounts(
            cached_for(900),
            tree().with_tag(HOME, "report"),
            home_with_alice(),
            Vec::new(),
        );

        let report = org.event(event).await.expect("the event is handled");

        assert_eq!(report.mode, Mode::Report, "{source}");
        assert_eq!(iam_writes(&org), 0, "{source}");
        assert_eq!(org.calls_of("BatchUpdateFindings"), 0, "{source}");
        assert!(org.home.findings.updates().is_empty(), "{source}");
        let would = crate::support::keys_of(&report).map(|key| key.action.as_str());
        assert_eq!(would.collect::<Vec<_>>(), ["would-deactivate"], "{source}");
    }

    // A member account's event, read through its role: the root's tag says report.
    let org = member_org(cached_for(900), Some("delete"));
    org.tree.set_tag(ROOT, Some("report"));
    let report = org.event(member_event()).await.expect("handled");
    assert_eq!(report.mode, Mode::Report);
    assert!(writes(&org.member(MEMBER).iam).is_empty());
    assert_eq!(iam_writes(&org), 0);
}

#[tokio::test]
async fn the_role_ceiling_lowers_what_an_events_tag_asks_for() {
    let org = member_org(cached_for(900), Some("deactivate"));
    org.tree.set_tag(MEMBER, Some("delete"));

    let report = org.event(member_event()).await.expect("handled");

    assert_eq!(report.mode, Mode::Deactivate);
    let warning = report
        .warnings
        .iter()
        .find(|w| w.contains("permits at most"));
    let warning = warning.unwrap_or_else(|| panic!("{:?}", report.warnings));
    assert!(warning.contains(MEMBER), "{warning}");
    assert!(warning.contains("ask for delete"), "{warning}");
    assert_eq!(
        writes(&org.member(MEMBER).iam),
        [
            format!("deactivate dave {DAVE_KEY}"),
            format!(
                "tag dave {}",
                access_key_remediator::domain::marker::STATE_TAG_KEY
            ),
        ]
    );
}

/// The Organizations and ceiling reads one uncached lookup of MEMBER's mode costs: its own
/// tag, then ListParents and a tag read for PROD and for the root.
const LOOKUP: [(&str, u64); 3] = [
    ("ListTagsForResource", 3),
    ("ListParents", 2),
    ("ListRoleTags", 1),
];

fn lookup_calls(org: &Org) -> Vec<(&'static str, u64)> {
    LOOKUP
        .iter()
        .map(|(operation, _)| (*operation, org.calls_of(operation)))
        .collect()
}

fn lookups(times: u64) -> Vec<(&'static str, u64)> {
    LOOKUP.iter().map(|(op, n)| (*op, n * times)).collect()
}

#[tokio::test]
async fn within_the_ttl_two_events_cost_one_lookup_and_a_changed_tag_waits() {
    let org = member_org(cached_for(3600), Some("delete"));
    org.tree.set_tag(PROD, Some("report"));

    let first = org.event(member_event()).await.expect("first");
    assert_eq!(lookup_calls(&org), lookups(1));
    org.tree.set_tag(PROD, Some("delete"));
    let second = org.event(member_event()).await.expect("second");

    assert_eq!(
        lookup_calls(&org),
        lookups(1),
        "the second is answered from the cache"
    );
    assert_eq!(
        org.calls_of("ListAccessKeys"),
        2,
        "the events themselves ran"
    );
    // The tag changed after the first lookup: the cached mode holds until the TTL ends.
    for report in [&first, &second] {
        assert_eq!(report.mode, Mode::Report);
    }
    assert_eq!(iam_writes(&org), 0);
}

#[tokio::test]
async fn with_no_cache_each_event_looks_up_and_a_changed_tag_takes_effect_at_once() {
    let org = member_org(cached_for(0), Some("delete"));
    org.tree.set_tag(PROD, Some("report"));

    let first = org.event(member_event()).await.expect("first");
    org.tree.set_tag(PROD, Some("deactivate"));
    let second = org.event(member_event()).await.expect("second");

    assert_eq!(lookup_calls(&org), lookups(2));
    assert_eq!(first.mode, Mode::Report);
    assert_eq!(second.mode, Mode::Deactivate);
    assert_eq!(
        writes(&org.member(MEMBER).iam),
        [
            format!("deactivate dave {DAVE_KEY}"),
            format!(
                "tag dave {}",
                access_key_remediator::domain::marker::STATE_TAG_KEY
            ),
        ],
        "written by the second event only"
    );
    assert_eq!(org.calls_of("DeleteAccessKey"), 0);
}

#[tokio::test]
async fn an_account_whose_mode_organizations_will_not_say_is_not_acted_in() {
    for operation in ["ListParents", "ListTagsForResource"] {
        let org = member_org(cached_for(900), Some("delete"));
        org.tree.deny(operation);

        let error = org.event(member_event()).await.expect_err("no mode");

        assert_eq!(error.error_type, "AccountModeUnknown", "{operation}");
        let message = &error.error_message;
        assert!(message.contains(MEMBER), "{operation}: {message}");
        assert!(message.contains(operation), "{operation}: {message}");
        assert!(writes(&org.member(MEMBER).iam).is_empty(), "{operation}");
        // Not even read: nothing is done in an account whose mode is unknown.
        for read in [
            "ListUsers",
            "GetUser",
            "ListAccessKeys",
            "DescribeConfigRules",
        ] {
            assert_eq!(org.calls_of(read), 0, "{operation}: {read}");
        }
    }

    // The failure is not cached: once Organizations answers, the next event acts.
    let org = member_org(cached_for(900), Some("delete"));
    org.tree.deny("ListParents");
    let refused: Result<Box<Report>, _> = org.event(member_event()).await;
    assert!(refused.is_err());
    org.tree.allow("ListParents");
    let report = org.event(member_event()).await.expect("answered now");
    assert_eq!(report.mode, Mode::Delete);
    assert_eq!(org.calls_of("UpdateAccessKey"), 1);
}
