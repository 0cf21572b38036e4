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
# Cargo tools, built from crates.io at pinned versions into a project-local folder.
TOOLS := $(CURDIR)/.tools
CARGO_DENY_VERSION := 0.20.2

.PHONY: help venv build build-arm64 test soak lint deny demo emulator invoke clean

help:
	@echo "make demo        run the function on a seeded local AWS emulator and show what it did"
	@echo "make test        run every test (policy, adapters, end to end against moto)"
	@echo "make soak        the property tests at full case counts (release build)"
	@echo "make lint        rustfmt, clippy -D warnings, cfn-lint"
	@echo "make deny        cargo-deny: licences, bans, sources, and RustSec advisories (deny.toml)"
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
soak:
	PROPTEST_CASES=100000 cargo test --release --test policy_invariants
	PROPTEST_CASES=1000000 cargo test --release --test intake_fuzz

lint: venv
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cfn-lint template.yaml

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
