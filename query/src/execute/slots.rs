//! Group slots: one table's groups numbered densely, so that aggregations
//! fold into flat arrays.
//!
//! Before any aggregation reads a value, each selected row is given the
//! *slot* of its group — its time bucket and the codes of its key values
//! (see `group_keys`) — a number from 0 up, in order of first appearance.
//! Every aggregation then folds column by column: for each (row, slot) pair,
//! the row's input into the slot's accumulator. Finding a group is the only
//! per-row work that depends on the keys, and it is done once per row, not
//! once per aggregation.
//!
//! A group is found by its codes packed into one integer — the key codes in
//! mixed radix, the bucket's local number above them — in a dense array when
//! there is a single bucket and few enough combinations (a dimension of a few
//! thousand values, or two small ones), in a hash map otherwise; keys whose
//! combinations do not fit 32 bits are hashed as lists. Rows come in time
//! order within a table, so a row's bucket is nearly always the previous
//! row's, which is checked first.
//!
//! A row of a multi-value dimension has one pair per combination of its
//! values, as it counts in each of those groups.

use std::collections::HashMap;

use strata_storage::time::Millis;

use super::bucketing::Bucketing;
use super::group_keys::{KeyColumn, for_each_combination};

/// Combinations of key codes up to this many are found in a dense array
/// (4 bytes each) when there is a single time bucket.
const DENSE_SLOTS: u64 = 1 << 20;

/// Which rows of a run a query reads.
pub(super) enum RunSelection<I> {
    /// Every row of a run of this many rows.
    All(usize),
    /// These rows, counted from the run's first, in order.
    Some(I),
}

/// The rows of one run and their group slots.
pub(super) struct SlotAssignment {
    /// The rows, counted from the run's first, in row order, each once per
    /// group it counts in; `None` when that is every row of the run, once.
    pub(super) rows: Option<Vec<u32>>,
    /// The slot of each entry of `rows` (of each row of the run with no
    /// `rows`).
    pub(super) slots: Vec<u32>,
}

/// One table's groups, numbered as its runs of rows meet them.
pub(super) struct GroupSlots<'b> {
    index: SlotIndex,
    buckets: BucketNumbers<'b>,
    multi_value: bool,
}

impl<'b> GroupSlots<'b> {
    pub(super) fn new(bucketing: &'b Bucketing, keys: &[KeyColumn]) -> Self {
        GroupSlots {
            index: SlotIndex::new(bucketing, keys),
            buckets: BucketNumbers::new(bucketing),
            multi_value: keys.iter().any(KeyColumn::is_multi_value),
        }
    }

    /// Gives every row of `selected` its slot. `times` holds the run's
    /// `__time`s — or nothing, when the bucketing has a single bucket;
    /// `keys` are loaded with the run.
    pub(super) fn assign(
        &mut self,
        selected: RunSelection<impl Iterator<Item = u32>>,
        times: &[Millis],
        keys: &[KeyColumn],
    ) -> SlotAssignment {
        match selected {
            RunSelection::All(rows) if !self.multi_value => SlotAssignment {
                rows: None,
                slots: self.whole_run_slots(rows, times, keys),
            },
            RunSelection::All(rows) => self.assign_rows(0..rows as u32, times, keys),
            RunSelection::Some(selected) => self.assign_rows(selected, times, keys),
        }
    }

