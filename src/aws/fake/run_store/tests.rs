//! That the fake S3 answers as the run store's adapter does: what was put is got back, a key
//! it does not hold is `None`, and the denials and call counts.

use super::*;
use crate::aws::fake::FakeError;

const BUCKET: &str = "org-sweep-bucket";
const ITEMS: &str = "org-sweep/exec-1/accounts.json";

fn object(bucket: &str, key: &str) -> ObjectKey {
    (bucket.to_owned(), key.to_owned())
}

#[tokio::test]
async fn what_the_function_puts_it_gets_back_and_the_test_sees() {
    let store = FakeRunStore::new();
    let test_side = store.clone();

    store
        .put_json(BUCKET, ITEMS, b"[1]".to_vec())
        .await
        .unwrap();
    store
        .put_json(BUCKET, ITEMS, b"[2]".to_vec())
        .await
        .unwrap();

    assert_eq!(
        store.object(BUCKET, ITEMS).await.unwrap().as_deref(),
        Some(&b"[2]"[..]),
        "a second put replaces the first"
    );
    let objects = test_side.objects();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[&object(BUCKET, ITEMS)], b"[2]");
}

#[tokio::test]
async fn a_seeded_object_is_read_by_the_function_and_is_no_call() {
    let store = FakeRunStore::new();
    store.put(BUCKET, "org-sweep/results/run/manifest.json", "{}");

    let manifest = store.object(BUCKET, "org-sweep/results/run/manifest.json");

    assert_eq!(manifest.await.unwrap().as_deref(), Some(&b"{}"[..]));
    assert_eq!(store.calls(), ApiCalls::from([("GetObject".to_owned(), 1)]));
}

#[tokio::test]
async fn a_key_or_bucket_it_does_not_hold_is_none() {
    let store = FakeRunStore::new();
    store.put(BUCKET, ITEMS, "[]");

    assert_eq!(
        store.object(BUCKET, "org-sweep/other.json").await.unwrap(),
        None
    );
    assert_eq!(store.object("another-bucket", ITEMS).await.unwrap(), None);
}

#[tokio::test]
async fn a_denied_operation_is_access_denied_until_allowed() {
    let store = FakeRunStore::new();
    store.deny("PutObject");

    let error = store
        .put_json(BUCKET, ITEMS, b"[]".to_vec())
        .await
        .unwrap_err();

    assert_eq!(
        (error.service, error.operation, FakeError::code_of(&error)),
        ("S3", "PutObject", Some("AccessDenied"))
    );
    assert!(store.objects().is_empty(), "a refused put writes nothing");
    assert_eq!(
        store.object(BUCKET, ITEMS).await.unwrap(),
        None,
        "only PutObject is denied"
    );
    store.allow("PutObject");
    store.put_json(BUCKET, ITEMS, b"[]".to_vec()).await.unwrap();
    assert_eq!(store.objects().len(), 1);
}

#[tokio::test]
async fn every_call_is_counted_under_its_sdk_name_denied_or_not() {
    let counter = ApiCallCounter::default();
    counter.record("ListRoots");
    let store = FakeRunStore::new().with_api_calls(counter.clone());
    store.deny("GetObject");

    store.put_json(BUCKET, ITEMS, b"[]".to_vec()).await.unwrap();
    store.object(BUCKET, ITEMS).await.unwrap_err();
    store.object(BUCKET, ITEMS).await.unwrap_err();

    let expected = ApiCalls::from([("GetObject".to_owned(), 2), ("PutObject".to_owned(), 1)]);
    assert_eq!(
        store.calls(),
        expected,
        "the shared counter's ListRoots is not S3's"
    );
    assert_eq!(counter.snapshot().get("ListRoots"), Some(&1));
}

#[test]
#[should_panic(expected = "no operation \"GetObjects\"")]
fn a_misspelt_operation_is_refused() {
    FakeRunStore::new().deny("GetObjects");
}
