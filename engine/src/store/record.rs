//! The fixed-length on-disk record of one embedding row.
//!
//! ```text
//! offset  size  field
//! 0       1     format version (1)
//! 1       1     optimizer tag (1 = row-wise Adagrad, 2 = SGD)
//! 2       2     reserved, zero
//! 4       4     seen count (u32, saturating): sightings in training batches
//! 8       8     last step (u64): the train step that last updated the row
//! 16      4*dim weights (f32)
//! ..      4*s   optimizer state (f32; s = 1 for Adagrad, 0 for SGD)
//! ```
//!
//! All integers and floats are little-endian.

use crate::error::{Error, Result};
use crate::hash::EmbeddingId;
use crate::rng::splitmix64;

/// Version byte written in every row header.
pub const ROW_FORMAT_VERSION: u8 = 1;
/// Bytes of the row header.
pub const ROW_HEADER_BYTES: usize = 16;

/// The decoded header of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowHeader {
    /// How many times the row was seen in training batches (saturating).
    pub seen_count: u32,
    /// The step that last updated the row.
    pub last_step: u64,
}

/// Length in bytes of a record with `floats` values (weights plus state).
pub fn record_len(floats: usize) -> usize {
    ROW_HEADER_BYTES + 4 * floats
}

/// Appends the record of one row to `out`.
pub fn encode_row(out: &mut Vec<u8>, optimizer_tag: u8, header: RowHeader, values: &[f32]) {
    out.reserve(record_len(values.len()));
    out.extend_from_slice(&[ROW_FORMAT_VERSION, optimizer_tag, 0, 0]);
    out.extend_from_slice(&header.seen_count.to_le_bytes());
    out.extend_from_slice(&header.last_step.to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Decodes a record into `values` (weights plus state, whose length fixes the expected size).
///
/// # Errors
///
/// [`Error::Corruption`] naming the group and id when the length, version or optimizer tag is
/// not what the schema says.
pub fn decode_row(
    bytes: &[u8],
    optimizer_tag: u8,
    values: &mut [f32],
    group: &str,
    id: EmbeddingId,
) -> Result<RowHeader> {
    let corrupt =
        |reason: String| Error::Corruption { what: format!("group {group} id {id:#018x}"), reason };
    if bytes.len() != record_len(values.len()) {
        return Err(corrupt(format!(
            "row is {} bytes, expected {}",
            bytes.len(),
            record_len(values.len())
        )));
    }
    if bytes[0] != ROW_FORMAT_VERSION {
        return Err(corrupt(format!(
            "row format version {}, expected {ROW_FORMAT_VERSION}",
            bytes[0]
        )));
    }
    if bytes[1] != optimizer_tag {
        return Err(corrupt(format!("optimizer tag {}, expected {optimizer_tag}", bytes[1])));
    }
    let header = RowHeader {
        seen_count: u32::from_le_bytes(bytes[4..8].try_into().expect("should be 4 bytes")),
        last_step: u64::from_le_bytes(bytes[8..16].try_into().expect("should be 8 bytes")),
    };
    for (v, chunk) in values.iter_mut().zip(bytes[ROW_HEADER_BYTES..].chunks_exact(4)) {
        *v = f32::from_le_bytes(chunk.try_into().expect("should be 4 bytes"));
    }
    Ok(header)
}

/// The header of a record without decoding its values; `None` when the bytes are too short or
/// of another format version.
pub fn peek_header(bytes: &[u8]) -> Option<RowHeader> {
    if bytes.len() < ROW_HEADER_BYTES || bytes[0] != ROW_FORMAT_VERSION {
        return None;
    }
    Some(RowHeader {
        seen_count: u32::from_le_bytes(bytes[4..8].try_into().ok()?),
        last_step: u64::from_le_bytes(bytes[8..16].try_into().ok()?),
    })
}

/// Deterministic initial weights of a row: uniform in `[-range, range]`, a pure function of
/// (seed, group index, id), so a run does not depend on cache order. State starts at zero.
pub fn init_row(
    seed: u64,
    group: usize,
    id: EmbeddingId,
    range: f32,
    values: &mut [f32],
    dim: usize,
) {
    let mut state = seed ^ (group as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ id.rotate_left(17);
    for v in values[..dim].iter_mut() {
        let bits = splitmix64(&mut state);
        // 24 high bits give an exactly representable f32 in [0, 1).
        let unit = (bits >> 40) as f32 / (1u64 << 24) as f32;
        *v = (2.0 * unit - 1.0) * range;
    }
    values[dim..].fill(0.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_round_trips_bit_for_bit() {
        let values = [1.5f32, -0.0, f32::MIN_POSITIVE, 3.25e-7, 9.0];
        let header = RowHeader { seen_count: 7, last_step: 123_456_789_012 };
        let mut bytes = Vec::new();
        encode_row(&mut bytes, 1, header, &values);
        assert_eq!(bytes.len(), 16 + 20);
        let mut back = [0f32; 5];
        assert_eq!(decode_row(&bytes, 1, &mut back, "g", 9).expect("should decode"), header);
        assert_eq!(values.map(f32::to_bits), back.map(f32::to_bits));
    }

    #[test]
    fn wrong_length_or_tag_is_corruption_naming_the_row() {
        let mut bytes = Vec::new();
        encode_row(&mut bytes, 1, RowHeader::default(), &[1.0, 2.0]);
        let mut three = [0f32; 3];
        let err = decode_row(&bytes, 1, &mut three, "C7", 0xab).expect_err("short").to_string();
        assert!(err.contains("group C7 id 0x00000000000000ab") && err.contains("expected 28"));
        let mut two = [0f32; 2];
        let err = decode_row(&bytes, 2, &mut two, "C7", 1).expect_err("tag").to_string();
        assert!(err.contains("optimizer tag"), "{err}");
    }

    #[test]
    fn init_is_deterministic_and_in_range() {
        let (mut a, mut b) = ([0f32; 17], [0f32; 17]);
        init_row(3, 2, 99, 0.01, &mut a, 16);
        init_row(3, 2, 99, 0.01, &mut b, 16);
        assert_eq!(a, b);
        assert!(a[..16].iter().all(|v| v.abs() <= 0.01) && a[16] == 0.0);
        init_row(3, 1, 99, 0.01, &mut b, 16);
        assert_ne!(a, b, "another group gives another row");
    }
}
