//! `gwen export` and `gwen import`: the round trip is exact, `--since-step` and `--group`
//! select exactly the rows they say, and bad directories give one error line and stay
//! untouched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gwen::{Batch, Engine, EngineOptions, Schema};
use gwen_tests::{
    gwen, gwen_ok, listing, one_error_line, predict_all, read_batches, small_schema, synthetic_file,
};

/// Trains a new database on `batches` and checkpoints it.
fn train_db(db: &Path, schema: &Schema, batches: &[Batch]) {
    let engine = Engine::create(db, schema, EngineOptions::default()).expect("create");
    for batch in batches {
        engine.train_step(batch).expect("train");
    }
    engine.checkpoint().expect("checkpoint");
}

/// Continues training an existing database and checkpoints it.
fn train_more(db: &Path, batches: &[Batch]) {
    let engine = Engine::open(db, EngineOptions::default()).expect("open");
    for batch in batches {
        engine.train_step(batch).expect("train");
    }
    engine.checkpoint().expect("checkpoint");
}

fn predictions(db: &Path, batches: &[Batch]) -> Vec<u32> {
    let options = EngineOptions { read_only: true, ..EngineOptions::default() };
    let engine = Engine::open(db, options).expect("open read-only");
    predict_all(&engine, batches).iter().map(|p| p.to_bits()).collect()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// An array read back from a `.npy` file: shape and raw little-endian values.
struct Npy {
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl Npy {
    fn read(path: &Path, descr: &str) -> Npy {
        let bytes = std::fs::read(path).expect("read npy");
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "{}", path.display());
        let len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        assert_eq!((10 + len) % 64, 0, "data is 64-byte aligned");
        let header = std::str::from_utf8(&bytes[10..10 + len]).expect("ascii header");
        assert!(header.contains(&format!("'descr': '{descr}'")), "{header}");
        assert!(header.contains("'fortran_order': False"), "{header}");
        let shape = header.split("'shape': (").nth(1).and_then(|t| t.split(')').next());
        let shape = shape.expect("shape").split(',').map(str::trim).filter(|t| !t.is_empty());
        let shape: Vec<usize> = shape.map(|t| t.parse().expect("dimension")).collect();
        Npy { shape, data: bytes[10 + len..].to_vec() }
    }

    fn u64s(&self) -> Vec<u64> {
        let bytes = self.data.chunks_exact(8);
        bytes.map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
    }
}

/// Per group of the export in `dir`: (id, seen count, last step) of every row.
fn exported_rows(dir: &Path, groups: &[&str]) -> BTreeMap<String, Vec<(u64, u64, u64)>> {
    let mut out = BTreeMap::new();
    for group in groups {
        let ids = Npy::read(&dir.join(format!("{group}.ids.npy")), "<u8");
        let meta = Npy::read(&dir.join(format!("{group}.meta.npy")), "<u8");
        assert_eq!(meta.shape, vec![ids.shape[0], 2]);
        let meta = meta.u64s();
        let ids = ids.u64s();
        let rows = ids.iter().enumerate().map(|(i, &id)| (id, meta[2 * i], meta[2 * i + 1]));
        out.insert(group.to_string(), rows.collect());
    }
    out
}

/// What training on `batches` must have stored per group: id -> (seen count, last step).
fn expected_rows(batches: &[Batch], schema: &Schema) -> Vec<BTreeMap<u64, (u64, u64)>> {
    let mut out = vec![BTreeMap::new(); schema.groups.len()];
    for (step, batch) in batches.iter().enumerate() {
        for (g, ids) in batch.groups.iter().enumerate() {
            for &id in &ids.ids {
                let entry = out[g].entry(id).or_insert((0, 0));
                *entry = (entry.0 + 1, step as u64 + 1);
            }
        }
    }
    out
}

fn files(dir: &Path) -> BTreeSet<String> {
    let names = std::fs::read_dir(dir).expect("list").map(|e| e.expect("entry").file_name());
    names.map(|n| n.to_string_lossy().into_owned()).collect()
}

const GROUPS: [&str; 4] = ["a", "b", "c", "d"];

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    schema: Schema,
    train: Vec<Batch>,
    test: Vec<Batch>,
}

