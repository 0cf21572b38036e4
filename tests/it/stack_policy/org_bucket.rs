//! The organisation sweep's bucket (template.yaml's `OrgSweepBucket`), where discovery writes
//! a run's accounts and the Map its results: private, encrypted, TLS-only, its files
//! transient. And who may use it: the state machine's role on its objects, the function's
//! role under `org-sweep/` only, no other role anything in S3.

use std::collections::{BTreeMap, BTreeSet};

use yaml_serde::Value;

use super::org_sweep::{BUCKET, central, created};
use super::string_like;
use crate::support::cloudformation::{
    Deployment, Template, arn_text, one_or_many, org_sweep_definition, role_statements,
};

const OBJECTS: &str = "${OrgSweepBucket.Arn}/*";
const RUN_FILES: &str = "${OrgSweepBucket.Arn}/org-sweep/*";
const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:111111111111:function:remediator";

fn yaml(text: &str) -> Value {
    yaml_serde::from_str(text).unwrap()
}

#[test]
fn the_bucket_is_private_encrypted_owner_enforced_and_its_files_expire() {
    let resources = created(&central().deploy(&[("SweepOrganization", "on")]));
    let properties = &resources["OrgSweepBucket"]["Properties"];
    assert_eq!(
        properties["BucketEncryption"],
        yaml(
            "ServerSideEncryptionConfiguration: [{ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}}]"
        )
    );
    assert_eq!(
        properties["PublicAccessBlockConfiguration"],
        yaml(
            "{BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true}"
        )
    );
    // No ACLs at all: every object belongs to the bucket's account, whoever wrote it.
    assert_eq!(
        properties["OwnershipControls"],
        yaml("Rules: [{ObjectOwnership: BucketOwnerEnforced}]")
    );
    assert_eq!(
        properties["VersioningConfiguration"],
        yaml("Status: Enabled")
    );
    let rules = properties["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let rule = &rules[0];
    assert_eq!(rule["Status"].as_str(), Some("Enabled"));
    // On every object, not a prefix: the bucket holds nothing but run files.
    assert!(
        rule["Prefix"].is_null() && rule["Filter"].is_null(),
        "{rule:?}"
    );
    assert_eq!(rule["ExpirationInDays"].as_u64(), Some(30));
    assert_eq!(
        rule["NoncurrentVersionExpiration"],
        yaml("NoncurrentDays: 1")
    );
    // Neither a public ACL nor anyone else's grant can be set on it.
    assert!(properties["AccessControl"].is_null(), "{properties:?}");
}

#[test]
fn the_buckets_policy_only_refuses_every_call_without_tls() {
    let resources = created(&central().deploy(&[("SweepOrganization", "on")]));
    let policy = &resources["OrgSweepBucketPolicy"]["Properties"];
    assert_eq!(arn_text(&policy["Bucket"]), "!Ref OrgSweepBucket");
    let statements = one_or_many(&policy["PolicyDocument"]["Statement"]);
    // A bucket policy that allowed something would grant past the roles read here.
    for statement in &statements {
        assert_eq!(statement["Effect"].as_str(), Some("Deny"), "{statement:?}");
    }
    let tls: Vec<_> = statements
        .iter()
        .filter(|s| !s["Condition"]["Bool"]["aws:SecureTransport"].is_null())
        .collect();
    assert_eq!(tls.len(), 1, "{statements:?}");
    let tls = tls[0];
    assert_eq!(tls["Principal"].as_str(), Some("*"));
    assert_eq!(tls["Action"].as_str(), Some("s3:*"));
    assert_eq!(
        tls["Condition"]["Bool"]["aws:SecureTransport"].as_str(),
        Some("false")
    );
    let resources: Vec<String> = one_or_many(&tls["Resource"])
        .into_iter()
        .map(arn_text)
        .collect();
    assert_eq!(resources, ["!GetAtt OrgSweepBucket.Arn", OBJECTS]);
}

/// Every S3 action any role of this deployment is granted: role, then action, then resources.
fn s3_grants(deployment: &Deployment) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut grants: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for statement in deployment.role_statements() {
        for action in statement.actions.iter().filter(|a| a.starts_with("s3:")) {
            let previous = grants
                .entry(statement.owner.clone())
                .or_default()
                .insert(action.clone(), statement.resources.clone());
            assert_eq!(previous, None, "{} {action} twice", statement.owner);
        }
    }
    grants
}

