//! Shared helpers of the integration tests: the `gwen` binary, data files, small batches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use gwen::input::{ReadOptions, Reader};
use gwen::{Batch, Schema};

/// The `gwen` binary built next to this test executable (same cargo profile).
///
/// # Panics
///
/// When the binary has not been built (`cargo test --workspace` builds it).
pub fn gwen_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target profile directory");
    let bin = dir.join(format!("gwen{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} missing: run `cargo test --workspace` to build it", bin.display());
    bin
}

/// Runs `gwen` with `args`, returning its output.
pub fn gwen(args: &[&str]) -> Output {
    Command::new(gwen_bin()).args(args).env("RUST_LOG", "warn").output().expect("run gwen")
}

/// Runs `gwen` and returns stdout, failing the test with stderr when it exits non-zero.
pub fn gwen_ok(args: &[&str]) -> String {
    let out = gwen(args);
    assert!(
        out.status.success(),
        "gwen {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// The folder of real public CTR samples (`../shared/data` beside the repository), or the
/// `GWEN_SHARED_DATA` environment variable.
pub fn shared_data() -> PathBuf {
    if let Some(dir) = std::env::var_os("GWEN_SHARED_DATA") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// Writes `lines` synthetic Criteo lines into `dir` and returns the path.
pub fn synthetic_file(dir: &Path, lines: u64, seed: u64) -> PathBuf {
    let path = dir.join(format!("synthetic-{lines}-{seed}.tsv"));
    let options = gwen::input::synth::SynthOptions { lines, seed, ..Default::default() };
    gwen::input::synth::write_synthetic(&path, &options).expect("write synthetic data");
    path
}

/// Reads a whole input file into batches of `batch` samples as `schema` describes it.
pub fn read_batches(path: &Path, schema: &Schema, batch: usize) -> Vec<Batch> {
    let mut reader = Reader::open(path, schema, ReadOptions::default()).expect("open data");
    let mut out = Vec::new();
    loop {
        let next = reader.read_batch(batch).expect("parse data");
        if next.len == 0 {
            return out;
        }
        out.push(next);
    }
}

/// A small schema for fast tests: 4 groups over some Criteo fields, dim 8, small MLP.
pub fn small_schema() -> Schema {
    Schema::from_toml_str(
        r#"
        seed = 7
        [mlp]
        hidden = [32, 16]
        [[groups]]
        name = "a"
        fields = ["C1", "C2", "C3", "C4", "C5"]
        dim = 8
        [[groups]]
        name = "b"
        fields = ["C6", "C7", "C8", "C9", "C10", "C11"]
        dim = 8
        pooling = "mean"
        [[groups]]
        name = "c"
        fields = ["C12", "C13", "C14", "C15", "C16", "C17", "C18"]
        dim = 4
        optimizer = { kind = "sgd", lr = 0.1 }
        [[groups]]
        name = "d"
        fields = ["C19", "C20", "C21", "C22", "C23", "C24", "C25", "C26"]
        dim = 8
        "#,
    )
    .expect("valid test schema")
}

/// Predictions of every batch, concatenated.
pub fn predict_all(engine: &gwen::Engine, batches: &[Batch]) -> Vec<f32> {
    batches.iter().flat_map(|b| engine.predict(b).expect("predict")).collect()
}

/// Checks that a failed run exited with code 2 and wrote one `gwen: error: ...` line to stderr,
/// and returns that line.
///
/// # Panics
///
/// When it did not.
pub fn one_error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("gwen: error: "), "{stderr}");
    stderr
}

/// Names, sizes and modification times of every file under `dir` (empty when it is missing),
/// to show that a command left a directory untouched.
pub fn listing(dir: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            let modified = meta.modified().expect("mtime");
            if meta.is_dir() {
                stack.push(entry.path());
            }
            out.insert(entry.path().display().to_string(), (meta.len(), modified));
        }
    }
    out
}
