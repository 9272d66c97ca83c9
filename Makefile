# gwen: the two quick-start commands (see README.md) and developer helpers.
#
# One cargo profile (release) serves binaries and tests, so RocksDB's C++ is compiled once.
# The target directory lives outside the clone (reused across clones and CI runs) unless
# CARGO_TARGET_DIR is set.

CARGO_TARGET_DIR ?= $(HOME)/.cache/gwen-target
export CARGO_TARGET_DIR
CARGO ?= cargo

.PHONY: demo test deps lint fmt bench-criteo

## Install what the build needs (libclang for the RocksDB bindings, a C++ compiler).
deps:
	@./scripts/install-deps.sh

## The main job on an embedded default: synthetic Criteo data, train, evaluate, print AUC.
demo: deps
	$(CARGO) run --release -p gwen-cli --bin gwen -- demo

## Every check CI runs: formatting, lints, docs, all tests.
test: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --release --workspace --no-deps
	$(CARGO) test --release --workspace

fmt:
	$(CARGO) fmt --all
