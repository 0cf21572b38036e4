//! access-key-remediator: acts on AWS Config `access-keys-rotated` NON_COMPLIANT events, and on
//! a scheduled sweep, by deactivating over-age IAM access keys and, after a recorded grace
//! period of inactivity, deleting them.
//!
//! The layers, each importing only those listed before it:
//! - `domain`: the pure rules (policy, marker, exemption, nomination, ids);
//! - `report` and `settings`: the report's vocabulary and shape; the typed configuration;
//! - `aws`: the ports (narrow traits) beside their SDK adapters, and an in-memory fake;
//! - `triggers`: each kind of invocation, payload to unit of work;
//! - `remediate`: the pipeline, one stage per file;
//! - `handler` and `plan`: one invocation, start to Lambda result; the operator's read-only
//!   preview of a sweep, run from a shell;
//! - `startup`: the composition root, built once per container.

// Test tables may run long; the code they test may not.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod aws;
pub mod domain;
pub mod handler;
pub mod plan;
pub mod remediate;
pub mod report;
pub mod settings;
pub mod startup;
pub mod triggers;
