//! Input readers: one streaming [`Reader`] for every format the schema's `[input]` describes
//! (Criteo TSV, delimited text with a header, libsvm, libffm), and a synthetic data generator.

pub mod criteo;
mod reader;
mod source;
pub mod spec;
pub mod synth;

pub use reader::{ReadOptions, Reader, Sample};
