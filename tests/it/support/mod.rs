//! A local AWS for end-to-end tests: moto, started by the test itself in a child process
//! (tests/emulator/emulator.py), seeded and back-dated through its control channel, and
//! called by the function through the real SDK HTTP stack; and what the test modules share.

pub mod audit;
pub mod cloudformation;
pub mod faults;
pub mod lambda;
pub mod mocks;
pub mod triggers;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use access_key_remediator::aws::accounts::HomeAccount;
use access_key_remediator::domain::policy::{Mode, Policy};
use access_key_remediator::report::{KeyReport, Report};
use access_key_remediator::settings::Settings;
use access_key_remediator::startup::{self, AwsRemediator};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::config::Credentials;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

pub struct Emulator {
    control: Controlled,
    pub endpoint: String,
    sdk: SdkConfig,
}

/// A Python helper in a child process that prints `READY <url>` and then answers one JSON
/// command per line on stdin (emulator.py, fault_proxy.py). Killed when dropped.
pub struct Controlled {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub url: String,
}

/// A path in the crate, given relative to its root (`events/…`, `tests/emulator/…`).
pub fn project_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The project venv's Python, with the pinned moto (EMULATOR_PYTHON overrides it).
pub fn python() -> PathBuf {
    if let Ok(python) = std::env::var("EMULATOR_PYTHON") {
        return python.into();
    }
    let venv = project_path(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `make test`, which creates the venv with the pinned moto",
        venv.display()
    );
    venv
}

impl Controlled {
    /// Starts `tests/emulator/<script>` with `args` and waits for its READY line.
    pub fn start(script: &str, args: &[&str]) -> Controlled {
        let path = project_path("tests/emulator").join(script);
        let mut child = Command::new(python())
            .arg(&path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {script}: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut ready = String::new();
        stdout
            .read_line(&mut ready)
            .unwrap_or_else(|e| panic!("read {script}'s READY line: {e}"));
        let url = ready
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("{script} did not start: {ready:?}"))
            .to_owned();
        Controlled {
            child,
            stdin,
            stdout,
            url,
        }
    }

    /// Sends one command and returns its answer; panics when the helper refuses it.
    pub fn command(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").expect("write to the helper");
        self.stdin.flush().expect("flush to the helper");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read the helper's answer");
        let answer: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("helper answered {line:?}: {e}"));
        assert_eq!(
            answer["ok"],
            json!(true),
            "helper refused {command}: {answer}"
        );
        answer
    }
}

impl Drop for Controlled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SDK configuration for the function under test, calling `endpoint` with test
/// credentials and the SDK's default retries.
pub fn sdk_config_for(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iam::config::SharedCredentialsProvider::new(
            Credentials::for_tests(),
        ))
        .build()
}

impl Emulator {
    pub fn start() -> Emulator {
        Emulator::start_with(&[])
    }

    /// Started with these flags besides --control (`--step-functions`, say).
    pub fn start_with(flags: &[&str]) -> Emulator {
        let mut args = vec!["--control"];
        args.extend_from_slice(flags);
        let control = Controlled::start("emulator.py", &args);
        let endpoint = control.url.clone();
        let sdk = sdk_config_for(&endpoint);
        Emulator {
            control,
            endpoint,
            sdk,
        }
    }

    /// Sends one control command and returns its answer; panics on an emulator error.
    pub fn command(&mut self, command: Value) -> Value {
        self.control.command(command)
    }

    /// Seeds users (see emulator.py for the shape); returns name → (UserId, key ids).
    pub fn seed(&mut self, users: Value) -> BTreeMap<String, SeededUser> {
        self.seed_in(None, users)
    }

    /// Seeds users into one of moto's accounts (`None`: the default, 123456789012).
    pub fn seed_in(&mut self, account: Option<&str>, users: Value) -> BTreeMap<String, SeededUser> {
        let answer = self.command(json!({ "op": "seed", "users": users, "account": account }));
        answer["users"]
            .as_object()
            .expect("users map")
            .iter()
            .map(|(name, seeded)| {
                let user = SeededUser {
                    user_id: seeded["userId"].as_str().unwrap().to_owned(),
                    keys: seeded["keys"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| k.as_str().unwrap().to_owned())
                        .collect(),
                };
                (name.clone(), user)
            })
            .collect()
    }

    /// API calls served since the emulator started, by action, counted at the server.
    pub fn calls(&mut self) -> BTreeMap<String, u64> {
        let answer = self.command(json!({ "op": "calls" }));
        serde_json::from_value(answer["calls"].clone()).expect("calls map")
    }

    /// An empty account again, with the call counts and recorded key writes cleared.
    pub fn reset(&mut self) {
        self.command(json!({ "op": "reset" }));
    }

    /// Every user's keys (id → status) and tags, read inside the emulator: no API call, so
    /// it neither shows in the call counts nor meets a fault proxy.
    pub fn account_state(&mut self) -> BTreeMap<String, UserState> {
        self.account_state_in(None)
    }

    /// The same for one of moto's accounts (`None`: the default, 123456789012).
    pub fn account_state_in(&mut self, account: Option<&str>) -> BTreeMap<String, UserState> {
        let answer = self.command(json!({ "op": "account_state", "account": account }));
        serde_json::from_value(answer["users"].clone()).expect("users map")
    }

