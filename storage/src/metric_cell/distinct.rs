//! Distinct counts: an Apache DataSketches HLL sketch, and how a value is
//! hashed into it.
//!
//! The state is an [`HllSketch`] with an `lgK` (2^lgK buckets; the relative
//! standard error is about 1.04 / sqrt(2^lgK), 1.6% at the default 12) and a
//! target type (4, 6 or 8 bits per bucket: same estimates, smaller or
//! faster). A sketch starts as a short list of hashes and grows into its
//! bucket array only as distinct values arrive, so a rolled-up row that saw
//! few values stays small. Its bytes are the DataSketches HLL serialization,
//! which Druid and every DataSketches library read.
//!
//! # What is hashed
//!
//! Each value is hashed through its [`DistinctKey`]: the value's text,
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
//! (that text), and a sketch rebuilt from them at query time must agree with
//! the rolled-up one; and ids that arrive sometimes quoted and sometimes not
//! are one user, not two.
//!
//! # Coupons
//!
//! What a sketch keeps of a value is its *coupon* (a bucket and a register
//! value, 4 bytes), which depends on the value alone: the same text gives
//! the same coupon in every sketch, whatever its `lgK` or type. So a string
//! column hashes each dictionary value once ([`DictionaryCoupons`]) and a
//! distinct count over its rows looks coupons up by dictionary id instead of
//! hashing every row's text; counting a value's coupon and counting the
//! value leave a sketch exactly alike.
//!
//! # Merging
//!
//! Two states merge through an [`HllUnion`] of the receiving state's `lgK`,
//! and the result is converted back to its target type. A sketch with
//! another `lgK` (a spec changed since it was written, or a query asking for
//! another one) merges too; the union then keeps the smaller `lgK`.

use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};

use datasketches::common::NumStdDev;
pub use datasketches::hll::Coupon;
use datasketches::hll::{HllSketch, HllType, HllUnion};

use super::CorruptSketch;
use crate::spec::{HllLgK, HllTargetType};

