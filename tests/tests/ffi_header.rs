//! `include/gwen.h` is generated from the ffi crate by cbindgen and checked in; this test fails
//! when it drifts from the Rust exports (regenerate with `make header`), and checks that the
//! header compiles as C and as C++ on its own.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf()
}

#[test]
fn header_matches_the_rust_exports() {
    let repo = repo();
    let dir = tempfile::tempdir().expect("temp dir");
    // `cbindgen --verify` rewrites its output file when it differs, so it verifies a copy and
    // the checked-in header is never touched by the test.
    let copy = dir.path().join("gwen.h");
    std::fs::copy(repo.join("include/gwen.h"), &copy).expect("copy include/gwen.h");
    let out = Command::new("cbindgen")
        .current_dir(repo.join("ffi"))
        .args(["--config", "cbindgen.toml", "--quiet", "--verify", "--output"])
        .arg(&copy)
        .output()
        .unwrap_or_else(|e| panic!("cbindgen not runnable ({e}): install it with `make deps`"));
    if !out.status.success() {
        let diff = Command::new("diff")
            .arg("-u")
            .arg(repo.join("include/gwen.h"))
            .arg(&copy)
            .output()
            .map(|d| String::from_utf8_lossy(&d.stdout).into_owned())
            .unwrap_or_default();
        let stderr = String::from_utf8_lossy(&out.stderr);
        panic!("include/gwen.h is out of date with ffi/src: run `make header`\n{stderr}\n{diff}");
    }
}

#[test]
fn header_compiles_as_c_and_cpp() {
    let header = repo().join("include/gwen.h");
    for (compiler, args) in [
        ("gcc", ["-x", "c", "-std=c99"]),
        ("gcc", ["-x", "c", "-std=c11"]),
        ("g++", ["-x", "c++", "-std=c++17"]),
    ] {
        let out = Command::new(compiler)
            .args(args)
            .args(["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only"])
            .arg(&header)
            .output()
            .unwrap_or_else(|e| panic!("{compiler} not runnable ({e}): `make deps`"));
        assert!(
            out.status.success(),
            "{compiler} {args:?} rejects include/gwen.h:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
