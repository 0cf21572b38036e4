//! The integration tests, in one binary: the adapters against mocked SDK transports, the
//! handler end to end against moto (started by each test in a child process), the fault matrix,
//! the function binary racing itself, and the deployment templates read as data. One binary
//! links the crate and its SDK dependencies once; `support` holds what the modules share.
//!
//! Select a module by its path: `cargo test --test it fault_matrix::`.

mod architecture;
mod clocks;
mod concurrency;
mod config_adapter;
mod cross_account;
mod end_to_end;
mod fault_matrix;
mod finding_paths;
mod findings_adapter;
mod handler;
mod iam_adapter;
mod iam_limits;
mod log_hygiene;
mod notices;
mod notification_filter;
mod org_paths;
mod org_sweep;
mod organizations_adapter;
mod plan;
mod report_size;
mod run_store_adapter;
mod stack_policy;
mod support;
mod sweep;
mod triggers_e2e;
mod warnings;
