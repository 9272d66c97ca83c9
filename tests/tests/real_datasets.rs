//! The example schemas of `examples/` on the real public samples of `../shared/data`: each
//! test trains through the CLI with the example schema, evaluates on held-out rows and checks
//! the figures against what was measured (docs/datasets.md). A test whose data file is absent
//! prints a note and passes.
//!
//! Three sets carry no usable held-out signal (iPinYou, the Taobao DMR sample, the libffm
//! sample; see docs/datasets.md): their tests check that the reader sees every row and feature
//! where the schema says (ids per group, pooling weights) and that the model fits the training
//! rows, and only print the held-out figures.

use std::path::{Path, PathBuf};
use std::process::Command;

use gwen::{Batch, Schema};
use gwen_tests::{gwen_ok, read_batches, shared_data};

/// The shared data file `rel`, or `None` (with a note) when it is absent.
fn data_file(rel: &str) -> Option<PathBuf> {
    let path = shared_data().join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} is absent (the shared data folder is optional)", path.display());
        None
    }
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `gwen train` with the example schema; returns the number of samples trained (all epochs).
fn train(db: &Path, schema: &str, data: &Path, extra: &[&str]) -> u64 {
    let schema = example(schema);
    let mut args = vec!["train", "--db", utf8(db), "--schema", utf8(&schema), "--data", utf8(data)];
    args.extend_from_slice(extra);
    let out = gwen_ok(&args);
    out.split_whitespace()
        .skip_while(|w| *w != "trained")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sample count in train output:\n{out}"))
}

/// The `gwen eval --json` figures.
#[derive(Debug)]
struct Eval {
    samples: u64,
    auc: f64,
    logloss: f64,
    mean_prediction: f64,
    observed_ctr: f64,
}

fn eval(db: &Path, data: &Path, extra: &[&str]) -> Eval {
    let mut args = vec!["eval", "--db", utf8(db), "--data", utf8(data), "--json"];
    args.extend_from_slice(extra);
    let out = gwen_ok(&args);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("eval --json output");
    let num = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("no {k} in {out}"));
    Eval {
        samples: num("samples") as u64,
        auc: num("auc"),
        logloss: num("logloss"),
        mean_prediction: num("mean_prediction"),
        observed_ctr: num("observed_ctr"),
    }
}

fn assert_ctr(e: &Eval, positives: u64, samples: u64) {
    assert_eq!(e.samples, samples, "{e:?}");
    let ctr = positives as f64 / samples as f64;
    assert!((e.observed_ctr - ctr).abs() < 1e-9, "observed ctr {} != {ctr}", e.observed_ctr);
    assert!(e.logloss.is_finite() && e.mean_prediction > 0.0 && e.mean_prediction < 1.0);
}

fn schema(name: &str) -> Schema {
    Schema::from_path(&example(name)).expect("example schema")
}

/// Ids per sample of group `g` over all batches.
fn ids_per_sample(batches: &[Batch], g: usize) -> Vec<usize> {
    batches
        .iter()
        .flat_map(|b| b.groups[g].offsets.windows(2).map(|w| (w[1] - w[0]) as usize))
        .collect()
}

#[test]
fn avazu_holdout() {
    let Some(data) = data_file("avazu/train_head9999.csv") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    let trained = train(&db, "avazu.toml", &data, &["--max-lines", "8000", "--epochs", "2"]);
    assert_eq!(trained, 2 * 8000);
    let e = eval(&db, &data, &["--skip-lines", "8000"]);
    println!("avazu held-out: {e:?}");
    assert_ctr(&e, 334, 1999);
    // Measured: AUC 0.722, logloss 0.405 (predicting the training CTR scores 0.451).
    assert!(e.auc > 0.65, "held-out AUC {}", e.auc);
    assert!(e.logloss < 0.44, "held-out logloss {}", e.logloss);
}

#[test]
fn frappe_validation_to_test() {
    let Some(train_file) = data_file("frappe/frappe.validation.libfm") else { return };
    let Some(test_file) = data_file("frappe/frappe.test.libfm") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    assert_eq!(train(&db, "frappe.toml", &train_file, &[]), 57_722);
    let e = eval(&db, &test_file, &[]);
    println!("frappe test file: {e:?}");
    assert_ctr(&e, 9536, 28_860);
    // Measured: AUC 0.927, logloss 0.297 (the constant 0.33 scores 0.634).
    assert!(e.auc > 0.88, "held-out AUC {}", e.auc);
    assert!(e.logloss < 0.40, "held-out logloss {}", e.logloss);

    // One index per field and row: the user group gets 1 id, app 2, time 4, place 3.
    let batches = read_batches(&test_file, &schema("frappe.toml"), 4096);
    for (g, n) in [1, 2, 4, 3].into_iter().enumerate() {
        assert!(ids_per_sample(&batches, g).iter().all(|&k| k == n), "group {g}");
    }
}

