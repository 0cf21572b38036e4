#!/usr/bin/env bash
# `make plan`: the operator's read-only plan (`bootstrap plan`) against the seeded local AWS.
#   1. moto, seeded from tests/emulator/demo-account.json and demo-triggers.json, as `make demo`;
#   2. `cargo run --release -- plan`, with the emulator as its endpoint and demo credentials
#      (the standard AWS chain reads AWS_ENDPOINT_URL and AWS_ACCESS_KEY_ID like any other);
#   3. the write calls the emulator served meanwhile, counted at the server: none.
# Arguments are passed to `plan` (`tests/emulator/plan.sh --json`); PLAN_BIN=path runs that
# binary instead of `cargo run --release`; PLAN_USERS=N plans `make bench`'s account of N users
# instead of the demo's. The emulator is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ -n "${PLAN_BIN:-}" ]]; then RUN=("$PLAN_BIN"); else RUN=(cargo run --release --quiet --); fi
LOG_DIR=$(mktemp -d)
CONTROL="$LOG_DIR/control"
mkfifo "$CONTROL"
EMULATOR_PID=

cleanup() {
    exec 3>&- 2>/dev/null || true
    [[ -n "$EMULATOR_PID" ]] && kill "$EMULATOR_PID" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$LOG_DIR"
}
trap cleanup EXIT

heading() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

if [[ -n "${PLAN_USERS:-}" ]]; then
    # `make bench`'s account: O(1) GetAccessKeyLastUsed, as the bench runs it.
    SEED=(--index-access-keys)
    heading "Starting the local AWS emulator (moto), to seed with $PLAN_USERS users as \`make bench\` does"
else
    SEED=(--seed tests/emulator/demo-account.json --seed tests/emulator/demo-triggers.json)
    heading "Starting the local AWS emulator (moto), seeded with the demo account"
fi
# --control, on a pipe we hold open: after the plan, it says what calls it served.
.venv/bin/python tests/emulator/emulator.py --port 0 --control "${SEED[@]}" \
    <"$CONTROL" >"$LOG_DIR/emulator.out" 2>"$LOG_DIR/emulator.log" &
EMULATOR_PID=$!
exec 3>"$CONTROL"
for _ in $(seq 1 150); do
    grep -q '^READY ' "$LOG_DIR/emulator.out" 2>/dev/null && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$LOG_DIR/emulator.log" >&2; exit 1; }
    sleep 0.2
done
ENDPOINT=$(sed -n 's/^READY //p' "$LOG_DIR/emulator.out")
[[ -n "$ENDPOINT" ]] || { echo "the emulator did not start" >&2; cat "$LOG_DIR/emulator.log" >&2; exit 1; }
echo "emulator at $ENDPOINT" >&2

ANSWERS=1 # the READY line
control() { # control JSON: one command on the emulator's control channel; prints its answer
    echo "$1" >&3
    ANSWERS=$((ANSWERS + 1))
    for _ in $(seq 1 100); do
        [[ $(wc -l <"$LOG_DIR/emulator.out") -ge $ANSWERS ]] && break
        sleep 0.05
    done
    sed -n "${ANSWERS}p" "$LOG_DIR/emulator.out"
}
if [[ -n "${PLAN_USERS:-}" ]]; then
    # The bench's population (bench/sweep_bench.py's defaults): 10% over age, 2% pending.
    control "{\"op\": \"seed\", \"population\": {\"users\": $PLAN_USERS, \"overAgePercent\": 10, \"pendingPercent\": 2, \"seed\": 1}}" >&2
fi
# The seed's own grace clocks went through TagUser: count from here.
CALLS_BEFORE=$(control '{"op": "calls"}')

heading "cargo run --release -- plan $* (against a real account: add --profile NAME)"
env AWS_ENDPOINT_URL="$ENDPOINT" AWS_REGION=us-east-1 AWS_ACCOUNT_ID=123456789012 \
    AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "${RUN[@]}" plan "$@"

heading "Write calls the emulator served during the plan, counted at the server"
CALLS_AFTER=$(control '{"op": "calls"}')
.venv/bin/python - "$CALLS_BEFORE" "$CALLS_AFTER" <<'PY'
import json, sys
before, after = (json.loads(answer)["calls"] for answer in sys.argv[1:])
writes = {action: after.get(action, 0) - before.get(action, 0)
          for action in ("UpdateAccessKey", "DeleteAccessKey", "TagUser", "UntagUser")}
print(", ".join(f"{action} {count}" for action, count in writes.items()))
sys.exit(1 if any(writes.values()) else 0)
PY
