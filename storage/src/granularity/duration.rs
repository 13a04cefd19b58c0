//! Duration granularities: buckets of a fixed number of milliseconds, Druid's
//! `{"type": "duration", "duration": 3600000, "origin": ...}`.
//!
//! A duration knows nothing of time zones or calendars: its buckets lie on a grid
//! of absolute time, one of them starting at the origin.

use super::GranularityError;
use super::layout::Grid;
use crate::time::Millis;

/// Buckets of a fixed length of absolute time, Druid's `{"type": "duration"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DurationGranularity {
    pub(super) grid: Grid,
}

impl DurationGranularity {
    /// Buckets of `length` milliseconds, one of them starting at `origin`.
    pub fn new(length: i64, origin: Millis) -> Result<Self, GranularityError> {
        if length <= 0 {
            return Err(GranularityError::NonPositiveDuration { duration: length });
        }
        Ok(DurationGranularity {
            grid: Grid {
                anchor: origin,
                length,
            },
        })
    }

    pub fn length(&self) -> i64 {
        self.grid.length
    }

    pub fn origin(&self) -> Millis {
        self.grid.anchor
    }
}
