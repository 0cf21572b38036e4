//! Expiry on synthetic instants: a hit strictly before the TTL, a miss at and after it.

use super::*;

const TTL: Duration = Duration::from_secs(900);

fn cache() -> TtlCache<&'static str, u32> {
    TtlCache::new(TTL)
}

#[test]
fn a_value_is_found_until_just_before_the_ttl() {
    let cache = cache();
    let start = Instant::now();
    cache.insert("111122223333", 7, start);
    assert_eq!(cache.get(&"111122223333", start), Some(7));
    assert_eq!(cache.get(&"111122223333", start + TTL / 2), Some(7));
    let just_before = start + TTL - Duration::from_nanos(1);
    assert_eq!(cache.get(&"111122223333", just_before), Some(7));
}

#[test]
fn a_value_expires_at_the_ttl_and_stays_expired() {
    let cache = cache();
    let start = Instant::now();
    cache.insert("111122223333", 7, start);
    assert_eq!(cache.get(&"111122223333", start + TTL), None);
    assert_eq!(cache.get(&"111122223333", start + TTL * 3), None);
}

#[test]
fn a_missing_key_is_a_miss() {
    assert_eq!(cache().get(&"111122223333", Instant::now()), None);
}

#[test]
fn a_zero_ttl_never_hits() {
    let cache = TtlCache::new(Duration::ZERO);
    let now = Instant::now();
    cache.insert("111122223333", 7, now);
    assert_eq!(cache.get(&"111122223333", now), None);
    assert_eq!(cache.ttl(), Duration::ZERO);
}

#[test]
fn an_overwrite_replaces_the_value_and_restarts_its_ttl() {
    let cache = cache();
    let start = Instant::now();
    cache.insert("111122223333", 7, start);
    let later = start + TTL / 2;
    cache.insert("111122223333", 8, later);
    // Past the first insert's expiry, within the second's.
    assert_eq!(cache.get(&"111122223333", start + TTL), Some(8));
    assert_eq!(cache.get(&"111122223333", later + TTL), None);
}

#[test]
fn keys_expire_and_change_independently() {
    let cache = cache();
    let start = Instant::now();
    cache.insert("111122223333", 1, start);
    cache.insert("444455556666", 2, start + TTL / 2);
    let between = start + TTL;
    assert_eq!(cache.get(&"111122223333", between), None);
    assert_eq!(cache.get(&"444455556666", between), Some(2));
    cache.insert("111122223333", 3, between);
    assert_eq!(cache.get(&"444455556666", between), Some(2));
    assert_eq!(cache.get(&"111122223333", between), Some(3));
}

#[test]
fn the_ttl_is_the_one_given() {
    assert_eq!(cache().ttl(), TTL);
}
