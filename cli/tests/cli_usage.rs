//! The binary starts, documents its commands and rejects bad arguments with exit code 2.

use std::process::Command;

#[test]
fn help_lists_commands_and_bad_arguments_exit_2() {
    let bin = env!("CARGO_BIN_EXE_gwen");
    let help = Command::new(bin).arg("--help").output().expect("run gwen");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for command in ["train", "eval", "predict", "synth", "demo"] {
        assert!(text.contains(command), "help lacks {command}: {text}");
    }
    let bad = Command::new(bin).args(["train", "--epochs", "x"]).output().expect("run gwen");
    assert_eq!(bad.status.code(), Some(2));
}
