//! The schema-driven reader through the CLI: the Criteo preset and the same data described as
//! CSV with a header train the same model, and bad CSV input fails with file, line and column.

use gwen_tests::{gwen, gwen_ok, synthetic_file};

/// A `csv` schema describing Criteo's columns by header name, with the preset's transforms.
fn csv_schema() -> String {
    let mut text = String::from("seed = 3\n[mlp]\nhidden = [16]\n[input]\nformat = \"csv\"\n");
    text.push_str("[input.label]\ncolumn = \"label\"\n");
    for k in 1..=13 {
        text.push_str(&format!("[[input.dense]]\ncolumn = \"I{k}\"\ntransform = \"log1p\"\n"));
    }
    text.push_str(&criteo_groups());
    text
}

fn criteo_groups() -> String {
    let fields = |r: std::ops::RangeInclusive<usize>| {
        r.map(|k| format!("\"C{k}\"")).collect::<Vec<_>>().join(", ")
    };
    format!(
        "[[groups]]\nname = \"a\"\nfields = [{}]\ndim = 4\npooling = \"mean\"\n\
         [[groups]]\nname = \"b\"\nfields = [{}]\ndim = 4\npooling = \"sqrtn\"\n",
        fields(1..=13),
        fields(14..=26)
    )
}

#[test]
fn criteo_preset_and_csv_with_header_train_the_same_model() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tsv = synthetic_file(dir.path(), 3000, 21);
    let text = std::fs::read_to_string(&tsv).expect("read");
    // The same lines as CSV with a header; every categorical value of C2 quoted, CRLF endings.
    let mut csv = String::from("label");
    (1..=13).for_each(|k| csv.push_str(&format!(",I{k}")));
    (1..=26).for_each(|k| csv.push_str(&format!(",C{k}")));
    csv.push_str("\r\n");
    for line in text.lines() {
        let cells: Vec<String> = line
            .split('\t')
            .enumerate()
            .map(|(i, c)| if i == 15 && !c.is_empty() { format!("\"{c}\"") } else { c.into() })
            .collect();
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    let csv_path = dir.path().join("data.csv");
    std::fs::write(&csv_path, csv).expect("write csv");
    let preset = dir.path().join("preset.toml");
    std::fs::write(&preset, format!("seed = 3\n[mlp]\nhidden = [16]\n{}", criteo_groups()))
        .expect("write schema");
    let described = dir.path().join("csv.toml");
    std::fs::write(&described, csv_schema()).expect("write schema");

    let mut outputs = Vec::new();
    for (name, schema, data) in [("tsv", &preset, &tsv), ("csv", &described, &csv_path)] {
        let db = dir.path().join(name);
        let (db, schema, data) = (
            db.to_str().expect("utf-8"),
            schema.to_str().expect("utf-8"),
            data.to_str().expect("utf-8"),
        );
        let common = ["--db", db, "--data", data, "--threads", "1"];
        let mut train = vec!["train", "--schema", schema, "--max-lines", "2500", "--batch", "64"];
        train.extend(common);
        gwen_ok(&train);
        let mut predict = vec!["predict", "--skip-lines", "2500"];
        predict.extend(common);
        outputs.push(gwen_ok(&predict));
        let mut eval = vec!["eval", "--skip-lines", "2500"];
        eval.extend(common);
        outputs.push(gwen_ok(&eval));
    }
    assert_eq!(outputs[0].lines().count(), 500);
    assert_eq!(outputs[0], outputs[2], "the same predictions from both descriptions");
    assert_eq!(outputs[1], outputs[3], "the same evaluation from both descriptions");
}

