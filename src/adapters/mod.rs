//! The SDK-backed implementations of `crate::ports`.

pub mod config;
pub mod iam;
