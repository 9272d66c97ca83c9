//! gwen trains and serves group-wise embedding networks (GwEN) for click-through-rate
//! prediction when the embedding tables are far larger than RAM.
//!
//! Sparse features are hashed to 64-bit [`EmbeddingId`]s and live in RocksDB, one column
//! family per feature group, behind an LRU RAM tier with a byte budget. Each group pools its
//! rows (sum, mean or sqrt-n, optionally weighted) into one vector; the vectors and the dense
//! inputs feed an MLP trained on CPU threads; rows are updated in place by a sparse optimizer
//! (row-wise Adagrad or SGD).
//!
//! This crate is the whole engine. It is not a general tensor library, it does not train on
//! GPUs, and it never prints: it logs through the `log` facade and leaves the logger to the
//! host.
//!
//! ```
//! # fn main() -> gwen::Result<()> {
//! use gwen::{Batch, Engine, EngineOptions, GroupIds, Schema};
//!
//! let schema = Schema::from_toml_str(
//!     "[[groups]]\nname = 'user'\nfields = ['C1', 'C2']\ndim = 8\npooling = 'mean'",
//! )?;
//! let engine = Engine::in_memory(&schema, EngineOptions::default())?;
//! let id = gwen::hash_feature(schema.hash_seed, "C1", b"68fd1e64");
//! let batch = Batch {
//!     len: 2,
//!     labels: vec![1.0, 0.0],
//!     dense: vec![0.5; 26],
//!     groups: vec![GroupIds::new(vec![0, 1, 1], vec![id])],
//! };
//! let report = engine.train_step(&batch)?;
//! assert_eq!(report.step, 1);
//! assert_eq!(engine.predict(&batch)?.len(), 2);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
mod admission;
mod batch;
mod cache;
mod engine;
mod error;
mod hash;
mod keylog;
mod layout;
mod metrics;
mod presence;
pub mod rng;
mod schema;
mod stats;
mod store;
mod train;

pub mod input;

pub use admission::DEFAULT_SKETCH_WIDTH;
pub use batch::{Batch, GroupIds};
pub use cache::ENTRY_OVERHEAD_BYTES;
pub use engine::{max_pinned_bytes, Engine, EngineOptions, Prefetched, StepReport};
pub use error::{Error, Result};
pub use hash::{feature_id, field_seed, hash_feature, EmbeddingId};
pub use metrics::{auc, EvalSummary, Evaluation};
pub use schema::{
    Group, InputSettings, MlpSettings, OptimizerKind, Pooling, Schema, SparseOptimizer,
};
pub use stats::StatsSnapshot;
pub use store::{EvictionPolicy, GroupProperties, RocksOptions, SstFile, StoreMemory};
pub use train::mlp::{logit_loss, sigmoid};
