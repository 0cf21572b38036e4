use std::process::ExitCode;

use access_key_remediator::plan::{self, cli::Invocation};
use access_key_remediator::{handler::respond, startup};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<ExitCode, Error> {
    match plan::cli::invocation() {
        // Boxed (one allocation per container): inline, the runtime's deeply nested future
        // beside the plan's overflows rustc's layout query depth.
        Invocation::Lambda => Box::pin(lambda()).await.map(|()| ExitCode::SUCCESS),
        Invocation::Plan(args) => Ok(plan::run(args).await),
        Invocation::Refused(error) => Ok(plan::cli::refuse(&error)),
    }
}

/// The function as Lambda runs it: one remediator per container, then every invocation.
async fn lambda() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let remediator = startup::from_env().await.inspect_err(|error| {
        tracing::error!(%error, "invalid configuration; the function cannot start");
    })?;
    lambda_runtime::run(service_fn(|event| respond(&remediator, event))).await
}
