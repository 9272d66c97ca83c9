//! The presence filter (a RAM filter of stored ids) only ever saves store lookups: training
//! with it, without it, and across a close and reopen (when it is rebuilt by a background scan
//! of the stored keys) gives the same model.

use std::time::{Duration, Instant};

use gwen::{Batch, Engine, EngineOptions};
use gwen_tests::{predict_all, read_batches, small_schema, synthetic_file};

/// A cache far smaller than the table, so rows go to the store and come back.
fn options(filter_bytes: usize) -> EngineOptions {
    EngineOptions {
        cache_bytes: (192 << 10) + filter_bytes,
        presence_filter_bytes: Some(filter_bytes),
        threads: 1,
        ..EngineOptions::default()
    }
}

fn wait_until_ready(engine: &Engine) {
    let started = Instant::now();
    while !engine.presence_filter_ready() {
        assert!(started.elapsed() < Duration::from_secs(60), "the filter's scan never ended");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn train_all(engine: &Engine, batches: &[Batch]) {
    for batch in batches {
        engine.train_step(batch).expect("train");
    }
}

#[test]
fn the_filter_and_its_rebuild_after_reopen_leave_the_model_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 8000, 21);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 200);
    let (train, test) = batches.split_at(batches.len() - 4);
    let (first, second) = train.split_at(train.len() / 2);

    let plain = Engine::create(&dir.path().join("plain"), &schema, options(0)).expect("create");
    assert!(!plain.presence_filter_ready(), "a filter of 0 bytes is off");
    train_all(&plain, train);
    assert_eq!(plain.stats().presence_skips, 0);

    let filtered =
        Engine::create(&dir.path().join("filtered"), &schema, options(64 << 10)).expect("create");
    assert!(filtered.presence_filter_ready(), "a new store needs no scan");
    train_all(&filtered, train);
    let stats = filtered.stats();
    assert!(stats.presence_skips > 1000, "first sightings skip the store: {stats:?}");
    assert!(stats.rows_read > 100, "rows evicted and needed again are read: {stats:?}");

    let db = dir.path().join("reopened");
    let engine = Engine::create(&db, &schema, options(64 << 10)).expect("create");
    train_all(&engine, first);
    engine.checkpoint().expect("checkpoint");
    drop(engine);
    let engine = Engine::open(&db, options(64 << 10)).expect("reopen");
    wait_until_ready(&engine);
    train_all(&engine, second);
    let stats = engine.stats();
    assert!(stats.presence_skips > 500 && stats.rows_read > 100, "{stats:?}");

    let expected = predict_all(&plain, test);
    assert_eq!(predict_all(&filtered, test), expected, "with the filter");
    assert_eq!(predict_all(&engine, test), expected, "with the filter rebuilt after reopen");
}

#[test]
fn a_read_only_engine_builds_its_filter_and_predicts_the_same() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 2000, 22);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 200);
    let (train, test) = batches.split_at(batches.len() - 2);
    let db = dir.path().join("db");
    let engine = Engine::create(&db, &schema, options(64 << 10)).expect("create");
    train_all(&engine, train);
    engine.checkpoint().expect("checkpoint");
    let expected = predict_all(&engine, test);
    drop(engine);
    let read_only = EngineOptions { read_only: true, ..options(64 << 10) };
    let engine = Engine::open(&db, read_only).expect("open read-only");
    wait_until_ready(&engine);
    assert_eq!(predict_all(&engine, test), expected);
    let stats = engine.stats();
    assert!(stats.presence_skips > 0 && stats.rows_read > 0, "{stats:?}");
}