fn fixture(lines: u64, seed: u64) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), lines, seed);
    let schema = small_schema();
    let mut batches = read_batches(&data, &schema, 200);
    let test = batches.split_off(batches.len() - 5);
    Fixture { root: dir.path().to_path_buf(), _dir: dir, schema, train: batches, test }
}

#[test]
fn export_import_round_trip_gives_identical_predictions() {
    let f = fixture(5000, 11);
    let (db, out, copy) = (f.root.join("db"), f.root.join("export"), f.root.join("copy"));
    train_db(&db, &f.schema, &f.train);
    let steps = f.train.len();

    let stdout = gwen_ok(&["export", "--db", s(&db), "--out", s(&out)]);
    let expected = expected_rows(&f.train, &f.schema);
    let total: usize = expected.iter().map(BTreeMap::len).sum();
    assert!(
        stdout.starts_with(&format!("exported {total} rows of step {steps} from ")),
        "{stdout}"
    );
    for (g, name) in GROUPS.iter().enumerate() {
        assert!(stdout.contains(&format!("group {name}  {} rows", expected[g].len())), "{stdout}");
    }

    // The files hold exactly the trained rows, in id order, with their seen counts and steps.
    let rows = exported_rows(&out, &GROUPS);
    for (g, name) in GROUPS.iter().enumerate() {
        let want: Vec<(u64, u64, u64)> =
            expected[g].iter().map(|(&id, &(seen, last))| (id, seen, last)).collect();
        assert_eq!(rows[*name], want, "group {name}");
        let dim = f.schema.groups[g].dim;
        let weights = Npy::read(&out.join(format!("{name}.weights.npy")), "<f4");
        assert_eq!(weights.shape, vec![want.len(), dim]);
        assert_eq!(weights.data.len(), 4 * want.len() * dim);
    }
    let names = files(&out);
    assert!(names.contains("a.state.npy") && !names.contains("c.state.npy"), "sgd has no state");
    let manifest = std::fs::read_to_string(out.join("manifest.toml")).expect("manifest");
    assert!(manifest.contains("format = \"gwen-export\"") && manifest.contains("version = 1"));
    assert!(manifest.contains(&format!("step = {steps}")) && !manifest.contains("since_step"));

    let stdout = gwen_ok(&["import", "--db", s(&copy), "--from", s(&out)]);
    assert!(stdout.starts_with(&format!("imported {total} rows from ")), "{stdout}");
    assert!(stdout.contains(&format!("(new database); checkpoint at step {steps}")), "{stdout}");

    let before = predictions(&db, &f.test);
    assert_eq!(before, predictions(&copy, &f.test), "predictions identical bit for bit");
    let options = EngineOptions { read_only: true, ..EngineOptions::default() };
    assert_eq!(Engine::open(&copy, options).expect("open").step(), steps as u64);

    // Exporting the copy again gives the same bytes in every file.
    let again = f.root.join("again");
    gwen_ok(&["export", "--db", s(&copy), "--out", s(&again)]);
    assert_eq!(files(&out), files(&again));
    for name in files(&out) {
        let (a, b) = (std::fs::read(out.join(&name)), std::fs::read(again.join(&name)));
        assert!(a.expect("read") == b.expect("read"), "{name} differs after the round trip");
    }
}

