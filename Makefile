# gwen: the two quick-start commands (see README.md) and developer helpers.
#
# One cargo profile (release) serves binaries and tests, so RocksDB's C++ is compiled once.
# The target directory lives outside the clone (reused across clones and CI runs) unless
# CARGO_TARGET_DIR is set.

CARGO_TARGET_DIR ?= $(HOME)/.cache/gwen-target
export CARGO_TARGET_DIR
CARGO ?= cargo

.PHONY: demo test deps lint fmt bench-criteo ffi header bench-ffi

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

## The C ABI: libgwen.so and libgwen.a in $(CARGO_TARGET_DIR)/release/ (cargo names them
## libgwen_ffi.*, since the engine crate is already called gwen; they are hard-linked under the
## shipped names), with the header include/gwen.h.
ffi:
	$(CARGO) build --release -p gwen-ffi
	ln -f $(CARGO_TARGET_DIR)/release/libgwen_ffi.so $(CARGO_TARGET_DIR)/release/libgwen.so
	ln -f $(CARGO_TARGET_DIR)/release/libgwen_ffi.a $(CARGO_TARGET_DIR)/release/libgwen.a
	@echo "C ABI: $(CARGO_TARGET_DIR)/release/libgwen.{so,a} and include/gwen.h"

## Regenerates include/gwen.h from ffi/src (CI fails when the checked-in header drifts).
header:
	cd ffi && cbindgen --config cbindgen.toml --quiet --output ../include/gwen.h

## The C API benchmark recorded in docs/ffi.md.
bench-ffi:
	$(CARGO) test --release -p gwen-tests --test cpp_clients -- \
		--ignored --nocapture cpp_predict_benchmark
