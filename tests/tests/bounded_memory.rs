//! Memory stays bounded: training a stream whose rows need five times the cache budget keeps
//! the RAM tier within the budget, and the process's peak RSS within the budget plus the
//! documented fixed overhead (docs/design.md, "Memory").

use gwen_tests::{gwen_ok, synthetic_file};

/// RocksDB block cache (64 MiB) + memtables (64 MiB) + process, allocator and I/O buffers.
const OVERHEAD_MIB: f64 = 192.0;

fn field(out: &str, prefix: &str, after: &str) -> f64 {
    let line = out.lines().find(|l| l.starts_with(prefix)).expect(prefix);
    let rest = &line[line.find(after).expect(after) + after.len()..];
    rest.split_whitespace().next().expect("number").trim_matches('(').parse().expect("number")
}

#[test]
fn a_tiny_budget_holds_on_a_large_stream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 200_000, 71);
    let db = dir.path().join("db");
    let args =
        ["train", "--db", db.to_str().expect("utf-8"), "--data", data.to_str().expect("utf-8")];
    let out =
        gwen_ok(&[&args[..], &["--cache-mb", "2", "--lookahead", "2", "--batch", "64"]].concat());
    let resident_mib = field(&out, "cache:", "rows resident");
    let created = field(&out, "store:", "written (");
    let peak_mib = field(&out, "memory:", "peak RSS");
    assert!(resident_mib <= 2.0, "RAM tier within budget: {out}");
    assert!(peak_mib <= 2.0 + OVERHEAD_MIB, "peak RSS {peak_mib} MiB: {out}");
    assert!(created > 0.0);
    // The table is far larger than the budget: every row was written to the store.
    let rows: f64 = out
        .lines()
        .find(|l| l.starts_with("store:"))
        .and_then(|l| l.split(", ").find(|p| p.ends_with("rows created")))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("rows created");
    assert!(rows * 148.0 > 5.0 * 2.0 * 1048576.0, "{rows} rows must need >5x the budget");
}