#[test]
fn bad_csv_input_names_file_line_and_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let schema = dir.path().join("s.toml");
    std::fs::write(
        &schema,
        "[input]\nformat = 'csv'\n[input.label]\ncolumn = 'y'\n[[input.dense]]\ncolumn = 'p'\n\
         [[input.fields]]\nname = 'seq'\nseparator = '|'\nweighted = true\n\
         [[groups]]\nname = 'g'\nfields = ['u', 'seq']\npooling = 'sqrtn'\n",
    )
    .expect("write schema");
    let schema = schema.to_str().expect("utf-8");
    let db = dir.path().join("db");
    let db = db.to_str().expect("utf-8");
    let cases = [
        ("y,u,p,seq\n1,a,0.5,x:1|y:2\n0,b,zz,x\n", ":3: column 3 (p): not a number: \"zz\""),
        ("y,u,p,seq\n1,a,0.5,x:1|y:nan\n", ":2: column 4 (seq): weight of \"y:nan\" is not"),
        ("y,u,seq\n1,a,x\n", ":1: dense input 0: the header has no column \"p\""),
        ("u,p,seq\na,1,x\n", ":1: label: the header has no column \"y\""),
    ];
    for (content, want) in cases {
        let data = dir.path().join("bad.csv");
        std::fs::write(&data, content).expect("write data");
        let data = data.to_str().expect("utf-8");
        let out = gwen(&["train", "--db", db, "--schema", schema, "--data", data]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one error line: {stderr}");
        assert!(stderr.contains(&format!("{data}{want}")), "{stderr:?} should contain {want:?}");
    }
    // A good file trains, and predicts without its label column.
    let data = dir.path().join("good.csv");
    std::fs::write(&data, "y,u,p,seq\n1,a,0.5,x:1|y:2\n0,b,1.5,\n").expect("write data");
    let data = data.to_str().expect("utf-8");
    gwen_ok(&["train", "--db", db, "--schema", schema, "--data", data]);
    let unlabeled = dir.path().join("unlabeled.csv");
    std::fs::write(&unlabeled, "p,u,seq\n0.5,a,x:0.5\n").expect("write data");
    let out = gwen_ok(&["predict", "--db", db, "--data", unlabeled.to_str().expect("utf-8")]);
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn runaway_values_are_refused_and_the_input_layout_is_part_of_the_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf-8").to_string()
    };
    let schema = write(
        "s.toml",
        "[mlp]\nhidden = [4]\n[input]\nformat = 'csv'\n[input.label]\ncolumn = 'y'\n\
         [[input.dense]]\ncolumn = 'p'\n[[groups]]\nname = 'g'\nfields = ['u']\n",
    );
    let good = write("good.csv", "y,u,p\n1,a,0.5\n0,b,1.5\n");
    let huge = write("huge.csv", "y,u,p\n1,a,3e38\n0,b,-3e38\n");
    let db = dir.path().join("db");
    let db = db.to_str().expect("utf-8");
    gwen_ok(&["train", "--db", db, "--schema", &schema, "--data", &good]);
    let before = gwen_ok(&["predict", "--db", db, "--data", &good]);
    let out = gwen(&["train", "--db", db, "--data", &huge]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("non-finite") && stderr.contains("nothing was updated"), "{stderr}");
    let after = gwen_ok(&["predict", "--db", db, "--data", &good]);
    assert_eq!(before, after, "the refused batch changed nothing");
    assert!(after.lines().all(|l| l.parse::<f64>().is_ok_and(f64::is_finite)), "{after}");

    // Another [input] on the same database is a schema mismatch.
    let other = write(
        "o.toml",
        "[mlp]\nhidden = [4]\n[input]\nformat = 'csv'\ndelimiter = ';'\n[input.label]\n\
         column = 'y'\n[[input.dense]]\ncolumn = 'p'\n[[groups]]\nname = 'g'\nfields = ['u']\n",
    );
    let out = gwen(&["train", "--db", db, "--schema", &other, "--data", &good]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("[input]: no delimiter stored, delimiter = \";\" given"), "{stderr}");
}

#[test]
fn inspect_row_hashes_libsvm_indices_as_training_did() {
    let dir = tempfile::tempdir().expect("temp dir");
    let schema = dir.path().join("s.toml");
    std::fs::write(
        &schema,
        "[mlp]\nhidden = [4]\n[input]\nformat = 'libsvm'\nindex_base = 1\n\
         [[input.fields]]\nname = 'item'\nrange = [1, 100]\n\
         [[groups]]\nname = 'item'\nfields = ['item']\n",
    )
    .expect("write schema");
    let data = dir.path().join("d.svm");
    std::fs::write(&data, "1 12:1\n0 13:1\n").expect("write data");
    let db = dir.path().join("db");
    let (db, schema, data) = (
        db.to_str().expect("utf-8"),
        schema.to_str().expect("utf-8"),
        data.to_str().expect("utf-8"),
    );
    gwen_ok(&["train", "--db", db, "--schema", schema, "--data", data]);
    let row = |value: &str| gwen(&["inspect", "row", db, "--group", "item", "--value", value]);
    for value in ["12", "13"] {
        let out = row(value);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
    assert_eq!(row("14").status.code(), Some(1), "index 14 was never trained");
    let out = row("0");
    assert_eq!(out.status.code(), Some(2), "0 is not an index of a 1-based file");
}
