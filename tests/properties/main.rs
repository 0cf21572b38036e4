//! The property tests, one binary: the pure policy's safety invariants (`policy`, `unused_key`
//! for an Access Analyzer finding's one key, and `warnings` for warnings before action), the
//! organisation sweep's plan and tag inheritance (`org`), and hostile payloads through the
//! trigger intake (`intake`). None makes an AWS call, so they build and run without the
//! emulator.
//!
//! `PROPTEST_CASES` sets the count (256 when unset); a module name filters, as in
//! `PROPTEST_CASES=100000 cargo test --release --test properties policy::`
//! (what `make soak-properties` runs, with `intake::` at 1,000,000).

mod intake;
mod org;
mod policy;
mod unused_key;
mod warnings;
