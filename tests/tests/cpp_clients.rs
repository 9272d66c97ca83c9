//! C++ clients of the C ABI (`tests/cpp/`), built with g++ against `include/gwen.h` and both
//! the shared and the static library, run against databases trained by the `gwen` CLI:
//! predictions equal `gwen predict`, the handle survives 8 predicting threads beside a trainer
//! and a checkpointer, and every error path returns its documented status. The client and
//! error tests also run under valgrind (no leaks, no invalid accesses).
//!
//! Cargo names the libraries `libgwen_ffi.{so,a}` (the engine crate already owns the name
//! `gwen`); they are linked here under their shipped names `libgwen.{so,a}`, as `make ffi`
//! does. The benchmark (`docs/ffi.md`) is the ignored test `cpp_predict_benchmark`.

use std::path::{Path, PathBuf};
use std::process::Command;

use gwen_tests::{gwen_ok, shared_data, synthetic_file};

/// Lines the CLI trains on; the C++ clients predict the lines after them.
const TRAIN_LINES: usize = 9000;
const HOLDOUT_LINES: usize = 1000;

/// What the C++ programs run against: the data, a database trained by the CLI and the compiled
/// programs, in a temporary directory removed when the fixture drops (also when a check
/// panics).
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    db: PathBuf,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf()
}

impl Fixture {
    fn new(programs: &[(&str, Link)]) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        let real = shared_data().join("criteo-dac/train_head10k.txt");
        let data = if real.exists() {
            real
        } else {
            // The real sample is not part of the repository; synthetic lines have the format.
            synthetic_file(&root, (TRAIN_LINES + HOLDOUT_LINES) as u64, 11)
        };
        let db = root.join("model");
        let max = TRAIN_LINES.to_string();
        let (db_s, data_s) = (utf8(&db), utf8(&data));
        let train =
            ["train", "--db", db_s, "--data", data_s, "--max-lines", &max, "--threads", "2"];
        gwen_ok(&train);
        link_libraries(&root);
        for &(program, link) in programs {
            compile(&root, program, link);
        }
        Fixture { _dir: dir, root, data, db }
    }
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Cargo's output folder for this build: the libraries sit next to the test executable
/// (`target/release/deps/`), built by `cargo test` because gwen-tests depends on gwen-ffi.
fn cargo_libs() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps directory").to_path_buf();
    for dir in [deps.clone(), deps.parent().expect("profile directory").to_path_buf()] {
        if dir.join("libgwen_ffi.so").exists() && dir.join("libgwen_ffi.a").exists() {
            return dir;
        }
    }
    panic!("libgwen_ffi.so/.a not found next to {}: run `cargo test --workspace`", exe.display());
}