    /// Every UpdateAccessKey and DeleteAccessKey that reached moto since the last reset,
    /// with the key's state right before it applied (see emulator.py).
    pub fn key_writes(&mut self) -> Vec<KeyWrite> {
        let answer = self.command(json!({ "op": "key_writes" }));
        serde_json::from_value(answer["writes"].clone()).expect("writes list")
    }

    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    pub fn remediator(&self, settings: Settings) -> AwsRemediator {
        startup::from_sdk_config(settings, &self.sdk)
    }

    /// Key id → status ("Active"/"Inactive"), read back through IAM.
    pub async fn key_states(&self, user_name: &str) -> BTreeMap<String, String> {
        let out = self
            .iam()
            .list_access_keys()
            .user_name(user_name)
            .send()
            .await
            .expect("ListAccessKeys");
        out.access_key_metadata()
            .iter()
            .map(|k| {
                (
                    k.access_key_id().unwrap().to_owned(),
                    k.status().unwrap().as_str().to_owned(),
                )
            })
            .collect()
    }

    pub async fn tags(&self, user_name: &str) -> BTreeMap<String, String> {
        let out = self
            .iam()
            .list_user_tags()
            .user_name(user_name)
            .send()
            .await
            .expect("ListUserTags");
        out.tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct UserState {
    pub keys: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// A key write as it reached moto, and the key just before it applied.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyWrite {
    pub action: String,
    pub user_name: String,
    pub access_key_id: String,
    pub requested_status: Option<String>,
    pub found: bool,
    pub status: Option<String>,
    pub create_date: Option<String>,
    pub last_used_date: Option<String>,
    pub marker: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone)]
pub struct SeededUser {
    pub user_id: String,
    pub keys: Vec<String>,
}

/// An account with one user of each kind a sweep meets, in emulator.py's seed shape: a key
/// past its grace period, an inactive key not yet marked, an over-age key no event came for
/// (beside a young one), a young user, and an exempt user.
pub fn sweep_account() -> Vec<Value> {
    vec![
        json!({ "name": "past-grace", "keys": [{ "ageDays": 200, "status": "Inactive", "markerDaysAgo": 20 }] }),
        json!({ "name": "unmarked", "keys": [{ "ageDays": 150, "status": "Inactive" }] }),
        json!({ "name": "no-event-came", "keys": [{ "ageDays": 120, "lastUsedDaysAgo": 1 }, { "ageDays": 5 }] }),
        json!({ "name": "young", "keys": [{ "ageDays": 30 }] }),
        json!({ "name": "exempt", "tags": { "access-key-remediator:exempt": "true" },
                "keys": [{ "ageDays": 500 }] }),
    ]
}

/// An EventBridge "Config Rules Compliance Change" payload, as the files in events/ are.
pub fn compliance_event(user_id: &str) -> Value {
    let mut event = fixture("non-compliant-alice.json");
    event["detail"]["resourceId"] = json!(user_id);
    event
}

pub fn fixture(name: &str) -> Value {
    let path = project_path("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The ARN Lambda invokes the function under in these tests: in moto's default account, the
/// one every event in events/ names (but the member account's).
pub const FUNCTION_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:access-key-remediator";

/// The function's own account, as the handler reads it from `FUNCTION_ARN`: what a test that
/// calls `Remediator::run` itself passes as `home`.
pub fn home() -> Option<HomeAccount> {
    let home = HomeAccount::from_function_arn(FUNCTION_ARN);
    assert!(home.is_some(), "{FUNCTION_ARN} is a Lambda function ARN");
    home
}

/// An invocation as a test makes it: `Context::default()` (no deadline) invoked under
/// `FUNCTION_ARN`. Without an invoked ARN the function does not know its own account and
/// refuses every event that names one.
pub fn invocation(payload: Value) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.invoked_function_arn = FUNCTION_ARN.to_owned();
    LambdaEvent::new(payload, context)
}

/// The function's settings (`Settings::default()`) in `mode`.
pub fn settings(mode: Mode) -> Settings {
    Settings {
        policy: Policy {
            mode,
            ..Policy::default()
        },
        ..Settings::default()
    }
}

/// Every key of every user in the report, in report order.
pub fn keys_of(report: &Report) -> impl Iterator<Item = &KeyReport> {
    report.users.iter().flat_map(|user| &user.keys)
}

/// IAM actions that change something.
pub const IAM_WRITES: [&str; 4] = ["UpdateAccessKey", "DeleteAccessKey", "TagUser", "UntagUser"];

pub fn writes(calls: &BTreeMap<String, u64>) -> u64 {
    IAM_WRITES.iter().filter_map(|w| calls.get(*w)).sum()
}

/// Grace clocks written as the function writes them, for a test to start from.
impl Emulator {
    /// Sets `user`'s state tag to these clocks (`<AccessKeyId>=<RFC 3339>`, space-separated,
    /// to the second) through IAM: one TagUser, which the emulator counts.
    pub async fn set_clocks(&self, user: &str, clocks: &[(&str, time::OffsetDateTime)]) {
        let entries: Vec<String> = clocks
            .iter()
            .map(|(key_id, at)| {
                let at = at.replace_nanosecond(0).expect("0 is a valid nanosecond");
                let at = at
                    .format(&time::format_description::well_known::Rfc3339)
                    .expect("a UTC instant formats");
                format!("{key_id}={at}")
            })
            .collect();
        let tag = aws_sdk_iam::types::Tag::builder()
            .key(audit::STATE_TAG)
            .value(entries.join(" "))
            .build()
            .expect("key and value are set");
        self.iam()
            .tag_user()
            .user_name(user)
            .tags(tag)
            .send()
            .await
            .expect("TagUser of the state tag");
    }
}