#[test]
fn ipinyou_train_to_test() {
    let Some(train_file) = data_file("ipinyou/train.fm.txt") else { return };
    let Some(test_file) = data_file("ipinyou/test.fm.txt") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    assert_eq!(train(&db, "ipinyou.toml", &train_file, &[]), 26_773);
    let e = eval(&db, &test_file, &[]);
    // Measured: AUC 0.526, logloss 0.031. The test file is another weekday with 50 clicks;
    // the weekday and creative of every test row and the hour of 85% are unseen in training,
    // and no single field's training CTR ranks the test rows better than AUC 0.58. So the
    // held-out AUC is reported, not asserted.
    println!("ipinyou test file: {e:?}");
    assert_ctr(&e, 50, 21_150);
    // The model does fit its training rows (measured in-sample AUC 0.694).
    let fit = eval(&db, &train_file, &[]);
    println!("ipinyou training rows: {fit:?}");
    assert_ctr(&fit, 255, 26_773);
    assert!(fit.auc > 0.60, "in-sample AUC {}", fit.auc);

    // The 16 ranges derived from featindex.fm.txt put each row's 16 indices into their
    // fields: time 2, user 4, slot 8, ad 2 ids per row.
    let schema = schema("ipinyou.toml");
    for file in [&train_file, &test_file] {
        let batches = read_batches(file, &schema, 4096);
        for (g, n) in [2, 4, 8, 2].into_iter().enumerate() {
            assert!(ids_per_sample(&batches, g).iter().all(|&k| k == n), "group {g}");
        }
    }
}

#[test]
fn movielens_joined_by_time() {
    let dir = shared_data().join("movielens-100k");
    if !["inter", "user", "item"].iter().all(|f| dir.join(format!("ml-100k.{f}")).exists()) {
        eprintln!("skipping: {}/ml-100k.{{inter,user,item}} absent", dir.display());
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let joined = tmp.path().join("ml-100k.tsv");
    let status = Command::new("sh")
        .arg(example("movielens-100k-join.sh"))
        .arg(&dir)
        .arg(&joined)
        .status()
        .expect("run sh");
    assert!(status.success(), "join script failed: {status}");
    let text = std::fs::read_to_string(&joined).expect("joined file");
    let mut lines = text.lines();
    let header = "user_id\titem_id\trating\ttimestamp\tage\tgender\toccupation\tzip_code\t\
                  release_year\tgenres";
    assert_eq!(lines.next(), Some(header));
    let stamps: Vec<u64> = lines
        .map(|l| l.split('\t').nth(3).and_then(|t| t.parse().ok()).expect("timestamp"))
        .collect();
    assert_eq!(stamps.len(), 100_000);
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "sorted by timestamp");

    let db = tmp.path().join("db");
    let extra = ["--max-lines", "80000"];
    assert_eq!(train(&db, "movielens-100k.toml", &joined, &extra), 80_000);
    let e = eval(&db, &joined, &["--skip-lines", "80000"]);
    println!("movielens newest 20,000 ratings: {e:?}");
    assert_ctr(&e, 11_303, 20_000);
    // Measured: AUC 0.704, logloss 0.626 (the training rate 0.551 scores 0.685). Most users of
    // the newest fifth do not occur in the older four fifths.
    assert!(e.auc > 0.66, "held-out AUC {}", e.auc);
    assert!(e.logloss < 0.66, "held-out logloss {}", e.logloss);

    // The genre list is split at spaces: 1 to 6 ids per rating (3 movies have 6 genres).
    let batches = read_batches(&joined, &schema("movielens-100k.toml"), 8192);
    let genres = ids_per_sample(&batches, 3);
    assert_eq!(genres.len(), 100_000);
    assert!(genres.iter().all(|&k| (1..=6).contains(&k)));
    assert!(genres.contains(&6));
}

