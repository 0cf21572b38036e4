# Every target installs what it needs: a project-local .venv with pinned moto, cargo-lambda,
# ziglang, cfn-lint and localstack-core (tests/emulator/requirements.txt, constraints.txt).
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

FUNCTION := access-key-remediator
BOOTSTRAP := target/lambda/$(FUNCTION)/bootstrap
EMULATOR_PORT ?= 5055
EVENT ?= events/non-compliant-alice.json
BENCH_USERS ?= 10000
# Milliseconds each IAM and STS request waits in the emulator during the benchmarks (IAM's own
# latency; moto answers in about 1 ms).
BENCH_IAM_LATENCY_MS ?= 30
# `make bench-org`: member accounts, users in each, and the Map's concurrency (function processes).
BENCH_ACCOUNTS ?= 200
BENCH_ORG_USERS ?= 100
BENCH_MAP_CONCURRENCY ?= 10
# Cloud Custodian gets its own venv: c7n pins boto3 and cryptography versions that differ
# from moto's (bench/requirements.txt says which).
BENCH_VENV := .venv-bench
# checkov and the SAM CLI get a venv each: their pins conflict with moto's and with each
# other's (tools/checkov-requirements.txt and tools/sam-requirements.txt say which).
LINT_VENV := .venv-lint
SAM_VENV := .venv-sam
# Cargo tools, built from crates.io at pinned versions into a project-local folder.
TOOLS := $(CURDIR)/.tools
CARGO_DENY_VERSION := 0.20.2

.PHONY: help venv build build-arm64 test soak soak-properties soak-faults soak-concurrency lint lint-templates deny sam-build demo plan emulator invoke clean

help:
	@echo "make demo        run the function on a seeded local AWS emulator and show what it did"
	@echo "make plan        what the function would do to the seeded emulator's account, writing nothing"
	@echo "make test        run every test (policy, adapters, end to end against moto)"
	@echo "make soak        property tests at full counts, the fault matrix and the process races"
	@echo "make lint        rustfmt, clippy -D warnings, and lint-templates"
	@echo "make lint-templates  cfn-lint and checkov on template.yaml and member-account.yaml"
	@echo "make deny        cargo-deny: licences, bans, sources, and RustSec advisories (deny.toml)"
	@echo "make sam-build   sam build --beta-features: .aws-sam/build/RemediatorFunction/bootstrap (arm64)"
	@echo "make build       release build for Lambda (cargo lambda, host architecture)"
	@echo "make build-arm64 release build for Lambda on arm64 (Graviton), as template.yaml deploys"
	@echo "make bench       our scheduled sweep against Cloud Custodian (BENCH_USERS, BENCH_IAM_LATENCY_MS)"
	@echo "make bench-org   the organisation sweep's Map against the sequential sweep (BENCH_ACCOUNTS, BENCH_ORG_USERS)"
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
	PROPTEST_CASES=100000 cargo test --release --test properties policy::
	PROPTEST_CASES=1000000 cargo test --release --test properties intake::
	PROPTEST_CASES=100000 cargo test --release --test properties unused_key::

soak-faults: venv
	FAULT_SEEDS=$(FAULT_SEEDS) FAULT_LANES=$(FAULT_LANES) \
		cargo test --release --test it fault_matrix:: -- --nocapture --test-threads 1

soak-concurrency: venv
	CONCURRENCY_REPEATS=$(CONCURRENCY_REPEATS) \
		cargo test --release --test it concurrency:: -- --nocapture --test-threads 1

lint: lint-templates
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

TEMPLATES := template.yaml member-account.yaml

# --skip-download: checkov runs offline, on its bundled checks only.
lint-templates: venv $(LINT_VENV)/.installed
	cfn-lint $(TEMPLATES)
	$(LINT_VENV)/bin/checkov --framework cloudformation --skip-download --quiet --compact \
		$(addprefix -f ,$(TEMPLATES))