/// The value an HLL sketch counts for one input: its text. `Display` writes
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
    /// The key of a string; `None` for the empty string, which is not counted.
    pub fn text(value: &'a str) -> Option<Self> {
        (!value.is_empty()).then_some(DistinctKey(KeyValue::Str(value)))
    }

    /// What counting this key adds to a sketch: the hash of its text,
    /// reduced to a bucket and a register value.
    pub fn coupon(self) -> Coupon {
        Coupon::from_value(self)
    }

    /// The key of a long: its decimal text.
    pub fn long(value: i64) -> Self {
        DistinctKey(KeyValue::Long(value))
    }

    /// The key of a double: its shortest round-trip text, `-0.0` as `0`.
    pub fn double(value: f64) -> Self {
        // Adding +0.0 turns -0.0 into +0.0 and leaves every other value as is.
        DistinctKey(KeyValue::Double(value + 0.0))
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

/// An HLL sketch with the `lgK` and target type it merges with.
#[derive(Debug, Clone, PartialEq)]
pub struct HllState {
    lg_k: HllLgK,
    target: HllType,
    sketch: HllSketch,
}

impl HllState {
    pub fn new(lg_k: HllLgK, target: HllTargetType) -> Self {
        let target = hll_type(target);
        HllState {
            lg_k,
            target,
            sketch: HllSketch::new(lg_k.get(), target)
                .expect("HllLgK holds 4..=21, the range HllSketch accepts"),
        }
    }

    /// Counts one value.
    pub fn add(&mut self, key: DistinctKey<'_>) {
        self.add_coupon(key.coupon());
    }

    /// Counts the value whose coupon this is: the same as
    /// [`add`](Self::add) of that value.
    pub fn add_coupon(&mut self, coupon: Coupon) {
        self.sketch.update_with_coupon(coupon);
    }

    /// Absorbs `other`'s values.
    pub fn merge(&mut self, other: &HllState) {
        if other.sketch.is_empty() {
            return;
        }
        let mut union = HllUnion::new(self.lg_k.get())
            .expect("HllLgK holds 4..=21, the range HllUnion accepts");
        union.update(&self.sketch);
        union.update(&other.sketch);
        self.sketch = union.to_sketch(self.target);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.sketch.serialize()
    }

    /// A state holding a stored sketch, merged with `lg_k` and `target` from
    /// then on.
    pub fn from_bytes(
        lg_k: HllLgK,
        target: HllTargetType,
        bytes: &[u8],
    ) -> Result<Self, CorruptSketch> {
        Ok(HllState {
            lg_k,
            target: hll_type(target),
            sketch: HllSketch::deserialize(bytes)?,
        })
    }

    /// Heap bytes held by the sketch.
    pub fn heap_bytes(&self) -> usize {
        size_of::<HllState>() + self.sketch.estimated_size()
    }

    pub fn sketch(&self) -> &HllSketch {
        &self.sketch
    }
}

/// Many sketches and values counted into one: a query's distinct count over
/// many stored sketches or many rows' values.
///
/// [`HllState::merge`] gives back a sketch of the target type after every
/// merge, which suits a rollup row merging now and then; folding a whole
/// table's sketches that way would rebuild the register array once per row.
/// This keeps one union open instead (its registers at 8 bits), so that a
/// stored sketch costs only its own coupons, and turns it into a sketch of
/// the target type once, at the end.
///
/// Values are counted into a sketch of their own beside the union (8-bit, of
/// the union's `lgK`): a union takes a value only by hashing it, and a
/// coupon, hashed already, must be counted as it is. That sketch joins the
/// union when the state is read or merged. A union that has absorbed nothing
/// else takes it over as it is, so a distinct count of values alone
/// estimates what one sketch fed those values in order estimates, whether
/// they came as values or as coupons.
#[derive(Debug, Clone)]
pub struct HllUnionState {
    target: HllType,
    /// The values counted one by one.
    counted: HllSketch,
    /// The sketches absorbed whole.
    union: HllUnion,
}

impl HllUnionState {
    pub fn new(lg_k: HllLgK, target: HllTargetType) -> Self {
        HllUnionState {
            target: hll_type(target),
            counted: HllSketch::new(lg_k.get(), HllType::Hll8)
                .expect("HllLgK holds 4..=21, the range HllSketch accepts"),
            union: HllUnion::new(lg_k.get())
                .expect("HllLgK holds 4..=21, the range HllUnion accepts"),
        }
    }

    /// Counts one value, hashed as [`HllState::add`] hashes it.
    pub fn add(&mut self, key: DistinctKey<'_>) {
        self.add_coupon(key.coupon());
    }

    /// Counts the value whose coupon this is: the same as
    /// [`add`](Self::add) of that value.
    #[inline]
    pub fn add_coupon(&mut self, coupon: Coupon) {
        self.counted.update_with_coupon(coupon);
    }

    /// Absorbs a stored sketch's values.
    pub fn add_state(&mut self, state: &HllState) {
        self.union.update(&state.sketch);
    }

    /// Absorbs another union's values.
    pub fn merge(&mut self, other: &HllUnionState) {
        self.union.update(&other.counted);
        if !other.union.is_empty() {
            self.union.update(&other.union.to_sketch(HllType::Hll8));
        }
    }

    /// The values counted, as a sketch of the target type.
    pub fn to_sketch(&self) -> HllSketch {
        if self.counted.is_empty() {
            return self.union.to_sketch(self.target);
        }
        let mut union = self.union.clone();
        union.update(&self.counted);
        union.to_sketch(self.target)
    }
}

/// The coupon of each value of a string column's dictionary, by dictionary
/// id: what a distinct count of the column counts for a row, looked up
/// rather than hashed (see the [module docs](self)). The empty string
/// counts nothing, as [`DistinctKey::text`] has it.
#[derive(Debug, Clone, PartialEq)]
pub struct DictionaryCoupons {
    /// By dictionary id; the empty string's entry is never read.
    coupons: Vec<Coupon>,
    /// The id of the empty string, when the dictionary holds it.
    empty: Option<u32>,
}

impl DictionaryCoupons {
    /// The coupons of `values`, dictionary id `i` being value `i`; the
    /// first error reading a value is returned as it is.
    pub fn try_from_values<'v, E>(
        values: impl IntoIterator<Item = Result<&'v str, E>>,
    ) -> Result<Self, E> {
        let values = values.into_iter();
        let mut coupons = Vec::with_capacity(values.size_hint().0);
        let mut empty = None;
        for (id, value) in (0..=u32::MAX).zip(values) {
            let value = value?;
            match DistinctKey::text(value) {
                Some(key) => coupons.push(key.coupon()),
                None => {
                    empty = Some(id);
                    // Any coupon holds the place: it is never counted.
                    coupons.push(Coupon::from_value(value));
                }
            }
        }
        Ok(DictionaryCoupons { coupons, empty })
    }

    /// The coupon of dictionary id `id`; `None` for the empty string and for
    /// an id past the dictionary.
    #[inline]
    pub fn get(&self, id: u32) -> Option<Coupon> {
        if self.empty == Some(id) {
            return None;
        }
        self.coupons.get(id as usize).copied()
    }

    /// The coupon of a row's code — 0 for null, `id + 1` for dictionary id
    /// `id`, as a single-value string column decodes — `None` for null,
    /// the empty string and a code past the dictionary.
    #[inline]
    pub fn of_code(&self, code: u32) -> Option<Coupon> {
        self.get(code.checked_sub(1)?)
    }

    /// How many dictionary values there are.
    pub fn len(&self) -> usize {
        self.coupons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.coupons.is_empty()
    }
}

impl<'v> FromIterator<&'v str> for DictionaryCoupons {
    fn from_iter<I: IntoIterator<Item = &'v str>>(values: I) -> Self {
        let values = values.into_iter().map(Ok::<_, std::convert::Infallible>);
        match DictionaryCoupons::try_from_values(values) {
            Ok(coupons) => coupons,
            Err(never) => match never {},
        }
    }
}

