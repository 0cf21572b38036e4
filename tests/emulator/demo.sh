#!/usr/bin/env bash
# `make demo`: runs the release function against a seeded local AWS and shows what it did.
#   1. moto, seeded from tests/emulator/demo-account.json (alice, bob, carol, 300 fillers) and
#      tests/emulator/demo-triggers.json (dave, the Config rules, alice's IAM.3 finding in
#      Security Hub, an unused-access analyzer and its finding on dave's idle key);
#   2. cargo lambda's runtime API emulator (`watch --only-lambda-apis`) and the release
#      bootstrap polling it, exactly as Lambda runs it;
#   3. the single-account payloads in events/, sent with `cargo lambda invoke`: the Config
#      events, then one of each other trigger (a managed rule under the names AWS generates,
#      Security Hub findings, an Access Analyzer finding);
#   4. the key states before and after, the Security Hub findings after, and the function's
#      peak RSS.
# Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

BOOTSTRAP=${1:-target/lambda/access-key-remediator/bootstrap}
EMULATOR_PORT=${EMULATOR_PORT:-5055}
RUNTIME_PORT=${RUNTIME_PORT:-9055}
ENDPOINT="http://127.0.0.1:${EMULATOR_PORT}"
LOG_DIR=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

wait_for() { # wait_for FILE PATTERN WHAT
    for _ in $(seq 1 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "timed out waiting for $3; its log:" >&2
    cat "$1" >&2
    exit 1
}

heading() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

heading "Starting the local AWS emulator (moto) on $ENDPOINT, seeded with the demo account"
.venv/bin/python tests/emulator/emulator.py --port "$EMULATOR_PORT" \
    --seed tests/emulator/demo-account.json --seed tests/emulator/demo-triggers.json \
    >"$LOG_DIR/emulator.log" 2>&1 &
PIDS+=($!)
wait_for "$LOG_DIR/emulator.log" READY "the emulator"

heading "Key states before"
.venv/bin/python tests/emulator/show_keys.py "$ENDPOINT" alice bob carol dave

heading "Owner notices go to an SNS topic, with an SQS queue subscribed to read them back"
NOTICE_TOPIC_ARN=$(.venv/bin/python tests/emulator/show_notices.py subscribe "$ENDPOINT")
echo "$NOTICE_TOPIC_ARN"

heading "Starting the Lambda runtime API (cargo lambda watch --only-lambda-apis) and the release bootstrap"
cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$RUNTIME_PORT" \
    >"$LOG_DIR/watch.log" 2>&1 &
PIDS+=($!)
sleep 1
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$RUNTIME_PORT") 2>/dev/null && break
    sleep 0.2
done

env AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:${RUNTIME_PORT}/.rt" \
    AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 \
    AWS_ENDPOINT_URL="$ENDPOINT" AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_ACCOUNT_ID=123456789012 \
    REMEDIATION_MODE=delete MAX_KEY_AGE_DAYS=90 DELETE_AFTER_INACTIVE_DAYS=14 AWS_LAMBDA_LOG_FORMAT=JSON \
    NOTICE_TOPIC_ARN="$NOTICE_TOPIC_ARN" \
    "$BOOTSTRAP" >"$LOG_DIR/function.log" 2>&1 &
FUNCTION_PID=$!
PIDS+=("$FUNCTION_PID")

invoke() { # invoke EVENT: prints the report's keys, then its source, warnings and AWS calls
    heading "Invoking with $1"
    cargo lambda invoke _ --invoke-address 127.0.0.1 --invoke-port "$RUNTIME_PORT" \
        --data-file "$1" 2>&1 | grep -v -e 'Was this behavior unexpected' -e 'Start a thread in' \
        >"$LOG_DIR/response.json" || true
    .venv/bin/python tests/emulator/show_report.py <"$LOG_DIR/response.json"
    .venv/bin/python tests/emulator/show_source.py <"$LOG_DIR/response.json"
}

for event in \
    events/non-compliant-alice.json \
    events/non-compliant-alice.json \
    events/non-compliant-bob-exempt.json \
    events/non-compliant-carol-legacy.json \
    events/non-compliant-deleted-user.json \
    events/compliant-alice.json \
    events/other-rule.json \
    events/non-user-resource.json \
    events/scheduled-sweep.json \
    events/malformed-missing-resource-id.json; do
    invoke "$event"
done

# The other triggers. The renamed rules are Config's ACCESS_KEYS_ROTATED under the names
# Security Hub, an organisation rule and a conformance pack give it (alice's old key is
# already deactivated: pending); the conformance pack's rule is not in Config, so its name
# decides. Then alice's IAM.3 finding (resolved afterwards), the same finding suppressed, and
# Access Analyzer's finding on dave's idle key (deactivated by the analyzer's 60 days, as our
# own reading of its last use agrees; his other key is not the finding's).
for event in \
    events/non-compliant-securityhub-rule.json \
    events/non-compliant-org-rule.json \
    events/non-compliant-conformance-pack-rule.json \
    events/security-hub-iam3.json \
    events/security-hub-suppressed.json \
    events/access-analyzer-unused-key.json; do
    invoke "$event"
done

heading "Key states after"
.venv/bin/python tests/emulator/show_keys.py "$ENDPOINT" alice bob carol dave

heading "Security Hub findings after (GetFindings)"
.venv/bin/python tests/emulator/show_findings.py "$ENDPOINT"

heading "Owner notices (SNS; the first one's text)"
.venv/bin/python tests/emulator/show_notices.py show "$ENDPOINT"

heading "The function's first log lines (JSON, as Lambda's advanced logging controls set it)"
grep -m 2 '"key decision"' "$LOG_DIR/function.log"
grep -m 1 '"invocation summary"' "$LOG_DIR/function.log"

heading "Its first CloudWatch Embedded Metric Format line (metrics from logs, no API call)"
grep -m 1 '"_aws"' "$LOG_DIR/function.log"

heading "Function process"
grep -E 'VmHWM' "/proc/$FUNCTION_PID/status" | sed 's/VmHWM:/peak RSS (VmHWM):/'
echo "function log: $LOG_DIR/function.log ($(wc -l <"$LOG_DIR/function.log") lines)"
