//! Prefetching changes when rows are read, never what is trained: lookahead 0, 1 and 8 with
//! cache budgets from tiny to unlimited give the same model; and pinned rows survive a tiny
//! cache under many threads.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use gwen::{Batch, Engine, EngineOptions};
use gwen_tests::{predict_all, read_batches, small_schema, synthetic_file};

/// Trains `batches` with `lookahead` batches prefetched ahead, on one thread.
fn train_with_lookahead(engine: &Engine, batches: &[Batch], lookahead: usize) {
    let mut window = VecDeque::new();
    let mut next = 0;
    for batch in batches {
        while next < batches.len() && window.len() < lookahead {
            window.push_back(engine.prefetch(&batches[next]).expect("prefetch"));
            next += 1;
        }
        match window.pop_front() {
            Some(prefetched) => engine.train_prefetched(batch, prefetched).expect("train"),
            None => {
                next += 1;
                engine.train_step(batch).expect("train")
            }
        };
    }
}

#[test]
fn lookahead_and_budget_do_not_change_the_model() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 8_000, 61);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 128);
    let (train, test) = batches.split_at(batches.len() - 4);
    let mut reference = None;
    for (k, (lookahead, cache_bytes)) in [
        (0, usize::MAX),
        (1, usize::MAX),
        (8, usize::MAX),
        (0, 48 << 10),
        (1, 48 << 10),
        (8, 48 << 10),
    ]
    .into_iter()
    .enumerate()
    {
        let options = EngineOptions { cache_bytes, threads: 1, ..EngineOptions::default() };
        let engine =
            Engine::create(&dir.path().join(format!("db{k}")), &schema, options).expect("create");
        train_with_lookahead(&engine, train, lookahead);
        if cache_bytes < usize::MAX {
            assert!(engine.stats().evictions > 1000, "the small cache must really evict");
        }
        let predictions = predict_all(&engine, test);
        match &reference {
            None => reference = Some(predictions),
            Some(expected) => {
                for (i, (a, b)) in expected.iter().zip(&predictions).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-6,
                        "lookahead {lookahead}, budget {cache_bytes}: sample {i}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

/// A prefetch thread runs 8 batches ahead of the trainer while 3 threads predict, all on a
/// cache far smaller than the pinned window: if a pinned row were ever evicted under its
/// batch, the trainer would update a freed slot and the model would differ.
#[test]
fn pinned_rows_are_never_evicted_under_their_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 8_000, 62);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 100);
    let (train, test) = batches.split_at(batches.len() - 4);
    let options = EngineOptions { cache_bytes: 16 << 10, threads: 2, ..EngineOptions::default() };

    let quiet = Engine::create(&dir.path().join("quiet"), &schema, options.clone()).expect("db");
    for batch in train {
        quiet.train_step(batch).expect("train");
    }
    let expected = predict_all(&quiet, test);

    let busy = Engine::create(&dir.path().join("busy"), &schema, options).expect("db");
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (sender, receiver) = crossbeam_channel::bounded(7);
        let busy = &busy;
        scope.spawn(move || {
            for batch in train {
                let prefetched = busy.prefetch(batch).expect("prefetch");
                if sender.send(prefetched).is_err() {
                    break;
                }
            }
        });
        for reader in 0..3 {
            let (done, batches) = (&done, &batches);
            scope.spawn(move || {
                let mut k = reader;
                while !done.load(Ordering::Acquire) {
                    let p = busy.predict(&batches[k % batches.len()]).expect("predict");
                    assert!(p.iter().all(|v| v.is_finite()));
                    k += 5;
                }
            });
        }
        for (batch, prefetched) in train.iter().zip(receiver) {
            busy.train_prefetched(batch, prefetched).expect("train");
        }
        done.store(true, Ordering::Release);
    });
    let (_, used) = busy.cache_usage();
    assert!(busy.stats().evictions > 1000);
    assert!(used <= 16 << 10, "back within budget once nothing is pinned: {used}");
    assert_eq!(expected, predict_all(&busy, test));
}

#[test]
fn a_prefetch_of_another_batch_or_engine_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 3_000, 62);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 128);
    let (train, test) = batches.split_at(batches.len() - 2);
    let options = EngineOptions { cache_bytes: 64 << 10, threads: 1, ..EngineOptions::default() };
    let plain = Engine::in_memory(&schema, options.clone()).expect("engine");
    let mixed = Engine::in_memory(&schema, options.clone()).expect("engine");
    let other = Engine::in_memory(&schema, options).expect("engine");
    for (i, batch) in train.iter().enumerate() {
        plain.train_step(batch).expect("train");
        // Prefetched for the next batch, trained with this one: only the help is lost.
        let wrong = &train[(i + 1) % train.len()];
        let prefetched = mixed.prefetch(wrong).expect("prefetch");
        mixed.train_prefetched(batch, prefetched).expect("train");
    }
    assert_eq!(predict_all(&plain, test), predict_all(&mixed, test));
    let foreign = other.prefetch(&train[0]).expect("prefetch");
    let refused = mixed.train_prefetched(&train[0], foreign);
    assert!(refused.is_err(), "rows pinned by another engine must be refused");
}
