# Every target installs what it needs: a project-local .venv with pinned moto, cargo-lambda,
# ziglang and cfn-lint (tests/emulator/requirements.txt, constraints.txt).
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

FUNCTION := access-key-remediator
BOOTSTRAP := target/lambda/$(FUNCTION)/bootstrap
EMULATOR_PORT ?= 5055
EVENT ?= events/non-compliant-alice.json
BENCH_USERS ?= 10000
# Cloud Custodian gets its own venv: c7n pins boto3 and cryptography versions that differ
# from moto's (bench/requirements.txt says which).
BENCH_VENV := .venv-bench

.PHONY: help venv build build-arm64 test soak soak-properties soak-faults soak-concurrency lint demo emulator invoke clean

help:
	@echo "make demo        run the function on a seeded local AWS emulator and show what it did"
	@echo "make test        run every test (policy, adapters, end to end against moto)"
	@echo "make soak        property tests at full counts, the fault matrix and the process races"
	@echo "make lint        rustfmt, clippy -D warnings, cfn-lint"
	@echo "make build       release build for Lambda (cargo lambda, host architecture)"
	@echo "make build-arm64 release build for Lambda on arm64 (Graviton), as template.yaml deploys"
	@echo "make emulator    start the seeded emulator on 127.0.0.1:$(EMULATOR_PORT) until Ctrl-C"
	@echo "make invoke EVENT=events/....json   invoke a function started with 'cargo lambda watch'"
	@echo "make clean       remove build output and the venv"

venv: $(VENV)/.installed

$(VENV)/.installed: tests/emulator/requirements.txt tests/emulator/constraints.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check \
		-r tests/emulator/requirements.txt -c tests/emulator/constraints.txt
	touch $@

build: venv
	cargo lambda build --release --output-format zip
	cargo lambda build --release

build-arm64: venv
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || \
		rustup target add aarch64-unknown-linux-gnu
	cargo lambda build --release --arm64 --output-format zip

# --all-targets: the crate has no doc tests, and a closing "0 passed" would end the log.
test: venv
	cargo test --all-targets

# The property tests at full strength (release build): 100,000 cases per policy invariant and
# 1,000,000 hostile payloads per intake property. `make test` runs them at 256 cases.
# Then the fault matrix with FAULT_SEEDS seeds per scenario and the multi-process races with
# CONCURRENCY_REPEATS repetitions (`make test`: seeds 7-8 and 10); both print their summaries.
FAULT_SEEDS ?= 1-100
FAULT_LANES ?= 5
CONCURRENCY_REPEATS ?= 200
soak: soak-properties soak-faults soak-concurrency

soak-properties:
	PROPTEST_CASES=100000 cargo test --release --test policy_invariants
	PROPTEST_CASES=1000000 cargo test --release --test intake_fuzz

soak-faults: venv
	FAULT_SEEDS=$(FAULT_SEEDS) FAULT_LANES=$(FAULT_LANES) \
		cargo test --release --test fault_matrix -- --nocapture --test-threads 1

soak-concurrency: venv
	CONCURRENCY_REPEATS=$(CONCURRENCY_REPEATS) \
		cargo test --release --test concurrency -- --nocapture --test-threads 1

lint: venv
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cfn-lint template.yaml

demo: venv build
	tests/emulator/demo.sh $(BOOTSTRAP)

emulator: venv
	$(PYTHON) tests/emulator/emulator.py --port $(EMULATOR_PORT) --seed tests/emulator/demo-account.json

invoke: venv
	cargo lambda invoke $(FUNCTION) --data-file $(EVENT)

# Our scheduled sweep against Cloud Custodian on the same seeded account (bench/sweep_bench.py);
# BENCH_USERS=N sets the account's size. Prints a table and writes target/bench/sweep.json.
.PHONY: bench
bench: venv build $(BENCH_VENV)/.installed
	BENCH_USERS=$(BENCH_USERS) $(PYTHON) bench/sweep_bench.py \
		--bootstrap $(BOOTSTRAP) --custodian $(BENCH_VENV)/bin/custodian

$(BENCH_VENV)/.installed: bench/requirements.txt
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

clean:
	cargo clean
	rm -rf $(VENV) $(BENCH_VENV)