fn on(actions: &[&str], resource: &str) -> BTreeMap<String, Vec<String>> {
    actions
        .iter()
        .map(|a| ((*a).to_owned(), vec![resource.to_owned()]))
        .collect()
}

#[test]
fn the_machine_uses_the_buckets_objects_the_function_only_org_sweep_and_no_role_else_s3() {
    let template = central();
    for mode_tags in ["off", "on"] {
        let off = s3_grants(&template.deploy(&[("OrgModeTags", mode_tags)]));
        assert!(off.is_empty(), "SweepOrganization=off: {off:?}");
        let grants =
            s3_grants(&template.deploy(&[("SweepOrganization", "on"), ("OrgModeTags", mode_tags)]));
        let owners: BTreeSet<&str> = grants.keys().map(String::as_str).collect();
        assert_eq!(
            owners,
            BTreeSet::from(["OrgSweepStateMachineRole", "RemediatorRole"])
        );
        // ItemReader: GetObject; ResultWriter: PutObject, GetObject, and the multipart calls
        // for large result files. Objects only: nothing lists or changes the bucket.
        assert_eq!(
            grants["OrgSweepStateMachineRole"],
            on(
                &[
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                OBJECTS
            )
        );
        assert_eq!(
            grants["RemediatorRole"],
            on(&["s3:PutObject", "s3:GetObject"], RUN_FILES)
        );
    }
    // Whatever the parameters, no role of the member stack touches S3.
    for statement in role_statements(&Template::load("member-account.yaml")) {
        assert!(
            statement.actions.iter().all(|a| !a.starts_with("s3:")),
            "{statement:?}"
        );
    }
}

#[test]
fn the_function_may_read_what_the_map_writes_and_write_what_the_map_reads() {
    let definition = org_sweep_definition(FUNCTION_ARN, BUCKET);
    let map = &definition["States"]["SweepAccounts"];
    let prefix = map["ResultWriter"]["Parameters"]["Prefix"]
        .as_str()
        .unwrap();
    // The manifest and the result files, under <Prefix>/<map run id>/, for the summary.
    for file in ["manifest.json", "SUCCEEDED_0.json", "FAILED_0.json"] {
        let key = format!("${{OrgSweepBucket.Arn}}/{prefix}/8d1b3f3e-run/{file}");
        assert!(string_like(RUN_FILES, &key), "{key} outside {RUN_FILES}");
    }
    // Discovery's items file, which the ItemReader reads.
    let items = "${OrgSweepBucket.Arn}/org-sweep/execution-1/accounts.json";
    assert!(string_like(RUN_FILES, items) && string_like(OBJECTS, items));
}

#[test]
fn the_function_and_the_map_are_given_the_stacks_bucket_only_with_sweep_organization_on() {
    let template = central();
    for (sweep_organization, expected) in [("off", None), ("on", Some("!Ref OrgSweepBucket"))] {
        let resources = created(&template.deploy(&[("SweepOrganization", sweep_organization)]));
        let variable = &resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]["SWEEP_BUCKET"];
        match expected {
            // Empty is unset: the items travel inline.
            None => assert_eq!(variable.as_str(), Some(""), "{variable:?}"),
            Some(reference) => assert_eq!(arn_text(variable), reference),
        }
    }
    let machine = template.resource(super::org_sweep::MACHINE);
    assert_eq!(
        arn_text(&machine["Properties"]["DefinitionSubstitutions"]["SweepBucket"]),
        "!Ref OrgSweepBucket"
    );
}