    /// The slot of every row of a run of `rows` rows, each in one group.
    /// The loops are split by what a row's slot depends on, so that the
    /// common shapes — a time series, one key over one bucket — run
    /// without per-row decisions.
    fn whole_run_slots(&mut self, rows: usize, times: &[Millis], keys: &[KeyColumn]) -> Vec<u32> {
        let single = self.buckets.bucketing.is_single();
        if !single && times.len() != rows {
            // The caller checks the lengths; a short time column leaves the
            // rows without a time in no group.
            return self.assign_rows(0..rows as u32, times, keys).slots;
        }
        if keys.is_empty() {
            if single {
                let (bucket, start) = self.buckets.number(0);
                let slot = self.index.slot(bucket, &[], || (start, &[]));
                return vec![slot; rows];
            }
            let mut slots = Vec::with_capacity(rows);
            let mut current: Option<(Millis, Millis, u32)> = None;
            for &time in times {
                let slot = match current {
                    Some((start, end, slot)) if (start..end).contains(&time) => slot,
                    _ => {
                        let (bucket, start) = self.buckets.number(time);
                        let end = self.buckets.bucketing.next_bucket_start(start);
                        let slot = self.index.slot(bucket, &[], || (start, &[]));
                        current = Some((start, end, slot));
                        slot
                    }
                };
                slots.push(slot);
            }
            return slots;
        }
        if let Some(packed) = self.index.packed_codes(keys, rows) {
            if single && let Lookup::Dense(_) = self.index.lookup {
                let (_, start) = self.buckets.number(0);
                return packed
                    .into_iter()
                    .map(|packed| self.index.dense_packed_slot(packed, start))
                    .collect();
            }
            if let Lookup::Packed(_) = self.index.lookup {
                let mut slots = Vec::with_capacity(rows);
                for (row, packed) in packed.into_iter().enumerate() {
                    let time = times.get(row).copied().unwrap_or(0);
                    let (bucket, start) = self.buckets.number(time);
                    slots.push(self.index.packed_slot(bucket, packed, start));
                }
                return slots;
            }
        }
        let mut slots = Vec::with_capacity(rows);
        let mut codes: Vec<u64> = Vec::with_capacity(keys.len());
        for row in 0..rows {
            let time = times.get(row).copied().unwrap_or(0);
            let (bucket, bucket_start) = self.buckets.number(time);
            let slot = match self.index.dense_slot(keys, row, bucket_start) {
                Some(slot) => slot,
                None => {
                    codes.clear();
                    codes.extend(keys.iter().map(|key| u64::from(key.code(row))));
                    self.index.slot(bucket, &codes, || (bucket_start, &codes))
                }
            };
            slots.push(slot);
        }
        slots
    }

    /// Gives each row of `selected` (counted from the run's first) its
    /// slot, once per group it counts in.
    fn assign_rows(
        &mut self,
        selected: impl Iterator<Item = u32>,
        times: &[Millis],
        keys: &[KeyColumn],
    ) -> SlotAssignment {
        let (lower, _) = selected.size_hint();
        let mut rows = Vec::with_capacity(lower);
        let mut slots = Vec::with_capacity(lower);
        let mut codes: Vec<u64> = Vec::with_capacity(keys.len());
        let mut choices: Vec<&[u32]> = Vec::with_capacity(keys.len());
        let single = self.buckets.bucketing.is_single();
        for row in selected {
            let time = match times.get(row as usize) {
                Some(&time) => time,
                None if single => 0,
                None => continue,
            };
            let (bucket, bucket_start) = self.buckets.number(time);
            if self.multi_value {
                choices.clear();
                choices.extend(keys.iter().map(|key| key.codes(row as usize)));
                codes.clear();
                let index = &mut self.index;
                for_each_combination(&choices, &mut codes, &mut |codes| {
                    let slot = index.slot(bucket, codes, || (bucket_start, codes));
                    rows.push(row);
                    slots.push(slot);
                });
            } else {
                let slot = match self.index.dense_slot(keys, row as usize, bucket_start) {
                    Some(slot) => slot,
                    None => {
                        codes.clear();
                        codes.extend(keys.iter().map(|key| u64::from(key.code(row as usize))));
                        self.index.slot(bucket, &codes, || (bucket_start, &codes))
                    }
                };
                rows.push(row);
                slots.push(slot);
            }
        }
        SlotAssignment {
            rows: Some(rows),
            slots,
        }
    }

    /// How many groups the runs so far met.
    pub(super) fn len(&self) -> usize {
        self.index.groups.len()
    }

    /// Per slot: its bucket's timestamp and its key codes.
    pub(super) fn into_groups(self) -> Vec<(Millis, Vec<u32>)> {
        self.index.groups
    }
}

