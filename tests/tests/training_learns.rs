//! A tiny synthetic run where the loss must go down and the held-out AUC must rise well above
//! chance; plus the engine refusing malformed batches without changing anything.

use gwen::{Batch, Engine, EngineOptions, Evaluation, GroupIds};
use gwen_tests::{read_batches, small_schema, synthetic_file};

#[test]
fn loss_goes_down_and_holdout_auc_beats_chance() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 30_000, 42);
    let schema = small_schema();
    let batches = read_batches(&data, &schema, 256);
    let (train, test) = batches.split_at(batches.len() * 9 / 10);
    let engine = Engine::in_memory(&schema, EngineOptions::default()).expect("engine");
    let mut losses = Vec::new();
    for batch in train {
        let r = engine.train_step(batch).expect("train");
        losses.push(r.loss_sum / r.samples as f64);
    }
    let early: f64 = losses[..10].iter().sum::<f64>() / 10.0;
    let late: f64 = losses[losses.len() - 10..].iter().sum::<f64>() / 10.0;
    assert!(late < early - 0.02, "loss should fall: first 10 {early:.4}, last 10 {late:.4}");
    let mut eval = Evaluation::new();
    for batch in test {
        for (z, y) in engine.predict_logits(batch).expect("predict").iter().zip(&batch.labels) {
            eval.push(*z, *y);
        }
    }
    let summary = eval.summary();
    assert!(summary.auc > 0.70, "held-out AUC {:.4} on synthetic data", summary.auc);
}

#[test]
fn malformed_batches_are_refused_and_change_nothing() {
    let schema = small_schema();
    let engine = Engine::in_memory(&schema, EngineOptions::default()).expect("engine");
    let group = GroupIds::new(vec![0, 1], vec![9]);
    let good = Batch {
        len: 1,
        labels: vec![1.0],
        dense: vec![0.0; 13],
        groups: vec![group.clone(), group.clone(), group.clone(), group.clone()],
    };
    let before = engine.predict(&good).expect("predict");
    let bad_offsets = GroupIds::new(vec![0, 5], vec![9]);
    let cases = vec![
        ("labels", Batch { labels: vec![2.0], ..good.clone() }),
        ("not finite", Batch { dense: vec![f32::NAN; 13], ..good.clone() }),
        ("dense values", Batch { dense: vec![0.0; 12], ..good.clone() }),
        ("groups", Batch { groups: vec![group.clone()], ..good.clone() }),
        ("offsets", Batch { groups: vec![bad_offsets; 4], ..good.clone() }),
    ];
    for (needle, batch) in cases {
        let err = engine.train_step(&batch).expect_err(needle).to_string();
        assert!(err.contains(needle), "{err} should mention {needle}");
    }
    assert_eq!(engine.step(), 0);
    assert_eq!(engine.stats().rows_created, 0);
    assert_eq!(before, engine.predict(&good).expect("predict"));
}
