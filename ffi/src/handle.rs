//! The engine behind a `GwenEngine *`: the one place that knows how the engine is shared
//! between threads.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use gwen::{Batch, EmbeddingId, Engine, EngineOptions, Schema, StatsSnapshot, StepReport};

use crate::status::{FfiError, GwenStatus};

/// An open engine, shared by every thread that holds the handle.
///
/// TODO(ffi): the engine's train/predict/checkpoint still take `&mut self`, so calls are
/// serialised by a mutex; once they take `&self` (engine refactor "concurrent"), drop the
/// mutex here and predictions run in parallel with each other and with one trainer.
pub(crate) struct SharedEngine {
    engine: Mutex<Engine>,
    /// A copy of the schema, so introspection never waits for a train step.
    schema: Schema,
    dir: PathBuf,
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
        let engine = Engine::open(dir, options)?;
        let schema = engine.schema().clone();
        Ok(SharedEngine { engine: Mutex::new(engine), schema, dir: dir.to_path_buf() })
    }

    pub(crate) fn schema(&self) -> &Schema {
        &self.schema
    }

    pub(crate) fn predict(&self, batch: &Batch) -> Result<Vec<f32>, FfiError> {
        Ok(self.lock()?.predict(batch)?)
    }

    pub(crate) fn train_step(&self, batch: &Batch) -> Result<StepReport, FfiError> {
        Ok(self.lock()?.train_step(batch)?)
    }

    pub(crate) fn checkpoint(&self) -> Result<u64, FfiError> {
        Ok(self.lock()?.checkpoint()?)
    }

    /// The weights of row `id` of group `group` (an index checked by the caller), `None` when
    /// it was never trained.
    ///
    /// TODO(ffi): read the live row with `Engine::row` once it exists; until then this reads
    /// the newest checkpoint, so rows trained since are not seen yet.
    pub(crate) fn row(&self, group: usize, id: EmbeddingId) -> Result<Option<Vec<f32>>, FfiError> {
        let name = &self.schema.groups[group].name;
        Ok(gwen::admin::read_row(&self.dir, name, id)?.map(|row| row.weights))
    }

    pub(crate) fn progress(&self) -> Result<Progress, FfiError> {
        let engine = self.lock()?;
        Ok(Progress {
            stats: engine.stats(),
            step: engine.step(),
            checkpoint_step: engine.checkpoint_step(),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Engine>, FfiError> {
        self.engine.lock().map_err(|_| FfiError {
            status: GwenStatus::GWEN_POISONED,
            message: "engine is poisoned: an earlier call panicked while using it".into(),
        })
    }
}
