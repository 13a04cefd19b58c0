//! The accepted window: which event times a datasource takes.
//!
//! An event is rejected, with a reason in the ingest report, rather than
//! stored where nobody expects it, when its time falls
//!
//! - outside the spec's `granularitySpec.intervals`, when it lists any (Druid
//!   drops such rows in batch ingest; Strata says so per line);
//! - before now minus the late-message rejection period (Druid's
//!   `lateMessageRejectionPeriod`), when one is set;
//! - after now plus the early-message rejection period
//!   (`earlyMessageRejectionPeriod`), when one is set.
//!
//! Without periods every age is accepted: a late event joins its time chunk as
//! another partition, however old the chunk.

use std::time::Duration;

use strata_storage::spec::DataSourceSpec;
use strata_storage::time::{Interval, Millis, format_millis};

use super::millis;

/// The event times one datasource accepts. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedWindow {
    intervals: Option<Vec<Interval>>,
    late: Option<Duration>,
    early: Option<Duration>,
}

/// Why an event's time is outside the accepted window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutsideWindow {
    #[error(
        "the event time {} is outside the datasource's granularitySpec.intervals ({intervals}); send events inside them or widen the intervals",
        format_millis(*time)
    )]
    OutsideIntervals { time: Millis, intervals: String },
    #[error(
        "the event time {} is older than the accepted window, which starts {late_seconds} s before now ({}); the server rejects late events by its --late-message-rejection-period",
        format_millis(*time), format_millis(*earliest)
    )]
    TooLate {
        time: Millis,
        earliest: Millis,
        late_seconds: u64,
    },
    #[error(
        "the event time {} is later than the accepted window, which ends {early_seconds} s after now ({}); check the sender's clock, or raise the server's --early-message-rejection-period",
        format_millis(*time), format_millis(*latest)
    )]
    TooEarly {
        time: Millis,
        latest: Millis,
        early_seconds: u64,
    },
}

impl AcceptedWindow {
    /// The window of `spec`, with the server's rejection periods.
    pub fn new(spec: &DataSourceSpec, late: Option<Duration>, early: Option<Duration>) -> Self {
        AcceptedWindow {
            intervals: spec.intervals().map(<[Interval]>::to_vec),
            late,
            early,
        }
    }

    /// Whether an event at `time` is accepted `now`.
    pub fn check(&self, time: Millis, now: Millis) -> Result<(), OutsideWindow> {
        if let Some(intervals) = &self.intervals
            && !intervals.iter().any(|interval| interval.contains(time))
        {
            return Err(OutsideWindow::OutsideIntervals {
                time,
                intervals: intervals
                    .iter()
                    .map(Interval::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if let Some(late) = self.late {
            let earliest = now.saturating_sub(millis(late));
            if time < earliest {
                return Err(OutsideWindow::TooLate {
                    time,
                    earliest,
                    late_seconds: late.as_secs(),
                });
            }
        }
        if let Some(early) = self.early {
            let latest = now.saturating_add(millis(early));
            if time > latest {
                return Err(OutsideWindow::TooEarly {
                    time,
                    latest,
                    early_seconds: early.as_secs(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Millis = 3_600_000;
    const NOW: Millis = 1_704_067_200_000;

    fn spec(intervals: &str) -> DataSourceSpec {
        DataSourceSpec::from_json(&format!(
            r#"{{"dataSource": "web", "granularitySpec": {{"segmentGranularity": "hour"{intervals}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn without_limits_every_time_is_accepted() {
        let window = AcceptedWindow::new(&spec(""), None, None);
        for time in [0, NOW - 1000 * HOUR, NOW + 1000 * HOUR] {
            assert_eq!(window.check(time, NOW), Ok(()));
        }
    }

    #[test]
    fn rejection_periods_bound_the_age_both_ways() {
        let hour = Duration::from_secs(3600);
        let window = AcceptedWindow::new(&spec(""), Some(hour), Some(hour));
        assert_eq!(window.check(NOW - HOUR, NOW), Ok(()));
        assert_eq!(window.check(NOW + HOUR, NOW), Ok(()));
        let late = window.check(NOW - HOUR - 1, NOW).unwrap_err();
        assert!(matches!(late, OutsideWindow::TooLate { .. }));
        assert!(
            late.to_string().contains("2023-12-31T22:59:59.999Z"),
            "{late}"
        );
        assert!(late.to_string().contains("--late-message-rejection-period"));
        let early = window.check(NOW + HOUR + 1, NOW).unwrap_err();
        assert!(matches!(early, OutsideWindow::TooEarly { .. }));
    }

    #[test]
    fn spec_intervals_are_enforced() {
        let window = AcceptedWindow::new(
            &spec(r#", "intervals": ["2024-01-01/2024-01-02"]"#),
            None,
            None,
        );
        assert_eq!(window.check(NOW, 0), Ok(()));
        let outside = window.check(NOW - 1, 0).unwrap_err();
        assert!(
            outside.to_string().contains("granularitySpec.intervals"),
            "{outside}"
        );
        assert!(window.check(NOW + 24 * HOUR, 0).is_err(), "the end is open");
    }
}
