//! The product's rules, free of AWS, Lambda, settings and the clock: what to do with a key,
//! and why. Everything here is a pure function of its arguments.

pub mod arn;
pub mod exemption;
pub mod grace;
pub mod ids;
pub mod limits;
pub mod marker;
pub mod mode;
pub mod nomination;
pub mod notice;
pub mod org;
pub mod policy;
pub mod rules;
pub mod user;
