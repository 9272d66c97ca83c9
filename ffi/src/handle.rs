//! The engine behind a `GwenEngine *`: the one place that knows how the engine is shared
//! between threads.

use std::path::Path;

use gwen::{Batch, EmbeddingId, Engine, EngineOptions, Schema, StatsSnapshot, StepReport};

use crate::status::FfiError;

/// An open engine, shared by every thread that holds the handle. The engine itself is
/// `Send + Sync`: predictions run in parallel with each other and with one trainer, while
/// train steps and checkpoints run one at a time (the engine orders them).
pub(crate) struct SharedEngine {
    engine: Engine,
}

/// Counters and progress, read together.
pub(crate) struct Progress {
    pub stats: StatsSnapshot,
    pub step: u64,
    pub checkpoint_step: u64,
}

impl SharedEngine {
    /// Opens the database in `dir`.
    pub(crate) fn open(dir: &Path, options: EngineOptions) -> Result<SharedEngine, FfiError> {
        Ok(SharedEngine { engine: Engine::open(dir, options)? })
    }

    pub(crate) fn schema(&self) -> &Schema {
        self.engine.schema()
    }

    pub(crate) fn predict(&self, batch: &Batch) -> Result<Vec<f32>, FfiError> {
        Ok(self.engine.predict(batch)?)
    }

    pub(crate) fn train_step(&self, batch: &Batch) -> Result<StepReport, FfiError> {
        Ok(self.engine.train_step(batch)?)
    }

    pub(crate) fn checkpoint(&self) -> Result<u64, FfiError> {
        Ok(self.engine.checkpoint()?)
    }

    /// The live weights of row `id` of group index `group`; `None` when never trained.
    pub(crate) fn row(&self, group: usize, id: EmbeddingId) -> Result<Option<Vec<f32>>, FfiError> {
        Ok(self.engine.row(group, id)?)
    }

    pub(crate) fn progress(&self) -> Progress {
        Progress {
            stats: self.engine.stats(),
            step: self.engine.step(),
            checkpoint_step: self.engine.checkpoint_step(),
        }
    }
}