/// The estimate of `sketch` and its bounds at `std_devs` standard
/// deviations (1, 2 or 3; anything else is taken as the nearest of them),
/// as `[estimate, lower, upper]` — Druid's `HLLSketchEstimateWithBounds`.
pub fn estimate_with_bounds(sketch: &HllSketch, std_devs: u8) -> [f64; 3] {
    let std_devs = match std_devs {
        0 | 1 => NumStdDev::One,
        2 => NumStdDev::Two,
        _ => NumStdDev::Three,
    };
    [
        sketch.estimate(),
        sketch.lower_bound(std_devs),
        sketch.upper_bound(std_devs),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values counted as coupons leave every kind of state as counting the
    /// values does — through the list, set and array modes a sketch grows
    /// through — and a union of values alone estimates what one sketch of
    /// them does.
    #[test]
    fn coupons_count_as_their_values_do() {
        for (lg_k, target) in [
            (HllLgK::DEFAULT, HllTargetType::Hll4),
            (HllLgK::new(5).unwrap(), HllTargetType::Hll8),
        ] {
            for count in [0, 3, 100, 1_000, 30_000] {
                let names: Vec<String> =
                    (0..count).map(|i| format!("user-{}", i % 7_001)).collect();
                let keys: Vec<DistinctKey<'_>> = names
                    .iter()
                    .map(|name| DistinctKey::text(name).unwrap())
                    .collect();
                let mut by_value = HllState::new(lg_k, target);
                let mut by_coupon = HllState::new(lg_k, target);
                let mut union_by_value = HllUnionState::new(lg_k, target);
                let mut union_by_coupon = HllUnionState::new(lg_k, target);
                for key in &keys {
                    by_value.add(*key);
                    by_coupon.add_coupon(key.coupon());
                    union_by_value.add(*key);
                    union_by_coupon.add_coupon(key.coupon());
                }
                assert_eq!(by_value.to_bytes(), by_coupon.to_bytes(), "{count}");
                let union = union_by_coupon.to_sketch();
                assert_eq!(union_by_value.to_sketch().serialize(), union.serialize());
                assert_eq!(union.estimate(), by_value.sketch().estimate(), "{count}");
                // Merged into an empty union, the values stay as they were.
                let mut merged = HllUnionState::new(lg_k, target);
                merged.merge(&union_by_coupon);
                assert_eq!(merged.to_sketch().estimate(), union.estimate(), "{count}");
            }
        }
    }

    #[test]
    fn dictionary_coupons_skip_the_empty_string_and_codes_past_the_dictionary() {
        let dictionary = ["", "a", "b"];
        let coupons: DictionaryCoupons = dictionary.into_iter().collect();
        assert_eq!(coupons.len(), 3);
        assert_eq!(coupons.get(0), None);
        assert_eq!(
            coupons.get(1),
            Some(DistinctKey::text("a").unwrap().coupon())
        );
        assert_eq!(coupons.of_code(0), None);
        assert_eq!(coupons.of_code(1), None);
        assert_eq!(
            coupons.of_code(3),
            Some(DistinctKey::text("b").unwrap().coupon())
        );
        assert_eq!(coupons.of_code(4), None);
        assert_eq!(coupons.get(u32::MAX), None);
        // The empty string counts nothing wherever it sits.
        let unsorted: DictionaryCoupons = ["x", ""].into_iter().collect();
        assert_eq!(
            unsorted.get(0),
            Some(DistinctKey::text("x").unwrap().coupon())
        );
        assert_eq!(unsorted.get(1), None);
        let failed = DictionaryCoupons::try_from_values([Ok("a"), Err("unreadable")]);
        assert_eq!(failed, Err("unreadable"));
    }

    /// A number's key hashes its text, so the coupon of its text in a
    /// string column is the number's.
    #[test]
    fn a_number_and_its_text_have_one_coupon() {
        assert_eq!(
            DistinctKey::long(-12).coupon(),
            DistinctKey::text("-12").unwrap().coupon()
        );
        assert_eq!(
            DistinctKey::double(2.0).coupon(),
            DistinctKey::text("2").unwrap().coupon()
        );
    }

    /// Values added one by one and sketches absorbed whole give the union
    /// what merging the states one into another gives.
    #[test]
    fn a_union_state_counts_what_merged_states_count() {
        let lg_k = HllLgK::DEFAULT;
        let target = HllTargetType::Hll4;
        let names: Vec<String> = (0..20_000).map(|i| format!("user-{i}")).collect();
        let mut merged = HllState::new(lg_k, target);
        let mut union = HllUnionState::new(lg_k, target);
        let mut other_union = HllUnionState::new(lg_k, target);
        for (part, chunk) in names.chunks(3_000).enumerate() {
            let mut state = HllState::new(lg_k, target);
            for name in chunk {
                state.add(DistinctKey::text(name).unwrap());
            }
            merged.merge(&state);
            if part % 2 == 0 {
                union.add_state(&state);
            } else {
                for name in chunk {
                    other_union.add(DistinctKey::text(name).unwrap());
                }
            }
        }
        union.merge(&other_union);
        let (expected, found) = (merged.sketch().estimate(), union.to_sketch().estimate());
        assert!((expected - 20_000.0).abs() < 1_000.0, "{expected}");
        assert!(
            (expected - found).abs() < 1e-6 * expected,
            "{expected} vs {found}"
        );
    }
}
