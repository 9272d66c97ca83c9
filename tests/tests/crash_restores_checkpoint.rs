//! After training past a checkpoint with a cache so small that rows were already written back
//! to the store, closing without a checkpoint (as a crash would) and reopening gives exactly
//! the model of the last checkpoint, never a mix of two steps.

use gwen::{Engine, EngineOptions};
use gwen_tests::{predict_all, read_batches, small_schema, synthetic_file};

#[test]
fn reopen_after_unfinished_training_restores_the_last_checkpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 6000, 21);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 200);
    let db = dir.path().join("db");
    let options = EngineOptions { cache_bytes: 64 << 10, threads: 1, ..EngineOptions::default() };

    let engine = Engine::create(&db, &schema, options.clone()).expect("create");
    for batch in &batches[..10] {
        engine.train_step(batch).expect("train");
    }
    assert_eq!(engine.checkpoint().expect("checkpoint"), 10);
    let at_checkpoint = predict_all(&engine, &batches[25..]);
    for batch in &batches[10..25] {
        engine.train_step(batch).expect("train");
    }
    assert!(engine.stats().rows_written > 0, "rows newer than the checkpoint reached the store");
    let later = predict_all(&engine, &batches[25..]);
    assert_ne!(at_checkpoint, later);
    drop(engine);

    let engine = Engine::open(&db, options).expect("reopen");
    assert_eq!(engine.step(), 10);
    assert_eq!(at_checkpoint, predict_all(&engine, &batches[25..]));
}

/// A crash after the store was marked clean but before its snapshot was renamed into place used
/// to leave trainers at the new step and readers at the old one. Opening for writing now
/// completes the snapshot.
#[test]
fn an_interrupted_snapshot_is_completed_on_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 3000, 22);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 200);
    let db = dir.path().join("db");
    let options = EngineOptions { threads: 1, ..EngineOptions::default() };
    let engine = Engine::create(&db, &schema, options.clone()).expect("create");
    for batch in &batches[..5] {
        engine.train_step(batch).expect("train");
    }
    engine.checkpoint().expect("checkpoint");
    for batch in &batches[5..8] {
        engine.train_step(batch).expect("train");
    }
    engine.checkpoint().expect("checkpoint");
    let expected = predict_all(&engine, &batches[10..]);
    drop(engine);
    // Simulate the crash: the snapshot of step 8 never got its final name.
    let newest = db.join("checkpoints/step-000000000008");
    std::fs::rename(&newest, db.join("checkpoints/.step-000000000008.tmp")).expect("rename");

    drop(Engine::open(&db, options.clone()).expect("open for writing"));
    assert!(newest.exists(), "the snapshot of step 8 is taken again");
    assert!(!db.join("checkpoints/.step-000000000008.tmp").exists(), "staging removed");
    let read_only = EngineOptions { read_only: true, ..options };
    let reader = Engine::open(&db, read_only).expect("open read-only");
    assert_eq!(reader.step(), 8);
    assert_eq!(expected, predict_all(&reader, &batches[10..]));
}
