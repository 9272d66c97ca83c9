//! Serving threads predict while one thread trains and checkpoints on the same engine: no
//! error, every prediction finite, and the trained model is exactly the one a run without
//! concurrent readers produces (readers never disturb the rows the trainer sees, even with a
//! cache small enough that their inserts evict the trainer's dirty rows).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gwen::{Engine, EngineOptions};
use gwen_tests::{predict_all, read_batches, small_schema, synthetic_file};

fn train(engine: &Engine, batches: &[gwen::Batch]) {
    for (k, batch) in batches.iter().enumerate() {
        engine.train_step(batch).expect("train");
        if k % 10 == 9 {
            engine.checkpoint().expect("checkpoint");
        }
    }
}

#[test]
fn readers_during_training_see_finite_values_and_change_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 12_000, 51);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 200);
    let (train_part, test) = batches.split_at(batches.len() - 5);
    let options = EngineOptions { cache_bytes: 256 << 10, threads: 2, ..EngineOptions::default() };

    let quiet = Engine::create(&dir.path().join("quiet"), &schema, options.clone()).expect("db");
    train(&quiet, train_part);
    let expected = predict_all(&quiet, test);

    let busy = Engine::create(&dir.path().join("busy"), &schema, options).expect("db");
    let done = AtomicBool::new(false);
    let predictions = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for reader in 0..4 {
            let (busy, done, predictions, batches) = (&busy, &done, &predictions, &batches);
            scope.spawn(move || {
                let mut k = reader;
                while !done.load(Ordering::Acquire) {
                    let p = busy.predict(&batches[k % batches.len()]).expect("predict");
                    assert!(p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
                    predictions.fetch_add(p.len(), Ordering::Relaxed);
                    k += 7;
                }
            });
        }
        train(&busy, train_part);
        done.store(true, Ordering::Release);
    });
    assert!(predictions.load(Ordering::Relaxed) > 1000, "readers really ran");
    assert!(busy.stats().evictions > 0, "the cache was small enough to evict");
    assert_eq!(expected, predict_all(&busy, test));
}
