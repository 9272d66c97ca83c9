//! `gwen bench` on a tiny row target: every configuration writes a complete, sane record, the
//! replay of (d) matches what (c) did, and the databases are cleaned up.

use std::collections::BTreeMap;

use gwen_tests::gwen_ok;
use serde_json::Value;

const TRAINING_KEYS: [&str; 12] = [
    "samples_per_s",
    "hit_rate",
    "train_wait_s",
    "input_wait_s",
    "rows_read",
    "rows_written",
    "rows_created",
    "store_bytes",
    "peak_rss_bytes",
    "miss_rows_per_s",
    "cache_bytes",
    "checkpoint_rows_written",
];

fn number(record: &Value, key: &str) -> f64 {
    let config = record["config"].as_str().unwrap_or("?");
    record[key].as_f64().unwrap_or_else(|| panic!("({config}) has no number {key}: {record}"))
}

#[test]
fn bench_quick_writes_one_sane_record_per_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let work = dir.path().join("work");
    let out = dir.path().join("bench.jsonl");
    let args = [
        "bench",
        "--quick",
        "--rows",
        "100000",
        "--batch",
        "64",
        "--configs",
        "abcdw",
        "--dir",
        work.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    let stdout = gwen_ok(&args);
    assert!(stdout.contains("(b)/(a) samples/s"), "summary table: {stdout}");
    assert!(!work.exists(), "the work directory is removed");

    let text = std::fs::read_to_string(&out).expect("records");
    let records: BTreeMap<String, Value> = text
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).expect("one JSON object per line");
            (record["config"].as_str().expect("config").to_string(), record)
        })
        .collect();
    let names: Vec<&str> = records.keys().map(String::as_str).collect();
    assert_eq!(names, ["a", "b", "c", "d", "dw", "reopen"]);
    let (a, b, c) = (&records["a"], &records["b"], &records["c"]);

    let rows = number(a, "rows");
    assert!((100_000.0..110_000.0).contains(&rows), "rows {rows}");
    for r in [a, b, c] {
        for key in TRAINING_KEYS {
            assert!(number(r, key) >= 0.0, "{key}: {r}");
        }
        assert_eq!(number(r, "rows_created"), rows, "every config materializes the stream");
        assert_eq!(r["samples"], a["samples"]);
        assert!(number(r, "samples_per_s") > 0.0 && number(r, "peak_rss_bytes") > 0.0);
        assert!(number(r, "store_bytes") > 0.0);
        assert!(number(r, "loss_last_tenth") < number(r, "loss_first_tenth"), "learns: {r}");
    }
    assert_eq!(number(a, "hit_rate"), 1.0, "(a) reads nothing back");
    assert_eq!(number(a, "rows_read"), 0.0);
    assert_eq!(number(a, "evictions"), 0.0);
    assert_eq!(number(a, "checkpoint_rows_written"), rows, "(a) persists every row at the end");
    for r in [b, c] {
        assert!(number(r, "hit_rate") < 1.0 && number(r, "hit_rate") > 0.0, "{r}");
        assert!(number(r, "rows_read") > 0.0 && number(r, "rows_written") > 0.0, "{r}");
        assert!(number(r, "miss_rows_per_s") > 0.0, "{r}");
        assert!(number(r, "cache_bytes") < number(a, "cache_bytes") / 10.0);
    }
    assert!(number(b, "prefetch_s") > 0.0);

    for raw in ["d", "dw"] {
        let d = &records[raw];
        // The replay's LRU has no write-back buffer, so its misses differ a little.
        let near = |x: f64, y: f64| (x - y).abs() <= 0.05 * y;
        let c_read = number(c, "rows_read");
        assert!(near(number(d, "cache_misses"), number(c, "cache_misses")), "({raw}) misses");
        assert!(near(number(d, "expected_rows_read"), c_read), "({raw}) replays (c): {d}");
        assert_eq!(d["rows_read"], d["expected_rows_read"], "({raw}) found what it expected");
        assert!(number(d, "miss_rows_per_s") > 0.0 && number(d, "peak_rss_bytes") > 0.0);
    }
    let dw_written = number(&records["dw"], "rows_written");
    let c_written = number(c, "rows_written");
    assert!((dw_written - c_written).abs() <= 0.05 * c_written, "(dw) writes back what (c) did");

    let reopen = &records["reopen"];
    assert!(number(reopen, "reopen_s") > 0.0 && number(reopen, "reopen_s") < 30.0);
    assert_eq!(reopen["rows"], a["rows"]);
}

#[test]
fn bench_refuses_bad_arguments_before_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("bench.jsonl");
    let out = out.to_str().expect("utf-8 path");
    for (args, needle) in [
        (vec!["--configs", "dx"], "not one of"),
        (vec!["--configs", "ad"], "needs c"),
        (vec!["--zipf", "3"], "--zipf"),
        (vec!["--rows", "10"], "--rows"),
    ] {
        let mut all = vec!["bench", "--quick", "--out", out];
        all.extend(args);
        let output = gwen_tests::gwen(&all);
        let line = gwen_tests::one_error_line(&output);
        assert!(line.contains(needle), "{all:?}: {line}");
    }
}
