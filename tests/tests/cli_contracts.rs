//! CLI contracts found wanting in review: each test pins one behaviour and says what went
//! wrong before.

use std::path::Path;
use std::process::{Command, Stdio};

use gwen_tests::{gwen, gwen_bin, gwen_ok, listing, one_error_line, synthetic_file};

/// Used to panic with "failed printing to stdout" when the reader of stdout went away.
#[test]
fn closed_stdout_is_not_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("s.tsv");
    let mut child = Command::new(gwen_bin())
        .args(["synth", "--lines", "10", "--out", out.to_str().expect("utf-8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let result = child.wait_with_output().expect("wait");
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
}

/// Used to create a database (with the default schema) before noticing the data was missing.
#[test]
fn failed_argument_checks_create_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    let db_s = db.to_str().expect("utf-8");
    let data = synthetic_file(dir.path(), 20, 1);
    let data_s = data.to_str().expect("utf-8");
    one_error_line(&gwen(&["train", "--db", db_s, "--data", "/nonexistent/file.tsv"]));
    let err = one_error_line(&gwen(&["train", "--db", db_s, "--data", data_s, "--batch", "0"]));
    assert!(err.contains("--batch 0"), "{err}");
    // Used to panic in the reader thread and report success with 0 samples.
    let huge = usize::MAX.to_string();
    one_error_line(&gwen(&["train", "--db", db_s, "--data", data_s, "--batch", &huge]));
    assert!(!db.exists(), "nothing may be created by a run that fails its checks");
}

/// Used to fail with "batch of 256 samples has 0 labels" and no line number.
#[test]
fn unlabeled_lines_in_training_input_are_bad_lines_with_a_number() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 5, 2);
    let text = std::fs::read_to_string(&data).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    let unlabeled = lines[2].split_once('\t').expect("tab").1.to_string();
    lines[2] = &unlabeled;
    let mixed = dir.path().join("mixed.tsv");
    std::fs::write(&mixed, lines.join("\n") + "\n").expect("write");
    let (db, mixed_s) = (dir.path().join("db"), mixed.to_str().expect("utf-8"));
    let db_s = db.to_str().expect("utf-8");
    let err = one_error_line(&gwen(&["train", "--db", db_s, "--data", mixed_s]));
    assert!(err.contains(&format!("{mixed_s}:3:")) && err.contains("label is missing"), "{err}");
    let out = gwen_ok(&["train", "--db", db_s, "--data", mixed_s, "--skip-bad-lines"]);
    assert!(out.contains("trained 4 samples"), "{out}");
}

/// `predict` must keep one output line per input line, and must not overwrite its input.
#[test]
fn predict_refuses_skipping_and_writing_over_its_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 300, 3);
    let (db, data_s) = (dir.path().join("db"), data.to_str().expect("utf-8"));
    let db_s = db.to_str().expect("utf-8");
    gwen_ok(&["train", "--db", db_s, "--data", data_s]);
    let before = std::fs::read(&data).expect("read");
    let skip = ["predict", "--db", db_s, "--data", data_s, "--skip-bad-lines"];
    one_error_line(&gwen(&skip));
    let over = ["predict", "--db", db_s, "--data", data_s, "--out", data_s];
    one_error_line(&gwen(&over));
    assert_eq!(before, std::fs::read(&data).expect("read"), "input untouched");
}

/// `demo --dir` used to delete whatever directory it was given.
#[test]
fn demo_refuses_a_directory_it_did_not_make() {
    let dir = tempfile::tempdir().expect("temp dir");
    let precious = dir.path().join("notes.txt");
    std::fs::write(&precious, "keep me").expect("write");
    let err = one_error_line(&gwen(&["demo", "--dir", dir.path().to_str().expect("utf-8")]));
    assert!(err.contains("notes.txt"), "{err}");
    assert!(precious.exists());
}

/// Used to compare an existing database against the built-in default schema when no
/// `--schema` was given, and refuse to train.
#[test]
fn train_without_schema_uses_the_stored_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 600, 4);
    let (db, data_s) = (dir.path().join("db"), data.to_str().expect("utf-8"));
    let db_s = db.to_str().expect("utf-8");
    let grouped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/criteo_grouped.toml");
    let grouped_s = grouped.to_str().expect("utf-8");
    gwen_ok(&[
        "train",
        "--db",
        db_s,
        "--data",
        data_s,
        "--schema",
        grouped_s,
        "--max-lines",
        "300",
    ]);
    let out = gwen_ok(&["train", "--db", db_s, "--data", data_s, "--skip-lines", "300"]);
    assert!(out.contains("checkpoint at step 4"), "{out}");
}

/// TOML errors used to span six lines with a caret diagram.
#[test]
fn schema_errors_are_one_line_with_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 10, 5);
    let schema = dir.path().join("bad.toml");
    std::fs::write(&schema, "seed = 1\n[[groups]]\nname = 'a'\nfields = ['C1']\nsize = 3\n")
        .expect("write");
    let db = dir.path().join("db");
    let err = one_error_line(&gwen(&[
        "train",
        "--db",
        db.to_str().expect("utf-8"),
        "--data",
        data.to_str().expect("utf-8"),
        "--schema",
        schema.to_str().expect("utf-8"),
    ]));
    assert!(err.contains("line 5") && err.contains("size"), "{err}");
}

/// A RocksDB made by another program used to be opened for writing (new MANIFEST, rotated
/// LOG) before gwen noticed it was not its own.
#[test]
fn a_foreign_rocksdb_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("db/store");
    {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        let db = rocksdb::DB::open(&opts, &store).expect("create foreign db");
        db.put(b"k", b"v").expect("put");
    }
    let before = listing(dir.path());
    let data = synthetic_file(dir.path(), 10, 6);
    let before_data = listing(dir.path());
    let db_s = dir.path().join("db");
    let err = one_error_line(&gwen(&[
        "train",
        "--db",
        db_s.to_str().expect("utf-8"),
        "--data",
        data.to_str().expect("utf-8"),
    ]));
    assert!(err.contains("not a gwen"), "{err}");
    assert_eq!(before_data, listing(dir.path()), "nothing under the directory changed");
    assert!(before.len() < before_data.len());
}

/// `gwen --bogus` used to print clap's multi-line usage block.
#[test]
fn argument_errors_are_one_line() {
    one_error_line(&gwen(&["train", "--bogus"]));
}

/// A checkpoint whose RocksDB manifest was cut in half used to open as a valid, smaller
/// history: eval reported a different AUC with exit 0. Now the file list written with the
/// checkpoint catches it.
#[test]
fn a_truncated_checkpoint_manifest_is_corruption() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 3000, 9);
    let (db, data_s) = (dir.path().join("db"), data.to_str().expect("utf-8"));
    let db_s = db.to_str().expect("utf-8");
    gwen_ok(&["train", "--db", db_s, "--data", data_s, "--checkpoint-every", "3"]);
    let newest = gwen::admin::list_checkpoints(&db).expect("list").pop().expect("one");
    for entry in std::fs::read_dir(&newest.path).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("MANIFEST-")) {
            let len = std::fs::metadata(&path).expect("stat").len();
            let file = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
            file.set_len(len / 2).expect("truncate");
        }
    }
    let line = one_error_line(&gwen(&["eval", "--db", db_s, "--data", data_s]));
    assert!(line.contains("orruption"), "{line}");
    let line = one_error_line(&gwen(&["inspect", db_s]));
    assert!(line.contains("orruption"), "{line}");
}