#[test]
fn since_step_exports_and_imports_exactly_the_newer_rows() {
    let f = fixture(6000, 12);
    let (first, second) = f.train.split_at(12);
    let db = f.root.join("db");
    train_db(&db, &f.schema, first);
    let old = f.root.join("old");
    gwen_ok(&["export", "--db", s(&db), "--out", s(&old)]);
    let serving = f.root.join("serving");
    gwen_ok(&["import", "--db", s(&serving), "--from", s(&old)]);
    train_more(&db, second);
    let step = f.train.len() as u64;

    let full = f.root.join("full");
    gwen_ok(&["export", "--db", s(&db), "--out", s(&full)]);
    let delta = f.root.join("delta");
    let stdout = gwen_ok(&["export", "--db", s(&db), "--out", s(&delta), "--since-step", "12"]);

    let (all, newer) = (exported_rows(&full, &GROUPS), exported_rows(&delta, &GROUPS));
    let mut total = 0;
    for name in GROUPS {
        let want: Vec<_> = all[name].iter().copied().filter(|&(_, _, last)| last > 12).collect();
        assert!(!want.is_empty() && want.len() < all[name].len(), "group {name}: a real subset");
        assert_eq!(newer[name], want, "group {name}");
        assert!(stdout.contains(&format!("group {name}  {} rows", want.len())), "{stdout}");
        total += want.len();
    }
    assert!(
        stdout
            .starts_with(&format!("exported {total} rows (updated after step 12) of step {step}")),
        "{stdout}"
    );
    let manifest = std::fs::read_to_string(delta.join("manifest.toml")).expect("manifest");
    assert!(manifest.contains("since_step = 12"), "{manifest}");

    let newest = predictions(&db, &f.test);
    assert_ne!(predictions(&serving, &f.test), newest, "the serving copy starts older");
    let stdout = gwen_ok(&["import", "--db", s(&serving), "--from", s(&delta)]);
    assert!(
        stdout.starts_with(&format!("imported {total} rows from "))
            && stdout.contains(&format!("{}; checkpoint at step {step}", s(&serving))),
        "{stdout}"
    );
    assert_eq!(predictions(&serving, &f.test), newest, "incremental import catches up exactly");

    // A delta cannot start a database, nor skip steps of one.
    let fresh = f.root.join("fresh");
    let err = one_error_line(&gwen(&["import", "--db", s(&fresh), "--from", s(&delta)]));
    assert!(err.contains("only the rows updated after step 12"), "{err}");
    assert!(!fresh.exists(), "nothing created");
    let later = f.root.join("later");
    let since = (step + 1).to_string();
    gwen_ok(&["export", "--db", s(&db), "--out", s(&later), "--since-step", &since]);
    let behind = f.root.join("behind");
    gwen_ok(&["import", "--db", s(&behind), "--from", s(&old)]);
    let before = listing(&behind);
    let err = one_error_line(&gwen(&["import", "--db", s(&behind), "--from", s(&later)]));
    assert!(err.contains("is at step 12") && err.contains("--since-step 12 or lower"), "{err}");
    assert_eq!(before, listing(&behind));
}

#[test]
fn group_option_exports_one_group_and_names_the_others_when_unknown() {
    let f = fixture(2000, 13);
    let db = f.root.join("db");
    train_db(&db, &f.schema, &f.train);
    let only_b = f.root.join("only-b");
    let stdout = gwen_ok(&["export", "--db", s(&db), "--out", s(&only_b), "--group", "b"]);
    let rows = expected_rows(&f.train, &f.schema)[1].len();
    assert!(stdout.starts_with(&format!("exported {rows} rows of step ")), "{stdout}");
    let want: BTreeSet<String> = ["manifest.toml", "schema.toml", "dense.bin"]
        .into_iter()
        .map(String::from)
        .chain(["ids", "weights", "state", "meta"].map(|k| format!("b.{k}.npy")))
        .collect();
    assert_eq!(files(&only_b), want);
    assert_eq!(exported_rows(&only_b, &["b"])["b"].len(), rows);
    let manifest = std::fs::read_to_string(only_b.join("manifest.toml")).expect("manifest");
    assert_eq!(manifest.matches("[[groups]]").count(), 1, "{manifest}");

    let out = f.root.join("zz");
    let err = one_error_line(&gwen(&["export", "--db", s(&db), "--out", s(&out), "--group", "zz"]));
    assert!(err.contains("no group \"zz\"; the groups are a, b, c, d"), "{err}");
    assert!(!out.exists() && !f.root.join("zz.tmp").exists());

    // One group alone cannot make a new database either.
    let fresh = f.root.join("fresh");
    let err = one_error_line(&gwen(&["import", "--db", s(&fresh), "--from", s(&only_b)]));
    assert!(err.contains("only the groups b"), "{err}");
    assert!(!fresh.exists());
}