/// Numbers a table's time buckets from 0, in order of first appearance.
struct BucketNumbers<'b> {
    bucketing: &'b Bucketing,
    numbers: HashMap<Millis, u32, foldhash::fast::RandomState>,
    /// The last bucket met: its start, its end (exclusive) and its number.
    last: Option<(Millis, Millis, u32)>,
}

impl<'b> BucketNumbers<'b> {
    fn new(bucketing: &'b Bucketing) -> Self {
        BucketNumbers {
            bucketing,
            numbers: HashMap::default(),
            last: None,
        }
    }

    /// The number of the bucket holding `time`, and the bucket's start.
    fn number(&mut self, time: Millis) -> (u32, Millis) {
        // One bucket holds every row, whatever its time (which may not have
        // been read).
        if let Bucketing::All(start) = self.bucketing {
            return (0, *start);
        }
        if let Some((start, end, number)) = self.last
            && (start..end).contains(&time)
        {
            return (number, start);
        }
        let start = self.bucketing.bucket(time);
        let end = self.bucketing.next_bucket_start(start);
        let next = self.numbers.len() as u32;
        let number = *self.numbers.entry(start).or_insert(next);
        self.last = Some((start, end, number));
        (number, start)
    }
}

/// Finds a group's slot from its bucket number and key codes.
struct SlotIndex {
    /// The number of codes of each key: the radices of the packing.
    radices: Vec<u64>,
    lookup: Lookup,
    /// The packed key and slot of the last packed lookup: rows in time order
    /// with few keys meet the same group many times in a row.
    last_packed: Option<(u64, u32)>,
    groups: Vec<(Millis, Vec<u32>)>,
}

enum Lookup {
    /// One bucket; slot of each packed key, `u32::MAX` when unseen.
    Dense(Vec<u32>),
    /// Bucket number above the packed key.
    Packed(HashMap<u64, u32, foldhash::fast::RandomState>),
    /// Too many combinations to pack: the bucket number then the codes.
    Wide(HashMap<Vec<u64>, u32, foldhash::fast::RandomState>),
}

impl SlotIndex {
    fn new(bucketing: &Bucketing, keys: &[KeyColumn]) -> Self {
        let radices: Vec<u64> = keys.iter().map(|key| key.code_count() as u64).collect();
        let combinations = radices
            .iter()
            .try_fold(1u64, |product, &radix| product.checked_mul(radix.max(1)));
        let lookup = match combinations {
            Some(combinations) if bucketing.is_single() && combinations <= DENSE_SLOTS => {
                Lookup::Dense(vec![u32::MAX; combinations as usize])
            }
            Some(combinations) if combinations <= u64::from(u32::MAX) => {
                Lookup::Packed(HashMap::default())
            }
            _ => Lookup::Wide(HashMap::default()),
        };
        SlotIndex {
            radices,
            lookup,
            last_packed: None,
            groups: Vec::new(),
        }
    }

    /// Every row's key codes packed into one integer, a key at a time over
    /// the whole run; `None` when a key has no codes per row or the
    /// combinations do not fit the packing.
    fn packed_codes(&self, keys: &[KeyColumn], rows: usize) -> Option<Vec<u64>> {
        if matches!(self.lookup, Lookup::Wide(_)) {
            return None;
        }
        let mut packed = vec![0u64; rows];
        for (key, &radix) in keys.iter().zip(&self.radices) {
            let codes = key.run_codes(rows)?;
            if codes.len() != rows {
                return None;
            }
            for (packed, &code) in packed.iter_mut().zip(codes) {
                *packed = *packed * radix + u64::from(code);
            }
        }
        Some(packed)
    }

    /// The key codes packed into `packed`, key by key.
    fn unpack(&self, mut packed: u64) -> Vec<u32> {
        let mut codes = vec![0u32; self.radices.len()];
        for (code, &radix) in codes.iter_mut().zip(&self.radices).rev() {
            let radix = radix.max(1);
            *code = (packed % radix) as u32;
            packed /= radix;
        }
        codes
    }