#[test]
fn taobao_dmr_sequences() {
    let rel = "taobao-display-ad/paddlerec_dmr_alimama_sampled_train.txt";
    let Some(data) = data_file(rel) else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    let extra = ["--max-lines", "400", "--epochs", "3", "--batch", "32"];
    assert_eq!(train(&db, "taobao-dmr.toml", &data, &extra), 3 * 400);
    let e = eval(&db, &data, &["--skip-lines", "400"]);
    // Measured: AUC 0.44, logloss 0.80. The file holds only 14 distinct positive impressions,
    // each written 15 times; the last 100 rows have 4 of them (60 lines) and users that never
    // occur in the first 400 (the file is sorted by uid). That ranking is not evidence either
    // way, so it is printed, not asserted.
    println!("taobao dmr rows 401-500: {e:?}");
    assert_ctr(&e, 60, 100);
    let fit = eval(&db, &data, &["--max-lines", "400"]);
    println!("taobao dmr rows 1-400: {fit:?}");
    assert_ctr(&fit, 150, 400);
    assert!(fit.auc > 0.90, "in-sample AUC {}", fit.auc); // measured 1.0

    // Each history group holds exactly the real events: the columns of the mask (150-199)
    // that are 1; the padding 0s of columns 50-149 are missing values.
    let text = std::fs::read_to_string(&data).expect("read data");
    let events: Vec<usize> = text
        .lines()
        .map(|l| l.split(',').skip(150).take(50).filter(|m| *m == "1").count())
        .collect();
    let batches = read_batches(&data, &schema("taobao-dmr.toml"), 64);
    assert_eq!(ids_per_sample(&batches, 4), events, "his_cate");
    assert_eq!(ids_per_sample(&batches, 5), events, "his_brand");
    assert!(events.iter().any(|&n| n < 50), "some history is padded");
    // price is the one dense input, standardised around the training mean.
    let dense: Vec<f32> = batches.iter().flat_map(|b| b.dense.iter().copied()).collect();
    assert_eq!(dense.len(), 500);
    let mean = dense[..400].iter().sum::<f32>() / 400.0;
    assert!(mean.abs() < 0.01, "standardised price mean {mean}");
}

#[test]
fn criteo_libffm_sample() {
    let Some(train_file) = data_file("criteo-dac/libffm_small_train.txt") else { return };
    let Some(test_file) = data_file("criteo-dac/libffm_small_test.txt") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    let extra = ["--epochs", "5", "--batch", "16"];
    assert_eq!(train(&db, "criteo-libffm.toml", &train_file, &extra), 5 * 200);
    let e = eval(&db, &test_file, &[]);
    // Measured: AUC 0.509, logloss 0.557. With 200 training rows the best single field ranks
    // the test rows at AUC 0.59 and a naive-Bayes sum of all fields at 0.54, so the held-out
    // AUC is printed, not asserted.
    println!("libffm test file: {e:?}");
    assert_ctr(&e, 46, 200);
    let fit = eval(&db, &train_file, &[]);
    println!("libffm training rows: {fit:?}");
    assert_ctr(&fit, 48, 200);
    assert!(fit.auc > 0.70, "in-sample AUC {}", fit.auc); // measured 0.778

    // The values are pooling weights: 0.3651 on fields 0-15; on fields 16 and 17 the weights
    // of a row's items have squares summing to 0.25 (or the row has none).
    let batches = read_batches(&train_file, &schema("criteo-libffm.toml"), 256);
    for b in &batches {
        for (g, group) in b.groups.iter().enumerate() {
            assert_eq!(group.weights.len(), group.ids.len(), "group f{g} keeps weights");
            for i in 0..b.len {
                let (from, to) = (group.offsets[i] as usize, group.offsets[i + 1] as usize);
                let w = &group.weights[from..to];
                if g < 16 {
                    assert!(w.iter().all(|&w| w == 0.3651), "group f{g}: {w:?}");
                } else {
                    let squares: f32 = w.iter().map(|w| w * w).sum();
                    assert!(w.is_empty() || (squares - 0.25).abs() < 1e-3, "f{g}: {w:?}");
                }
            }
        }
    }
    let f17 = ids_per_sample(&batches, 17);
    assert!(f17.iter().any(|&k| k > 1), "field 17 is multi-valued in some rows");
}

#[test]
fn criteo_csv_sample() {
    let Some(data) = data_file("criteo-dac/deepctr_criteo_sample.txt") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    let extra = ["--max-lines", "150", "--epochs", "5", "--batch", "16"];
    assert_eq!(train(&db, "criteo-csv.toml", &data, &extra), 5 * 150);
    let e = eval(&db, &data, &["--skip-lines", "150"]);
    println!("criteo csv rows 151-200: {e:?}");
    assert_ctr(&e, 16, 50);
    // Measured: AUC 0.743 on 16 clicks and 34 non-clicks.
    assert!(e.auc > 0.62, "held-out AUC {}", e.auc);
}
