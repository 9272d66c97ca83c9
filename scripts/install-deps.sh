#!/usr/bin/env bash
# Installs what gwen's build and tests need, if it is missing: libclang (bindgen, for the
# RocksDB bindings), a C++ compiler (RocksDB itself, the C ABI client tests), valgrind (the C
# ABI tests run under it) and cbindgen (generates and checks include/gwen.h).
set -euo pipefail
need=()
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
if command -v dpkg-query >/dev/null 2>&1; then
  installed libclang-dev || need+=(libclang-dev)
elif [ -z "${LIBCLANG_PATH:-}" ]; then
  echo "not a Debian system: install libclang yourself (or set LIBCLANG_PATH)" >&2
fi
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
if ! command -v cbindgen >/dev/null 2>&1; then
  echo "installing: cbindgen (cargo install)" >&2
  cargo install cbindgen --locked
fi
