//! Malformed input lines: fail-fast names file, line and reason and leaves the database at its
//! last checkpoint; `--skip-bad-lines` skips and counts them.

use std::fmt::Write as _;

use gwen_tests::{gwen, gwen_ok, synthetic_file};

#[test]
fn a_bad_line_stops_training_with_file_line_and_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = synthetic_file(dir.path(), 2000, 8);
    let db = dir.path().join("db");
    let (db, good_s) = (db.to_str().expect("utf-8"), good.to_str().expect("utf-8"));
    gwen_ok(&["train", "--db", db, "--data", good_s, "--max-lines", "1000"]);
    let predict = ["predict", "--db", db, "--data", good_s, "--skip-lines", "1000"];
    let before = gwen_ok(&predict);

    let text = std::fs::read_to_string(&good).expect("read");
    let mut bad = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 1500 {
            bad.push_str("1\tnot-a-number\n");
        }
        writeln!(bad, "{line}").expect("write");
    }
    let bad_path = dir.path().join("bad.tsv");
    std::fs::write(&bad_path, bad).expect("write bad file");
    let bad_s = bad_path.to_str().expect("utf-8");

    let out = gwen(&["train", "--db", db, "--data", bad_s]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{bad_s}:1501:")), "names file and line: {stderr}");
    assert!(stderr.contains("columns"), "gives the reason: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one error line: {stderr}");
    assert_eq!(before, gwen_ok(&predict), "the failed run leaves the last checkpoint");

    let out = gwen(&["train", "--db", db, "--data", bad_s, "--skip-bad-lines"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("trained 2000 samples"), "{stdout}");
    assert!(stderr.contains("skipped 1 malformed lines"), "{stderr}");
}

#[test]
fn commands_on_a_missing_database_fail_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 10, 1);
    let missing = dir.path().join("nope");
    let args =
        ["eval", "--db", missing.to_str().expect("utf-8"), "--data", data.to_str().expect("utf-8")];
    let out = gwen(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.starts_with("gwen: error:") && stderr.contains("nope"), "{stderr}");
    assert!(!missing.exists(), "eval must not create anything");
}
