//! Logger setup; log lines and the progress bar share stderr without tearing each other.

use std::io::Write;
use std::sync::Mutex;

use indicatif::ProgressBar;

static PROGRESS: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Writes log records above the progress bar, if one is shown.
struct AboveProgress;

impl Write for AboveProgress {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = PROGRESS.lock().ok().and_then(|p| p.clone());
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Installs the logger: `info` by default, `-v` debug, `-vv` trace, `-q` warnings only.
/// `RUST_LOG` overrides all of these.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .target(env_logger::Target::Pipe(Box::new(AboveProgress)))
        .format_timestamp_millis()
        .init();
}

/// Registers the bar that log lines must be printed above.
pub fn set_progress(bar: Option<ProgressBar>) {
    if let Ok(mut slot) = PROGRESS.lock() {
        *slot = bar;
    }
}

/// Removes the progress bar from the screen (before printing an error).
pub fn clear_progress() {
    if let Ok(mut slot) = PROGRESS.lock() {
        if let Some(bar) = slot.take() {
            bar.finish_and_clear();
        }
    }
}
