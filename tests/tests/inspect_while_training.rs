//! While a trainer process writes to a database, `inspect` and `predict` work from the newest
//! checkpoint and change nothing, and every command that needs the write lock refuses with one
//! clear line.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gwen_tests::{gwen, gwen_bin, gwen_ok, listing, one_error_line, synthetic_file};

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn inspect_during_training_works_and_writers_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 400_000, 41);
    let db = dir.path().join("db");
    let mut trainer = Command::new(gwen_bin())
        .args(["train", "--db", s(&db), "--data", s(&data), "--batch", "64"])
        .args(["--checkpoint-every", "100", "--keep-checkpoints", "0", "--cache-mb", "1"])
        // Several epochs: the trainer must outlive every command below (it is killed then).
        .args(["--threads", "1", "--epochs", "20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start trainer");

    let started = Instant::now();
    while gwen::admin::list_checkpoints(&db).map_or(0, |c| c.len()) < 3 {
        assert!(started.elapsed() < Duration::from_secs(120), "trainer made no checkpoints");
        assert!(trainer.try_wait().expect("poll").is_none(), "trainer ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let checkpoints = gwen::admin::list_checkpoints(&db).expect("list");
    let second = &checkpoints[1];
    let before = listing(&second.path);

    let json = gwen_ok(&["inspect", s(&db), "--json"]);
    let info: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let step = info["step"].as_u64().expect("step");
    assert!(
        step >= checkpoints[2].step && step.is_multiple_of(100),
        "view of a checkpoint: {step}"
    );
    let predictions =
        gwen_ok(&["predict", "--db", s(&db), "--data", s(&data), "--max-lines", "20"]);
    assert_eq!(predictions.lines().count(), 20);

    for args in [
        vec!["compact", s(&db)],
        vec!["checkpoint", "create", s(&db)],
        vec!["checkpoint", "restore", s(&db), "--step", "100"],
        vec!["train", "--db", s(&db), "--data", s(&data), "--max-lines", "10"],
    ] {
        let line = one_error_line(&gwen(&args));
        assert!(line.contains("in use by another process"), "{args:?}: {line}");
    }
    let still_running = trainer.try_wait().expect("poll").is_none();
    trainer.kill().ok();
    trainer.wait().ok();
    assert_eq!(before, listing(&second.path), "reading changed nothing in the checkpoint");
    assert!(still_running, "the trainer must still be running for this test to mean anything");

    // After the trainer is killed, the next writer comes back to its newest checkpoint, or
    // completes the next one when the kill fell between the trainer marking its store clean at
    // that step and renaming the checkpoint into place.
    let newest = gwen::admin::list_checkpoints(&db).expect("list").last().expect("one").step;
    let out = gwen_ok(&["checkpoint", "create", s(&db)]);
    let step: u64 = out
        .split("checkpoint of step ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no step in {out:?}"));
    assert!(step == newest || step == newest + 100, "newest {newest}: {out}");
    let after = gwen::admin::list_checkpoints(&db).expect("list");
    assert_eq!(after.last().expect("one").step, step, "the completed checkpoint is listed");
}
