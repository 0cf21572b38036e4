//! The SDK-backed implementations of `crate::ports`.

pub mod api_calls;
pub mod config;
pub mod iam;
