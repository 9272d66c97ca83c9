//! The input stage: a thread that parses the file and builds batches ahead of the consumer.

use std::thread::JoinHandle;

use anyhow::Context;
use crossbeam_channel::{bounded, Receiver};
use gwen::input::{ReadOptions, Reader};
use gwen::{Batch, Schema};

use crate::DataArgs;

/// Batches parsed ahead of the trainer; parsing overlaps training.
const BATCHES_AHEAD: usize = 4;

/// What the input stage saw, once it is done.
#[derive(Debug, Default, Clone)]
pub struct ReadSummary {
    /// Samples delivered in batches.
    pub samples: u64,
    /// Malformed lines skipped (with `--skip-bad-lines`).
    pub skipped_lines: u64,
    /// Up to five skipped lines with their reasons.
    pub skip_examples: Vec<String>,
}

/// Batches arriving from the reader thread.
pub struct BatchStream {
    receiver: Option<Receiver<anyhow::Result<Batch>>>,
    handle: Option<JoinHandle<ReadSummary>>,
}

impl BatchStream {
    /// Starts reading `data` as the schema's `[input]` says; batches arrive through
    /// [`Iterator`]. With `labels`, a file or line without a label is malformed.
    pub fn spawn(data: &DataArgs, schema: &Schema, labels: bool) -> anyhow::Result<BatchStream> {
        data.check()?;
        let options = ReadOptions { skip_bad_lines: data.skip_bad_lines, require_labels: labels };
        let reader = Reader::open(&data.data, schema, options)?;
        let (sender, receiver) = bounded(BATCHES_AHEAD);
        let data = data.clone();
        let handle = std::thread::Builder::new()
            .name("gwen-reader".into())
            .spawn(move || read_all(reader, &data, &sender))
            .context("starting the reader thread")?;
        Ok(BatchStream { receiver: Some(receiver), handle: Some(handle) })
    }

    /// Waits for the reader and returns what it saw.
    pub fn finish(mut self) -> anyhow::Result<ReadSummary> {
        self.receiver.take();
        match self.handle.take() {
            Some(handle) => handle.join().map_err(|_| anyhow::anyhow!("the reader thread failed")),
            None => Ok(ReadSummary::default()),
        }
    }
}

impl Iterator for BatchStream {
    type Item = anyhow::Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.receiver.as_ref()?.recv().ok()
    }
}

fn read_all(
    mut reader: Reader,
    data: &DataArgs,
    sender: &crossbeam_channel::Sender<anyhow::Result<Batch>>,
) -> ReadSummary {
    let mut summary = ReadSummary::default();
    if data.skip_lines > 0 {
        // Skipped records are not parsed: a malformed line among them does not matter.
        if let Err(e) = reader.skip_records(data.skip_lines) {
            let _ = sender.send(Err(anyhow::Error::new(e)));
            return summary;
        }
    }
    let mut remaining = if data.max_lines == 0 { u64::MAX } else { data.max_lines };
    loop {
        let want = remaining.min(data.batch as u64) as usize;
        if want == 0 {
            break;
        }
        let batch = match reader.read_batch(want) {
            Ok(batch) => batch,
            Err(e) => {
                // The batch in progress is dropped whole: nothing of it reaches the model.
                let _ = sender.send(Err(anyhow::Error::new(e)));
                break;
            }
        };
        let n = batch.len;
        if n == 0 {
            break;
        }
        remaining -= n as u64;
        summary.samples += n as u64;
        if sender.send(Ok(batch)).is_err() {
            break;
        }
    }
    summary.skipped_lines = reader.skipped_lines();
    summary.skip_examples = reader.skip_examples().to_vec();
    summary
}