    /// With a dense lookup, the slot of the group of packed codes `packed`
    /// in the bucket starting at `bucket_start`.
    #[inline]
    fn dense_packed_slot(&mut self, packed: u64, bucket_start: Millis) -> u32 {
        let next = self.groups.len() as u32;
        let slot = match &mut self.lookup {
            Lookup::Dense(slots) => match slots.get_mut(packed as usize) {
                Some(slot) if *slot == u32::MAX => {
                    *slot = next;
                    next
                }
                Some(slot) => return *slot,
                // Codes are below their radices, so the index is in range.
                None => next,
            },
            _ => next,
        };
        let codes = self.unpack(packed);
        self.groups.push((bucket_start, codes));
        slot
    }

    /// With a packed lookup, the slot of the group of bucket number
    /// `bucket` (starting at `bucket_start`) and packed codes `packed`.
    #[inline]
    fn packed_slot(&mut self, bucket: u32, packed: u64, bucket_start: Millis) -> u32 {
        let key = (u64::from(bucket) << 32) | packed;
        if let Some((last, slot)) = self.last_packed
            && last == key
        {
            return slot;
        }
        let next = self.groups.len() as u32;
        let slot = match &mut self.lookup {
            Lookup::Packed(map) => *map.entry(key).or_insert(next),
            _ => next,
        };
        self.last_packed = Some((key, slot));
        if slot == next {
            let codes = self.unpack(packed);
            self.groups.push((bucket_start, codes));
        }
        slot
    }

    /// With a dense lookup (one bucket, keys of one value per row), the
    /// slot of `row`'s group, its key codes read and packed in one pass;
    /// `None` for any other lookup.
    #[inline]
    fn dense_slot(&mut self, keys: &[KeyColumn], row: usize, bucket_start: Millis) -> Option<u32> {
        let Lookup::Dense(slots) = &mut self.lookup else {
            return None;
        };
        let packed = keys
            .iter()
            .zip(&self.radices)
            .fold(0u64, |packed, (key, &radix)| {
                packed * radix + u64::from(key.code(row))
            });
        let slot = slots.get_mut(packed as usize)?;
        if *slot == u32::MAX {
            *slot = self.groups.len() as u32;
            self.groups
                .push((bucket_start, keys.iter().map(|key| key.code(row)).collect()));
        }
        Some(*slot)
    }

    /// The slot of the group (`bucket`, `codes`); a new group is described
    /// by `describe` (its bucket start and codes).
    fn slot<'c>(
        &mut self,
        bucket: u32,
        codes: &'c [u64],
        describe: impl FnOnce() -> (Millis, &'c [u64]),
    ) -> u32 {
        let next = self.groups.len() as u32;
        let packed = || {
            codes
                .iter()
                .zip(&self.radices)
                .fold(0u64, |packed, (&code, &radix)| packed * radix + code)
        };
        let (slot, is_new) = match &mut self.lookup {
            Lookup::Dense(slots) => {
                let index = packed() as usize;
                match slots.get_mut(index) {
                    Some(slot) if *slot == u32::MAX => {
                        *slot = next;
                        (next, true)
                    }
                    Some(slot) => (*slot, false),
                    // Codes are below their radices, so the index is in
                    // range; were it not, the rows would still come out
                    // right, as groups of equal keys merge in `Groups`.
                    None => (next, true),
                }
            }
            Lookup::Packed(map) => {
                let key = (u64::from(bucket) << 32) | packed();
                match self.last_packed {
                    Some((last, slot)) if last == key => (slot, false),
                    _ => {
                        let slot = *map.entry(key).or_insert(next);
                        self.last_packed = Some((key, slot));
                        (slot, slot == next)
                    }
                }
            }
            Lookup::Wide(map) => {
                let mut key = Vec::with_capacity(codes.len() + 1);
                key.push(u64::from(bucket));
                key.extend_from_slice(codes);
                let slot = *map.entry(key).or_insert(next);
                (slot, slot == next)
            }
        };
        if is_new {
            let (start, codes) = describe();
            self.groups
                .push((start, codes.iter().map(|&code| code as u32).collect()));
        }
        slot
    }
}
