//! `HLLSketchBuild`: distinct counts with an Apache DataSketches HLL sketch.
//!
//! The state is an [`HllSketch`] with the spec's `lgK` (2^lgK buckets; the
//! relative standard error is about 1.04 / sqrt(2^lgK), 1.6% at the default
//! 12) and its `tgtHllType` (4, 6 or 8 bits per bucket: same estimates,
//! smaller or faster). A sketch starts as a short list of hashes and grows
//! into its bucket array only as distinct values arrive, so a rolled-up row
//! that saw few values stays small. Its bytes are the DataSketches HLL
//! serialization, which Druid and every DataSketches library read.
//!
//! # What is hashed
//!
//! Each input is hashed through its [`DistinctKey`]: the value's text,
//! encoded as UTF-16LE, through MurmurHash3 x64-128 with seed 9001. For
//! strings that is exactly what Druid's `HLLSketchBuild` does (its default
//! `stringEncoding`, `utf16le`), so a string id lands in the same bucket with
//! the same value as in Druid, and sketches of strings from both systems
//! union correctly. Like Druid, null and the empty string are not counted.
//!
//! Numbers are where Strata departs from Druid on purpose: Druid hashes a long
//! as its 8 bytes and a double as its bits, so `123` and `"123"` count as two
//! distinct values there. Strata hashes a number's text (a long in decimal, a
//! double in its shortest round-trip decimal, `1.0` as `1`, `-0.0` as `0`), for
//! two reasons: the events table keeps an HLL metric's raw inputs as strings
//! (that text), and a sketch rebuilt from them at query time must agree with the
//! rolled-up one; and ids that arrive sometimes quoted and sometimes not are
//! one user, not two.
//!
//! # Merging
//!
//! Two states merge through an [`HllUnion`] of the spec's `lgK`, and the result
//! is converted back to the spec's target type. A stored sketch with another
//! `lgK` (a spec changed since it was written) merges too; the union then
//! keeps the smaller `lgK`.

use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};

use datasketches::hll::{Coupon, HllSketch, HllType, HllUnion};
use strata_storage::spec::{HllLgK, HllTargetType};

use super::input::MetricInput;

/// The value an HLL metric counts for one input: its text. `Display` writes
/// that text (what the events table stores); `Hash` feeds it, as UTF-16LE,
/// to the sketch's hash.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistinctKey<'a>(KeyValue<'a>);

#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyValue<'a> {
    Str(&'a str),
    Long(i64),
    Double(f64),
}

impl<'a> DistinctKey<'a> {
    /// The key of `input`; `None` for null and the empty string, which are
    /// not counted.
    pub fn of(input: MetricInput<'a>) -> Option<Self> {
        match input {
            MetricInput::Null | MetricInput::Str("") => None,
            MetricInput::Str(value) => Some(DistinctKey(KeyValue::Str(value))),
            MetricInput::Long(value) => Some(DistinctKey(KeyValue::Long(value))),
            // Adding +0.0 turns -0.0 into +0.0 and leaves every other value as is.
            MetricInput::Double(value) => Some(DistinctKey(KeyValue::Double(value + 0.0))),
        }
    }
}

impl fmt::Display for DistinctKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            KeyValue::Str(value) => f.write_str(value),
            KeyValue::Long(value) => write!(f, "{value}"),
            KeyValue::Double(value) => write!(f, "{value}"),
        }
    }
}

impl Hash for DistinctKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The sink never fails, and formatting numbers only fails when the
        // sink does.
        let _ = write!(Utf16LeSink { hasher: state }, "{self}");
    }
}

/// A `fmt::Write` that feeds the UTF-16LE bytes of what is written to a
/// hasher, in chunks: MurmurHash3 streams, so the hash equals hashing the
/// whole encoding at once, without allocating it.
struct Utf16LeSink<'h, H> {
    hasher: &'h mut H,
}

impl<H: Hasher> fmt::Write for Utf16LeSink<'_, H> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut chunk = [0u8; 64];
        let mut units = text.encode_utf16().peekable();
        while units.peek().is_some() {
            let mut filled = 0;
            // `zip` asks the slots first, so a unit is never taken without a slot.
            for (slot, unit) in chunk.chunks_exact_mut(2).zip(units.by_ref()) {
                slot.copy_from_slice(&unit.to_le_bytes());
                filled += 2;
            }
            self.hasher.write(&chunk[..filled]);
        }
        Ok(())
    }
}

/// The spec's target type as the crate's.
fn hll_type(target: HllTargetType) -> HllType {
    match target {
        HllTargetType::Hll4 => HllType::Hll4,
        HllTargetType::Hll6 => HllType::Hll6,
        HllTargetType::Hll8 => HllType::Hll8,
    }
}

/// The state of one `HLLSketchBuild` metric in one row.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HllState {
    lg_k: HllLgK,
    target: HllType,
    sketch: HllSketch,
}

impl HllState {
    pub(super) fn new(lg_k: HllLgK, target: HllTargetType) -> Self {
        let target = hll_type(target);
        HllState {
            lg_k,
            target,
            sketch: HllSketch::new(lg_k.get(), target)
                .expect("HllLgK holds 4..=21, the range HllSketch accepts"),
        }
    }

    /// Counts one input (null and `""` are not counted).
    pub(super) fn add(&mut self, input: MetricInput<'_>) {
        if let Some(key) = DistinctKey::of(input) {
            self.sketch.update_with_coupon(Coupon::from_value(key));
        }
    }

    pub(super) fn merge(&mut self, other: &HllState) {
        if other.sketch.is_empty() {
            return;
        }
        let mut union = HllUnion::new(self.lg_k.get())
            .expect("HllLgK holds 4..=21, the range HllUnion accepts");
        union.update(&self.sketch);
        union.update(&other.sketch);
        self.sketch = union.to_sketch(self.target);
    }

    pub(super) fn to_bytes(&self) -> Vec<u8> {
        self.sketch.serialize()
    }

    /// A state holding a stored sketch, merged as the spec says from then on.
    pub(super) fn from_bytes(
        lg_k: HllLgK,
        target: HllTargetType,
        bytes: &[u8],
    ) -> Result<Self, datasketches::error::Error> {
        Ok(HllState {
            lg_k,
            target: hll_type(target),
            sketch: HllSketch::deserialize(bytes)?,
        })
    }

    /// Heap bytes held by the sketch.
    pub(super) fn heap_bytes(&self) -> usize {
        size_of::<HllState>() + self.sketch.estimated_size()
    }

    pub(super) fn sketch(&self) -> &HllSketch {
        &self.sketch
    }
}
