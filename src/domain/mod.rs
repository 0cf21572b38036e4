//! The product's rules, free of AWS and Lambda: what to do with a key, and why.

pub mod policy;