$(LINT_VENV)/.installed: tools/checkov-requirements.txt
	python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r tools/checkov-requirements.txt
	touch $@

# SAM's rust-cargolambda build (a beta feature) runs `cargo lambda build --release --arm64`
# with the cargo-lambda and zig of .venv (on PATH above), then copies the binary. No Docker.
sam-build: venv $(SAM_VENV)/.installed
	rustup target list --installed | grep -q aarch64-unknown-linux-gnu || \
		rustup target add aarch64-unknown-linux-gnu
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build --beta-features
	ls -l .aws-sam/build/RemediatorFunction/bootstrap

$(SAM_VENV)/.installed: tools/sam-requirements.txt
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r tools/sam-requirements.txt
	touch $@

# Advisories need the RustSec database, which cargo-deny clones from GitHub. Where GitHub cannot
# be reached (this project's build machines reach only package registries) the check cannot
# run: it says so, loudly, rather than pass in silence.
deny: $(TOOLS)/bin/cargo-deny
	$(TOOLS)/bin/cargo-deny check --hide-inclusion-graph bans licenses sources
	@if $(TOOLS)/bin/cargo-deny fetch db >/dev/null 2>&1; then \
		$(TOOLS)/bin/cargo-deny check --hide-inclusion-graph advisories; \
	else \
		echo "cargo-deny advisories: NOT CHECKED: the RustSec database (github.com/RustSec/advisory-db) cannot be fetched from here"; \
	fi

$(TOOLS)/bin/cargo-deny:
	cargo install --locked --quiet --version $(CARGO_DENY_VERSION) --root $(TOOLS) cargo-deny

demo: venv build
	tests/emulator/demo.sh $(BOOTSTRAP)

# The operator's read-only plan (`bootstrap plan`) against the seeded emulator; against a real
# account, `cargo run --release -- plan --profile NAME`. ARGS=--json prints the JSON report;
# PLAN_USERS=10000 plans `make bench`'s account of that many users instead of the demo's.
# It runs the release bootstrap `make build` makes (the binary Lambda runs), so after `make demo`
# it builds nothing.
plan: venv build
	PLAN_BIN=$(BOOTSTRAP) tests/emulator/plan.sh $(ARGS)

emulator: venv
	$(PYTHON) tests/emulator/emulator.py --port $(EMULATOR_PORT) --seed tests/emulator/demo-account.json --seed tests/emulator/demo-triggers.json

invoke: venv
	cargo lambda invoke $(FUNCTION) --data-file $(EVENT)

# Our scheduled sweep against Cloud Custodian on the same seeded account (bench/sweep_bench.py);
# BENCH_USERS=N sets the account's size, BENCH_IAM_LATENCY_MS=N IAM's latency. Prints a table
# and writes target/bench/sweep.json.
.PHONY: bench bench-org
bench: venv build $(BENCH_VENV)/.installed
	BENCH_USERS=$(BENCH_USERS) $(PYTHON) bench/sweep_bench.py --iam-latency-ms $(BENCH_IAM_LATENCY_MS) \
		--bootstrap $(BOOTSTRAP) --custodian $(BENCH_VENV)/bin/custodian

# The organisation sweep's state machine against the sequential multi-account sweep, on a
# seeded organisation of BENCH_ACCOUNTS accounts x BENCH_ORG_USERS users (bench/org_bench.py).
# Prints a table and writes target/bench/org.json.
bench-org: venv build
	$(PYTHON) bench/org_bench.py --bootstrap $(BOOTSTRAP) --accounts $(BENCH_ACCOUNTS) \
		--users $(BENCH_ORG_USERS) --map-concurrency $(BENCH_MAP_CONCURRENCY) \
		--iam-latency-ms $(BENCH_IAM_LATENCY_MS)

$(BENCH_VENV)/.installed: bench/requirements.txt
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

clean:
	cargo clean
	rm -rf $(VENV) $(BENCH_VENV) $(LINT_VENV) $(SAM_VENV) .aws-sam
