//! Results do not depend on the cache budget or the thread count: a cache far too small for
//! the table (constant eviction and re-reads from RocksDB) gives the same model as an
//! unlimited one.

use gwen::{Engine, EngineOptions};
use gwen_tests::{predict_all, read_batches, small_schema, synthetic_file};

fn train_and_predict(cache_bytes: usize, threads: usize) -> (Vec<f32>, gwen::StatsSnapshot) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 8000, 11);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 256);
    let (train, test) = batches.split_at(batches.len() - 4);
    let options = EngineOptions { cache_bytes, threads, ..EngineOptions::default() };
    let engine = Engine::create(&dir.path().join("db"), &schema, options).expect("create");
    for batch in train {
        engine.train_step(batch).expect("train");
    }
    let stats = engine.stats();
    (predict_all(&engine, test), stats)
}

#[test]
fn tiny_and_unlimited_caches_give_the_same_predictions() {
    let (unlimited, big_stats) = train_and_predict(usize::MAX, 1);
    let (tiny, tiny_stats) = train_and_predict(64 << 10, 1);
    assert_eq!(big_stats.evictions, 0);
    assert!(tiny_stats.evictions > 10_000, "tiny cache must evict: {tiny_stats:?}");
    assert!(tiny_stats.rows_read > 1_000, "evicted rows must be read back: {tiny_stats:?}");
    assert!(tiny_stats.rows_written > 1_000, "dirty rows must be written back: {tiny_stats:?}");
    assert_eq!(unlimited.len(), tiny.len());
    for (i, (a, b)) in unlimited.iter().zip(&tiny).enumerate() {
        assert!((a - b).abs() <= 1e-6, "sample {i}: {a} vs {b}");
    }
}

#[test]
fn thread_count_does_not_change_the_model() {
    let (one, _) = train_and_predict(usize::MAX, 1);
    let (two, _) = train_and_predict(1 << 20, 2);
    assert_eq!(one, two);
}