/// Runs a command that must fail, and checks that `watched` did not change.
fn fails_untouched(args: &[&str], watched: &[&Path]) -> String {
    let before: Vec<_> = watched.iter().map(|p| (p.exists(), listing(p))).collect();
    let err = one_error_line(&gwen(args));
    let after: Vec<_> = watched.iter().map(|p| (p.exists(), listing(p))).collect();
    assert_eq!(before, after, "{args:?} changed a directory");
    err
}

#[test]
fn bad_directories_give_one_error_line_and_stay_untouched() {
    let f = fixture(2000, 14);
    let root = f.root.as_path();
    let db = root.join("db");
    train_db(&db, &f.schema, &f.train);
    let good = root.join("good");
    gwen_ok(&["export", "--db", s(&db), "--out", s(&good)]);
    let out = root.join("out");

    // Export from a missing, a foreign and an empty directory; into a non-empty one.
    let missing = root.join("missing");
    let err = fails_untouched(&["export", "--db", s(&missing), "--out", s(&out)], &[root]);
    assert!(err.contains("no database at"), "{err}");
    let foreign = root.join("foreign");
    std::fs::create_dir(&foreign).expect("mkdir");
    std::fs::write(foreign.join("notes.txt"), "not a model").expect("write");
    let err = fails_untouched(&["export", "--db", s(&foreign), "--out", s(&out)], &[root]);
    assert!(err.contains("is not a gwen database"), "{err}");
    let empty = root.join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let err = fails_untouched(&["export", "--db", s(&empty), "--out", s(&out)], &[root]);
    assert!(err.contains("is not a gwen database"), "{err}");
    let err = fails_untouched(&["export", "--db", s(&db), "--out", s(&foreign)], &[root]);
    assert!(err.contains("exists and is not empty"), "{err}");
    let inside = db.join("checkpoints/step-000000000999");
    let err = fails_untouched(&["export", "--db", s(&db), "--out", s(&inside)], &[root]);
    assert!(err.contains("is inside the database"), "{err}");

    // Import from a missing directory, a non-export, an export missing a file or with a
    // truncated array: neither a new nor an existing database is touched.
    let copy = |name: &str| {
        let to = root.join(name);
        std::fs::create_dir(&to).expect("mkdir");
        for file in files(&good) {
            std::fs::copy(good.join(&file), to.join(&file)).expect("copy");
        }
        to
    };
    let lacking = copy("lacking");
    std::fs::remove_file(lacking.join("b.meta.npy")).expect("remove");
    let truncated = copy("truncated");
    let weights = truncated.join("d.weights.npy");
    let len = std::fs::metadata(&weights).expect("stat").len();
    std::fs::File::options()
        .write(true)
        .open(&weights)
        .and_then(|f| f.set_len(len - 4))
        .expect("truncate");
    let new_db = root.join("new-db");
    let cases: [(&Path, &str); 4] = [
        (&missing, "no export at"),
        (&foreign, "is not a gwen export (no manifest.toml)"),
        (&lacking, "b.meta.npy"),
        (&truncated, "d.weights.npy: file is"),
    ];
    for (from, needle) in cases {
        for target in [&db, &new_db] {
            let args = ["import", "--db", s(target), "--from", s(from)];
            let err = fails_untouched(&args, &[root]);
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }
    assert!(!new_db.exists());

    // Import into a database of another schema.
    let mut other_schema = small_schema();
    other_schema.groups[2].dim = 6;
    let other = root.join("other");
    Engine::create(&other, &other_schema, EngineOptions::default()).expect("create");
    let err = fails_untouched(&["import", "--db", s(&other), "--from", s(&good)], &[root]);
    assert!(err.contains("schema mismatch") && err.contains("group c dim: 6 stored, 4 given"));

    // The intact export still imports into the original database.
    let stdout = gwen_ok(&["import", "--db", s(&db), "--from", s(&good)]);
    assert!(stdout.contains(&format!("{}; checkpoint at step {}", s(&db), f.train.len())));
}