/// `root/lib/libgwen.{so,a}`: the shipped names, as links to cargo's files.
fn link_libraries(root: &Path) {
    let lib = root.join("lib");
    std::fs::create_dir_all(&lib).expect("lib dir");
    let from = cargo_libs();
    for (cargo_name, name) in [("libgwen_ffi.so", "libgwen.so"), ("libgwen_ffi.a", "libgwen.a")] {
        std::os::unix::fs::symlink(from.join(cargo_name), lib.join(name)).expect("symlink");
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Link {
    Shared,
    Static,
}

fn binary(root: &Path, program: &str, link: Link) -> PathBuf {
    let suffix = if link == Link::Shared { "shared" } else { "static" };
    root.join(format!("{program}-{suffix}"))
}

fn compile(root: &Path, program: &str, link: Link) {
    let repo = repo();
    let lib = root.join("lib");
    let mut cmd = Command::new("g++");
    cmd.args(["-std=c++17", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-pthread"])
        .arg("-I")
        .arg(repo.join("include"))
        .arg(repo.join(format!("tests/cpp/{program}.cpp")))
        .arg("-o")
        .arg(binary(root, program, link));
    match link {
        Link::Shared => {
            cmd.arg(format!("-L{}", lib.display()))
                .arg("-lgwen")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Link::Static => {
            // The native libraries rustc reports for the staticlib (--print native-static-libs).
            cmd.arg(lib.join("libgwen.a")).args([
                "-lstdc++",
                "-lgcc_s",
                "-lutil",
                "-lrt",
                "-lpthread",
                "-lm",
                "-ldl",
            ]);
        }
    }
    let out = cmd.output().expect("run g++ (install it with `make deps`)");
    assert!(
        out.status.success(),
        "g++ {program} ({}) failed:\n{}",
        if link == Link::Shared { "shared" } else { "static" },
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd`, optionally under valgrind, and returns its stdout; fails with its output.
fn run(program: &Path, args: &[&str], valgrind: bool) -> String {
    let mut cmd = if valgrind {
        let mut v = Command::new("valgrind");
        v.args(["--error-exitcode=1", "--leak-check=full", "--track-fds=no", "--quiet"])
            .arg(format!("--suppressions={}", repo().join("tests/cpp/valgrind.supp").display()))
            .arg(program);
        v
    } else {
        Command::new(program)
    };
    // cargo puts target/release (where `make ffi` leaves libgwen.so, possibly older than this
    // build) on LD_LIBRARY_PATH, which the loader searches before the programs' RUNPATH.
    cmd.env_remove("LD_LIBRARY_PATH").env("RUST_BACKTRACE", "1");
    let out = cmd.args(args).output().expect("run C++ test program");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{} {args:?} (valgrind: {valgrind}) failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        program.display(),
        out.status
    );
    if valgrind {
        // Errors and leaks fail through --error-exitcode; anything else valgrind prints beyond
        // its warnings about fcntl hints RocksDB sets (F_SET_RW_HINT) is a problem too.
        let reports: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("==") && !l.contains("Warning: unimplemented fcntl"))
            .collect();
        assert!(reports.is_empty(), "valgrind reported problems:\n{}", reports.join("\n"));
    }
    stdout.into_owned()
}

/// A copy of the trained database that a test may change.
fn copy_db(fx: &Fixture, name: &str) -> PathBuf {
    let to = fx.root.join(name);
    let status = Command::new("cp").arg("-a").arg(&fx.db).arg(&to).status().expect("cp");
    assert!(status.success(), "copy database");
    to
}

/// One test drives every C++ program in turn on one fixture, so the database and the builds
/// are made once and the temporary directory is removed at the end.
#[test]
fn cpp_clients_against_shared_and_static_libraries() {
    let fx = Fixture::new(&[
        ("client_test", Link::Shared),
        ("client_test", Link::Static),
        ("errors_test", Link::Shared),
        ("errors_test", Link::Static),
        ("stress_test", Link::Shared),
        ("bench", Link::Shared),
    ]);
    client_predictions_match_gwen_predict(&fx);
    unlabeled_lines_match_gwen_predict(&fx);
    stress_predict_while_training_and_checkpointing(&fx);
    error_paths_return_their_status(&fx);
}

fn client_predictions_match_gwen_predict(fx: &Fixture) {
    let expected = fx.root.join("expected.txt");
    let (skip, count) = (TRAIN_LINES.to_string(), HOLDOUT_LINES.to_string());
    gwen_ok(&[
        "predict",
        "--db",
        utf8(&fx.db),
        "--data",
        utf8(&fx.data),
        "--skip-lines",
        &skip,
        "--max-lines",
        &count,
        "--out",
        utf8(&expected),
    ]);
    // Batches of 256 like the CLI, and of 37 so that batch boundaries differ.
    for (link, batch, valgrind) in
        [(Link::Shared, "256", false), (Link::Static, "37", false), (Link::Shared, "64", true)]
    {
        let program = binary(&fx.root, "client_test", link);
        let args = [utf8(&fx.db), utf8(&fx.data), &skip, &count, utf8(&expected), batch];
        let out = run(&program, &args, valgrind);
        assert!(out.contains(&format!("{count} predictions match")), "{out}");
        println!("{out}");
    }
}

fn unlabeled_lines_match_gwen_predict(fx: &Fixture) {
    let data = shared_data().join("criteo-dac/test_head10k_unlabeled.txt");
    if !data.exists() {
        println!("skipped: {} is not present", data.display());
        return;
    }
    let expected = fx.root.join("expected-unlabeled.txt");
    gwen_ok(&[
        "predict",
        "--db",
        utf8(&fx.db),
        "--data",
        utf8(&data),
        "--max-lines",
        "2000",
        "--out",
        utf8(&expected),
    ]);
    let program = binary(&fx.root, "client_test", Link::Shared);
    let args = [utf8(&fx.db), utf8(&data), "0", "2000", utf8(&expected), "256"];
    let out = run(&program, &args, false);
    assert!(out.contains("2000 predictions match"), "{out}");
}

fn stress_predict_while_training_and_checkpointing(fx: &Fixture) {
    let db = copy_db(fx, "stress-db");
    let program = binary(&fx.root, "stress_test", Link::Shared);
    let out = run(&program, &[utf8(&db), utf8(&fx.data), "3"], false);
    println!("{out}");
    assert!(out.contains(" 0 errors, 0 non-finite"), "{out}");
}

fn error_paths_return_their_status(fx: &Fixture) {
    for (i, (link, valgrind)) in
        [(Link::Shared, false), (Link::Static, false), (Link::Shared, true)].into_iter().enumerate()
    {
        let db = copy_db(fx, &format!("errors-db-{i}"));
        let scratch = fx.root.join(format!("scratch-{i}"));
        std::fs::create_dir(&scratch).expect("scratch dir");
        let program = binary(&fx.root, "errors_test", link);
        let out = run(&program, &[utf8(&db), utf8(&fx.data), utf8(&scratch)], valgrind);
        assert!(out.contains("checks passed"), "{out}");
        println!("{out}");
    }
}

/// The numbers of `docs/ffi.md`:
/// `cargo test --release -p gwen-tests --test cpp_clients -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: run on an idle machine"]
fn cpp_predict_benchmark() {
    let fx = Fixture::new(&[("bench", Link::Shared)]);
    let program = binary(&fx.root, "bench", Link::Shared);
    let lines = TRAIN_LINES.to_string();
    for threads in ["1", "2"] {
        let out = run(&program, &[utf8(&fx.db), utf8(&fx.data), &lines, "3", threads], false);
        println!("{}", out.trim());
    }
}
