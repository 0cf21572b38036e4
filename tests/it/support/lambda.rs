//! The real function binary in separate processes, each polling its own Lambda Runtime API
//! (tests/emulator/runtime_api.py), so that several execution environments can be handed
//! events at the same instant. Every process is killed when this is dropped.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use super::Controlled;

pub struct FunctionProcesses {
    // Declared first, so dropped first: the processes go before their runtime API.
    functions: PollingFunctions,
    runtime: Controlled,
    /// How far apart the last `invoke_at_once` handed out its events, in milliseconds.
    pub last_release_spread_ms: f64,
}

/// One function's answer to an invocation.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The report it returned.
    Report(Value),
    /// What it posted to the runtime API's error endpoint.
    Error(Value),
}

impl Answer {
    pub fn report(&self) -> Option<&Value> {
        match self {
            Answer::Report(report) => Some(report),
            Answer::Error(_) => None,
        }
    }
}

impl FunctionProcesses {
    /// Starts `count` processes of the function binary, configured as `template.yaml`
    /// configures it (delete mode, adaptive retries with 8 attempts), calling AWS at
    /// `endpoint`. Their logs go to files under the target directory, kept when the test fails.
    pub fn start(count: usize, endpoint: &str, test_name: &str) -> FunctionProcesses {
        let count_arg = count.to_string();
        let runtime = Controlled::start("runtime_api.py", &["--functions", &count_arg]);
        let apis: Vec<String> = runtime.url.split_whitespace().map(str::to_owned).collect();
        assert_eq!(apis.len(), count, "one runtime API per function");
        let (processes, logs) = apis
            .iter()
            .enumerate()
            .map(|(n, api)| spawn_function((api, endpoint), &[], (test_name, n)))
            .unzip();
        FunctionProcesses {
            functions: PollingFunctions { processes, logs },
            runtime,
            last_release_spread_ms: 0.0,
        }
    }

    /// Hands payload n to process n, all at the same instant once every chosen process is
    /// polling (`None`: that process gets nothing), and waits for every answer.
    pub fn invoke_at_once(&mut self, payloads: &[Option<Value>]) -> Vec<Option<Answer>> {
        let answer = self
            .runtime
            .command(json!({ "op": "invoke", "payloads": payloads }));
        self.last_release_spread_ms = answer["releaseSpreadMs"].as_f64().unwrap_or(f64::NAN);
        answer["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|result| {
                if result.is_null() {
                    None
                } else if let Some(error) = result.get("error") {
                    Some(Answer::Error(error.clone()))
                } else {
                    Some(Answer::Report(result["response"].clone()))
                }
            })
            .collect()
    }

    /// Invokes process `n` alone and waits for its answer.
    pub fn invoke_one(&mut self, n: usize, payload: Value) -> Answer {
        let mut payloads = vec![None; self.functions.processes.len()];
        payloads[n] = Some(payload);
        self.invoke_at_once(&payloads)
            .swap_remove(n)
            .expect("the invoked process answers")
    }
}

/// Processes of the function binary that all poll one Lambda Runtime API (the emulator's, with
/// --step-functions), as Lambda's execution environments take invocations from one function's
/// queue: each takes the next invocation when it is free. Killed when dropped; their logs are
/// kept only when the test fails, to find out why.
pub struct PollingFunctions {
    processes: Vec<Child>,
    pub logs: Vec<PathBuf>,
}

impl PollingFunctions {
    /// Starts `count` processes polling `runtime_api`, calling AWS at `endpoint`, configured
    /// as `template.yaml` configures the function plus `settings`.
    pub fn start(
        count: usize,
        (runtime_api, endpoint): (&str, &str),
        settings: &[(&str, &str)],
        test_name: &str,
    ) -> PollingFunctions {
        let (processes, logs) = (0..count)
            .map(|n| spawn_function((runtime_api, endpoint), settings, (test_name, n)))
            .unzip();
        PollingFunctions { processes, logs }
    }
}

impl Drop for PollingFunctions {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.kill();
            let _ = process.wait();
        }
        if !std::thread::panicking() {
            for log in &self.logs {
                let _ = std::fs::remove_file(log);
            }
        }
    }
}

/// Starts one process of the function binary polling `runtime_api`, its log in a file under
/// the target directory (kept when the test fails).
fn spawn_function(
    (runtime_api, endpoint): (&str, &str),
    settings: &[(&str, &str)],
    (test_name, n): (&str, usize),
) -> (Child, PathBuf) {
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{test_name}-{}-function-{n}.log",
        std::process::id()
    ));
    let output = File::create(&log).expect("create the function's log file");
    let child = Command::new(env!("CARGO_BIN_EXE_access-key-remediator"))
        .env_clear()
        .envs(function_environment(runtime_api, endpoint))
        .envs(settings.iter().copied())
        .stdin(Stdio::null())
        .stdout(output.try_clone().expect("log file handle"))
        .stderr(output)
        .spawn()
        .expect("start the function binary");
    (child, log)
}

/// The environment Lambda and `template.yaml` give the function, calling AWS at `endpoint`.
fn function_environment<'a>(runtime_api: &'a str, endpoint: &'a str) -> [(&'a str, &'a str); 13] {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", "access-key-remediator"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDCONCURRENCYTEST"),
        ("AWS_SECRET_ACCESS_KEY", "concurrency-test-secret"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_RETRY_MODE", "adaptive"),
        ("AWS_MAX_ATTEMPTS", "8"),
        ("REMEDIATION_MODE", "delete"),
    ]
}
