//! Operator commands on databases trained in the test: `inspect`, `inspect row`, `compact`
//! (with eviction), `checkpoint list|create|restore|prune`, each with its numbers checked.

use std::collections::BTreeMap;
use std::path::Path;

use gwen::admin::{self, RowInfo};
use gwen_tests::{gwen, gwen_ok, listing, one_error_line, synthetic_file};

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Trains 3 x 500 samples of synthetic data with a checkpoint every 4 steps (batch 100), so the
/// rows carry a spread of `last_step` values. Returns (temp dir, db path, data path).
fn trained_db() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 1500, 31);
    let db = dir.path().join("db");
    gwen_ok(&[
        "train",
        "--db",
        s(&db),
        "--data",
        s(&data),
        "--batch",
        "100",
        "--keep-checkpoints",
        "0",
        "--checkpoint-every",
        "4",
    ]);
    (dir, db, data)
}

fn all_rows(db: &Path) -> BTreeMap<(String, u64), RowInfo> {
    let info = admin::inspect(db).expect("inspect");
    let mut rows = BTreeMap::new();
    for group in &info.groups {
        admin::for_each_row(db, &group.name, &mut |row| {
            rows.insert((row.group.clone(), row.id), row);
            Ok(true)
        })
        .expect("scan");
    }
    rows
}

fn bits(row: &RowInfo) -> (Vec<u32>, Vec<u32>, u32, u64) {
    let to_bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    (to_bits(&row.weights), to_bits(&row.state), row.seen_count, row.last_step)
}

