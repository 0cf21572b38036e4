use access_key_remediator::{handler::handle, startup};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let remediator = startup::from_env().await.inspect_err(|error| {
        tracing::error!(%error, "invalid configuration; the function cannot start");
    })?;
    lambda_runtime::run(service_fn(|event| handle(&remediator, event))).await
}
