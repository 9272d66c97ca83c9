//! Gives the heap memory the process has freed back to the OS, twice a second, on a
//! thread of its own, and lets large buffers bypass the arenas (glibc only; elsewhere nothing
//! runs).
//!
//! glibc's malloc keeps freed memory in its arenas for reuse and returns it only from an
//! arena's top. At 20 million rows, `gwen bench` (b) held 77 to 96 MiB free there at its peak
//! RSS, a share that grew with the cache budget (`docs/bench.md`). `malloc_trim` releases the
//! free pages anywhere in every arena; every 50 steps it took 30 MiB off that peak.
//! A process that embeds the engine keeps its own allocator policy: see `docs/design.md`,
//! "Memory".

#![allow(unsafe_code)]

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between two trims.
const PERIOD: Duration = Duration::from_millis(500);

/// Allocations from this size up get pages of their own, returned to the OS when freed: the
/// write-back buffers and the store's write batches (4 MiB and more). Setting it also stops
/// glibc from raising the threshold (up to 32 MiB) each time such a block is freed, which put
/// those buffers inside the arenas, where they stayed resident.
const MMAP_THRESHOLD: i32 = 4 << 20;

/// The trimming thread; dropping it stops the thread.
pub struct Trimmer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts trimming; `None` where there is nothing to trim (not glibc) or no thread could start.
pub fn start() -> Option<Trimmer> {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return None;
    }
    set_mmap_threshold();
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("gwen-trim".into())
        .spawn(move || {
            let (mut trims, mut spent) = (0u64, Duration::ZERO);
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(PERIOD) {
                let started = Instant::now();
                release_free_heap();
                spent += started.elapsed();
                trims += 1;
            }
            log::debug!("heap trimmed {trims} times in {} ms in all", spent.as_millis());
        })
        .ok()?;
    Some(Trimmer { stop: Some(stop), thread: Some(thread) })
}

impl Drop for Trimmer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_heap() {
    // SAFETY: `malloc_trim` takes no pointer and only rearranges glibc's own free lists under
    // its arena locks; any thread may call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_mmap_threshold() {
    // SAFETY: `mallopt` takes two integers and changes a setting of glibc's malloc under its
    // own lock; a failure leaves the default, which is only slower to give memory back.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_heap() {}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_mmap_threshold() {}

#[cfg(test)]
mod tests {
    #[test]
    fn the_trimmer_runs_on_glibc_and_stops_when_dropped() {
        let trimmer = super::start();
        assert_eq!(trimmer.is_some(), cfg!(all(target_os = "linux", target_env = "gnu")));
        // Let it trim at least once, then stop it: dropping joins the thread.
        std::thread::sleep(super::PERIOD * 2);
        drop(trimmer);
    }
}
