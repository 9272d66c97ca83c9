//! Reopen contract: predictions after checkpoint, close and reopen equal those before, bit for
//! bit, whether the database is reopened for writing or read-only.

use gwen::{Engine, EngineOptions};
use gwen_tests::{predict_all, read_batches, small_schema, synthetic_file};

#[test]
fn predictions_survive_close_and_reopen_bit_for_bit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 6000, 3);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 200);
    let (train, test) = batches.split_at(25);
    let db = dir.path().join("db");
    let options = EngineOptions { threads: 2, ..EngineOptions::default() };

    let engine = Engine::create(&db, &schema, options.clone()).expect("create");
    for batch in train {
        engine.train_step(batch).expect("train");
    }
    let step = engine.checkpoint().expect("checkpoint");
    assert_eq!(step, 25);
    let before = predict_all(&engine, test);
    drop(engine);

    let engine = Engine::open(&db, options.clone()).expect("reopen");
    assert_eq!(engine.step(), 25);
    let after = predict_all(&engine, test);
    drop(engine);
    let read_only = EngineOptions { read_only: true, ..options };
    let engine = Engine::open(&db, read_only).expect("reopen read-only");
    let again = predict_all(&engine, test);
    let bits = |v: &[f32]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&before), bits(&after));
    assert_eq!(bits(&before), bits(&again));
    assert!(engine.train_step(&train[0]).is_err(), "read-only engine must refuse training");
}

#[test]
fn prediction_never_creates_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 400, 5);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 200);
    let engine = Engine::in_memory(&schema, EngineOptions::default()).expect("engine");
    let p = predict_all(&engine, &batches);
    assert!(p.iter().all(|v| v.is_finite()));
    let stats = engine.stats();
    assert_eq!(stats.rows_created, 0);
    assert_eq!(engine.cache_usage().0, 0, "unseen ids are not cached as rows");
}
