//! The main job on real data: train on the first 9,000 lines of the Criteo sample through the
//! CLI, evaluate on the last 1,000, and require a held-out AUC of at least 0.70.

use gwen_tests::{gwen, gwen_ok, shared_data};

fn field(report: &str, name: &str) -> f64 {
    report
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in eval output:\n{report}"))
}

#[test]
fn criteo_sample_holdout_auc_is_at_least_0_70() {
    let data = shared_data().join("criteo-dac/train_head10k.txt");
    assert!(data.exists(), "{} missing: ../shared must sit beside the repository", data.display());
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("model");
    let (db, data) = (db.to_str().expect("utf-8"), data.to_str().expect("utf-8"));

    let train = [
        "train",
        "--db",
        db,
        "--data",
        data,
        "--max-lines",
        "9000",
        "--batch",
        "256",
        "--threads",
        "2",
    ];
    let out = gwen_ok(&train);
    assert!(out.contains("trained 9000 samples"), "{out}");

    let eval = ["eval", "--db", db, "--data", data, "--skip-lines", "9000", "--batch", "256"];
    let report = gwen_ok(&eval);
    assert_eq!(field(&report, "samples"), 1000.0);
    let auc = field(&report, "auc");
    let logloss = field(&report, "logloss");
    println!("criteo held-out: auc {auc:.4}, logloss {logloss:.4}");
    assert!(auc >= 0.70, "held-out AUC {auc} below 0.70\n{report}");
    assert!(logloss < 0.60, "held-out logloss {logloss}\n{report}");
    let mean = field(&report, "mean prediction");
    assert!((0.05..0.5).contains(&mean), "mean prediction {mean} far from the ~0.22 CTR");

    // Eval and predict on the reopened database are identical across runs.
    assert_eq!(report, gwen_ok(&eval), "eval must be deterministic");
    let predict = ["predict", "--db", db, "--data", data, "--skip-lines", "9000"];
    let first = gwen_ok(&predict);
    assert_eq!(first.lines().count(), 1000);
    assert_eq!(first, gwen_ok(&predict), "predict must be deterministic");

    // Training again with another schema on the same database is refused, naming the change.
    let schema = dir.path().join("dim8.toml");
    let groups: String = (1..=26)
        .map(|k| {
            format!(
                "[[groups]]\nname = \"C{k}\"\nfields = [\"C{k}\"]\ndim = {}\n",
                if k == 3 { 8 } else { 16 }
            )
        })
        .collect();
    std::fs::write(&schema, groups).expect("write schema");
    let out = gwen(&[
        "train",
        "--db",
        db,
        "--data",
        data,
        "--max-lines",
        "10",
        "--schema",
        schema.to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("group C3 dim: 16 stored, 8 given"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one error line: {stderr}");
}