#[test]
fn inspect_reports_schema_sizes_files_and_checkpoints() {
    let (_dir, db, _) = trained_db();
    let json = gwen_ok(&["inspect", s(&db), "--json"]);
    let info: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(info["step"], 15);
    assert_eq!(info["format_version"], 1);
    assert_eq!(info["live_state"], "clean");
    let groups = info["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 26);
    assert_eq!(groups[0]["dim"], 16);
    assert_eq!(groups[0]["optimizer"], "adagrad");
    assert_eq!(groups[0]["row_bytes"], 16 + 4 * 17);
    let steps: Vec<u64> = info["checkpoints"]
        .as_array()
        .expect("checkpoints")
        .iter()
        .map(|c| c["step"].as_u64().expect("step"))
        .collect();
    assert_eq!(steps, vec![0, 4, 8, 12, 15]);

    // RocksDB's estimate counts overwritten versions not compacted away yet, so it may run
    // over the true count, never far under it.
    let rows = all_rows(&db);
    for g in groups {
        let name = g["name"].as_str().expect("name");
        let exact = rows.keys().filter(|(group, _)| group == name).count() as f64;
        let estimate = g["properties"]["estimated_rows"].as_f64().expect("estimate");
        assert!(
            estimate >= 0.9 * exact && estimate <= 5.0 * exact + 20.0,
            "{name}: ~{estimate} vs {exact}"
        );
    }
    let table = gwen_ok(&["inspect", s(&db)]);
    assert!(table.contains("checkpoint step 15") && table.contains("level"), "{table}");
}

#[test]
fn inspect_row_by_value_and_by_id() {
    let (_dir, db, data) = trained_db();
    let text = std::fs::read_to_string(&data).expect("read data");
    let first_c1 = text.lines().next().expect("line").split('\t').nth(14).expect("C1");
    let out = gwen_ok(&["inspect", "row", s(&db), "--group", "C1", "--value", first_c1, "--json"]);
    let row: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let id = gwen::hash_feature(0, "C1", first_c1.as_bytes());
    assert_eq!(row["id"], id);
    assert!(row["seen_count"].as_u64().expect("count") >= 1);
    assert_eq!(row["weights"].as_array().expect("weights").len(), 16);
    let by_id =
        gwen_ok(&["inspect", "row", s(&db), "--group", "C1", "--id", &id.to_string(), "--json"]);
    assert_eq!(out, by_id);

    let missing = gwen(&["inspect", "row", s(&db), "--group", "C1", "--value", "never-seen"]);
    assert_eq!(missing.status.code(), Some(1), "exit 1 = nothing found");
    assert!(String::from_utf8_lossy(&missing.stdout).contains("no such row"));
    let bad = gwen(&["inspect", "row", s(&db), "--group", "nope", "--id", "1"]);
    assert!(one_error_line(&bad).contains("the groups are C1"), "lists the groups");
}

#[test]
fn compact_ttl_drops_exactly_the_stale_rows_and_keeps_the_rest_byte_for_byte() {
    let (_dir, db, _) = trained_db();
    let before = all_rows(&db);
    let ttl = 5;
    let stale: Vec<_> =
        before.iter().filter(|(_, r)| 15 - r.last_step > ttl).map(|(k, _)| k.clone()).collect();
    assert!(!stale.is_empty() && stale.len() < before.len(), "the test needs both kinds");

    let out = gwen_ok(&["compact", s(&db), "--ttl-steps", &ttl.to_string(), "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let dropped: u64 = report
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["rows_dropped"].as_u64().expect("n"))
        .sum();
    assert_eq!(dropped, stale.len() as u64);

    let after = all_rows(&db);
    assert_eq!(after.len(), before.len() - stale.len());
    for key in &stale {
        assert!(!after.contains_key(key), "{key:?} should be gone");
    }
    for (key, row) in &after {
        assert_eq!(bits(row), bits(&before[key]), "{key:?} must be unchanged");
    }
    // Training goes on from the compacted store.
    let step = admin::create_checkpoint(&db).expect("checkpoint").step;
    assert_eq!(step, 15);
}

#[test]
fn compact_min_count_drops_rare_rows_of_one_group() {
    let (_dir, db, _) = trained_db();
    let before = all_rows(&db);
    let rare = before.iter().filter(|((g, _), r)| g == "C3" && r.seen_count < 2).count();
    assert!(rare > 0);
    let out = gwen_ok(&["compact", s(&db), "--group", "C3", "--min-count", "2"]);
    assert!(
        out.lines().any(|l| l.starts_with("C3") && l.trim_end().ends_with(&rare.to_string())),
        "{out}"
    );
    let after = all_rows(&db);
    assert_eq!(after.len(), before.len() - rare);
    assert!(after.iter().all(|((g, _), r)| g != "C3" || r.seen_count >= 2));
}

#[test]
fn checkpoints_list_create_restore_prune() {
    let (_dir, db, data) = trained_db();
    let list = gwen_ok(&["checkpoint", "list", s(&db), "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).expect("JSON");
    assert_eq!(list.as_array().expect("list").len(), 5);
    assert!(list[4]["bytes"].as_u64().expect("bytes") > 10_000);

    let predict = ["predict", "--db", s(&db), "--data", s(&data), "--max-lines", "50"];
    gwen_ok(&["checkpoint", "restore", s(&db), "--step", "8"]);
    let at_8 = gwen_ok(&predict);
    let steps = |db: &Path| {
        admin::list_checkpoints(db).expect("list").iter().map(|c| c.step).collect::<Vec<_>>()
    };
    assert_eq!(steps(&db), vec![0, 4, 8], "later checkpoints go");
    assert_eq!(admin::inspect(&db).expect("inspect").step, 8);

    // Training resumes from step 8.
    let out = gwen_ok(&[
        "train",
        "--db",
        s(&db),
        "--data",
        s(&data),
        "--batch",
        "100",
        "--max-lines",
        "200",
        "--keep-checkpoints",
        "0",
    ]);
    assert!(out.contains("checkpoint at step 10"), "{out}");
    assert_ne!(at_8, gwen_ok(&predict));
    let out = gwen_ok(&["checkpoint", "create", s(&db)]);
    assert!(out.contains("step 10"), "{out}");
    let err = one_error_line(&gwen(&["checkpoint", "restore", s(&db), "--step", "7"]));
    assert!(err.contains("no checkpoint of step 7") && err.contains("0, 4, 8, 10"), "{err}");

    let out = gwen_ok(&["checkpoint", "prune", s(&db), "--keep", "2"]);
    assert!(out.contains("[0, 4]"), "{out}");
    assert_eq!(steps(&db), vec![8, 10]);
}

#[test]
fn admission_keeps_rare_ids_out_of_the_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = synthetic_file(dir.path(), 2000, 32);
    let (all, two) = (dir.path().join("all"), dir.path().join("two"));
    gwen_ok(&["train", "--db", s(&all), "--data", s(&data)]);
    gwen_ok(&["train", "--db", s(&two), "--data", s(&data), "--min-count", "2"]);
    let rows_all = all_rows(&all);
    let rows_two = all_rows(&two);
    // With admission at 2, exactly the ids sighted at least twice get rows (the sketch is far
    // wider than this vocabulary, so no collision admits one early).
    let expected = rows_all.values().filter(|r| r.seen_count >= 2).count();
    assert_eq!(rows_two.len(), expected);
    assert!(rows_two.keys().all(|k| rows_all.contains_key(k)));
}

#[test]
fn every_command_refuses_missing_foreign_and_corrupt_directories_untouched() {
    let (dir, db, _) = trained_db();
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(foreign.join("sub")).expect("mkdir");
    std::fs::write(foreign.join("notes.txt"), "not a database").expect("write");
    let corrupt = dir.path().join("corrupt");
    std::fs::create_dir_all(&corrupt).expect("mkdir");
    for entry in walk(&db) {
        let target = corrupt.join(entry.strip_prefix(&db).expect("prefix"));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&entry, &target).expect("copy");
    }
    for current in walk(&corrupt).into_iter().filter(|p| p.ends_with("CURRENT")) {
        std::fs::write(current, "MANIFEST-999999\n").expect("garble");
    }
    let missing = dir.path().join("missing");
    for target in [&missing, &foreign, &corrupt] {
        let before = listing(dir.path());
        let t = s(target);
        let commands: Vec<Vec<&str>> = vec![
            vec!["inspect", t],
            vec!["inspect", "row", t, "--group", "C1", "--id", "1"],
            vec!["compact", t],
            vec!["checkpoint", "list", t],
            vec!["checkpoint", "create", t],
            vec!["checkpoint", "restore", t, "--step", "4"],
            vec!["checkpoint", "prune", t, "--keep", "1"],
        ];
        for args in commands {
            let out = gwen(&args);
            if target == &corrupt && args[..2] == ["checkpoint", "list"] {
                // Listing reads directory names only; it works on a damaged store.
                assert!(out.status.success());
                continue;
            }
            if target == &corrupt && args[..2] == ["checkpoint", "prune"] {
                assert!(out.status.success(), "prune deletes old snapshot directories only");
                continue;
            }
            let line = one_error_line(&out);
            assert!(line.contains(t), "{args:?} names the directory: {line}");
        }
        if target != &corrupt {
            assert_eq!(before, listing(dir.path()), "{t} untouched");
        }
    }
    assert!(!missing.exists());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
