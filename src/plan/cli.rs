//! The binary's command line. Lambda runs it with no arguments and AWS_LAMBDA_RUNTIME_API
//! set, and then nothing is parsed, so a cold start pays nothing for it. From a shell it takes
//! `plan`; bare, it prints how to use it instead of failing to reach a runtime API.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// The variable Lambda sets for a custom runtime: where to poll for invocations.
pub const RUNTIME_API_VARIABLE: &str = "AWS_LAMBDA_RUNTIME_API";

#[derive(Debug, Parser)]
#[command(
    version,
    about = "access-key-remediator: deactivates, then deletes, over-age IAM access keys",
    long_about = None,
    after_help = "Deployed, Lambda runs this binary with no arguments (AWS_LAMBDA_RUNTIME_API \
                  set). From a shell, `plan` shows what it would do to your account, and \
                  writes nothing.",
    subcommand_required = true,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Shows what a sweep would do to each key of the account, making no write call.
    ///
    /// Credentials come from the standard AWS chain (environment, profile, SSO, instance
    /// role); the function's settings (REMEDIATION_MODE, MAX_KEY_AGE_DAYS, …) from the
    /// environment, as deployed.
    Plan(PlanArgs),
}

/// `plan`'s options.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct PlanArgs {
    /// The AWS profile to take credentials and region from (else AWS_PROFILE, or the default).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The region to call IAM through (else the profile's or AWS_REGION; IAM is global).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Prints the full report as JSON (the function's report shape) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What this run of the binary is.
#[derive(Debug)]
pub enum Invocation {
    /// Inside Lambda: serve invocations.
    Lambda,
    Plan(PlanArgs),
    /// Help asked for, or arguments that are not ours: clap's message and exit code.
    Refused(clap::Error),
}

/// Reads the process's own arguments and environment.
pub fn invocation() -> Invocation {
    let in_lambda = std::env::var_os(RUNTIME_API_VARIABLE).is_some();
    if in_lambda && std::env::args_os().len() <= 1 {
        return Invocation::Lambda;
    }
    invocation_from(std::env::args_os())
}

/// What these arguments (the program's name first) ask for, outside the Lambda runtime.
pub fn invocation_from<I, T>(args: I) -> Invocation
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(Cli {
            command: Command::Plan(args),
        }) => Invocation::Plan(args),
        Err(error) => Invocation::Refused(error),
    }
}

/// Prints clap's message (help to stdout; usage errors, and the help a bare run gets, to
/// stderr) and gives its exit code: 0 for `--help` and `--version`, 2 otherwise.
pub fn refuse(error: &clap::Error) -> ExitCode {
    // A closed stream loses the message, not the exit code.
    let _ = error.print();
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
}
