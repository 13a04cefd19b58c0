//! The limits one running query must stay within — a deadline, a memory
//! budget — and the flag that cancels it.
//!
//! A query runs on a thread of its own while the HTTP layer waits for it, so
//! the only way to stop it early is for the query itself to look, now and
//! then, whether it should go on. [`QueryLimits`] is what it looks at: a
//! cheap, cloneable handle shared by the query and whoever may stop it (the
//! server's registry of running queries, which cancels by `queryId`). The
//! executor calls [`QueryLimits::check`] between units of work — each table
//! set of an aggregation, each table of a scan — so a query stops within one
//! table's work of its deadline or of a cancel.
//!
//! Memory is bounded the same way, by estimate rather than by allocator: the
//! structures that grow with the answer report what they hold to
//! [`QueryLimits::check_memory`] — the aggregation's groups (keys and
//! accumulators per group), the rows a scan keeps — and the query fails with
//! a message naming what was over, instead of exhausting the machine. The
//! inputs read from a table (its columns, its row bitmaps) are not counted:
//! they are bounded by the table's size, not by the answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// See the [module docs](self). Clones share one cancel flag.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// When the query must be done, and the timeout it came from.
    deadline: Option<(Instant, Duration)>,
    /// The most bytes a structure of the query may hold.
    memory_budget: u64,
    cancelled: AtomicBool,
}

/// Why a query was stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryStopped {
    #[error("the query was cancelled (DELETE /druid/v2/{{queryId}})")]
    Cancelled,
    #[error(
        "the query ran longer than its timeout of {} ms; narrow its intervals, add a filter, or raise `context.timeout` (or the server's --query-timeout)",
        timeout.as_millis()
    )]
    TimedOut { timeout: Duration },
    #[error(
        "the query's {what} would take about {bytes} bytes, over its memory budget of {budget} bytes; narrow its intervals, add a filter, group by fewer or coarser dimensions, or raise the budget (the server's --max-query-memory, which `context.maxQueryMemoryBytes` can only lower)"
    )]
    OverMemoryBudget {
        /// What grew too large, e.g. "aggregation groups (12000 groups)".
        what: String,
        bytes: u64,
        budget: u64,
    },
}

impl QueryLimits {
    /// A query that must end within `timeout` of now (`None`: no deadline),
    /// whose structures may hold at most `memory_budget` bytes.
    pub fn new(timeout: Option<Duration>, memory_budget: u64) -> Self {
        // A timeout too long to add to now is no deadline at all.
        let deadline = timeout.and_then(|timeout| {
            Instant::now()
                .checked_add(timeout)
                .map(|deadline| (deadline, timeout))
        });
        QueryLimits {
            shared: Arc::new(Shared {
                deadline,
                memory_budget,
                cancelled: AtomicBool::new(false),
            }),
        }
    }

    /// No deadline and no memory budget: for callers that bound the work
    /// themselves, such as tests over a few rows.
    pub fn unlimited() -> Self {
        Self::new(None, u64::MAX)
    }

    /// When the query must be done, if it has a deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.shared.deadline.map(|(deadline, _)| deadline)
    }

    /// The timeout the deadline came from.
    pub fn timeout(&self) -> Option<Duration> {
        self.shared.deadline.map(|(_, timeout)| timeout)
    }

    pub fn memory_budget(&self) -> u64 {
        self.shared.memory_budget
    }

    /// Asks the query to stop: its next [`check`](Self::check) fails with
    /// [`QueryStopped::Cancelled`].
    pub fn cancel(&self) {
        self.shared.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Relaxed)
    }

    /// Whether the query may go on: not cancelled, and not past its
    /// deadline. Cheap enough to call once per batch of rows.
    pub fn check(&self) -> Result<(), QueryStopped> {
        if self.is_cancelled() {
            return Err(QueryStopped::Cancelled);
        }
        if let Some((deadline, timeout)) = self.shared.deadline
            && Instant::now() >= deadline
        {
            return Err(QueryStopped::TimedOut { timeout });
        }
        Ok(())
    }

    /// Whether a structure of the query holding about `bytes` bytes is
    /// within the memory budget; `what` names the structure for the error.
    pub fn check_memory(
        &self,
        what: impl FnOnce() -> String,
        bytes: u64,
    ) -> Result<(), QueryStopped> {
        let budget = self.shared.memory_budget;
        if bytes <= budget {
            return Ok(());
        }
        Err(QueryStopped::OverMemoryBudget {
            what: what(),
            bytes,
            budget,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_goes_on_until_its_deadline_passes() {
        let limits = QueryLimits::new(Some(Duration::from_millis(30)), u64::MAX);
        assert_eq!(limits.check(), Ok(()));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(
            limits.check(),
            Err(QueryStopped::TimedOut {
                timeout: Duration::from_millis(30)
            })
        );
    }

    #[test]
    fn no_timeout_means_no_deadline() {
        let limits = QueryLimits::new(None, 1);
        assert_eq!(limits.deadline(), None);
        assert_eq!(limits.check(), Ok(()));
        let endless = QueryLimits::new(Some(Duration::MAX), 1);
        assert_eq!(endless.deadline(), None);
        assert_eq!(endless.check(), Ok(()));
    }

    #[test]
    fn a_cancel_through_any_clone_stops_the_query() {
        let limits = QueryLimits::new(Some(Duration::from_secs(3600)), u64::MAX);
        let registry_copy = limits.clone();
        assert!(!limits.is_cancelled());
        registry_copy.cancel();
        assert!(limits.is_cancelled());
        assert_eq!(limits.check(), Err(QueryStopped::Cancelled));
    }

    #[test]
    fn a_cancel_wins_over_a_passed_deadline() {
        let limits = QueryLimits::new(Some(Duration::ZERO), u64::MAX);
        assert!(matches!(limits.check(), Err(QueryStopped::TimedOut { .. })));
        limits.cancel();
        assert_eq!(limits.check(), Err(QueryStopped::Cancelled));
    }

    #[test]
    fn memory_up_to_the_budget_is_allowed_and_one_byte_more_is_not() {
        let limits = QueryLimits::new(None, 1000);
        assert_eq!(limits.check_memory(|| unreachable!(), 1000), Ok(()));
        let error = limits
            .check_memory(|| "aggregation groups (7 groups)".to_owned(), 1001)
            .unwrap_err();
        assert_eq!(
            error,
            QueryStopped::OverMemoryBudget {
                what: "aggregation groups (7 groups)".to_owned(),
                bytes: 1001,
                budget: 1000,
            }
        );
        let message = error.to_string();
        assert!(
            message.contains("aggregation groups (7 groups)"),
            "{message}"
        );
        assert!(message.contains("1000 bytes"), "{message}");
        assert!(message.contains("--max-query-memory"), "{message}");
    }

    #[test]
    fn unlimited_never_stops() {
        let limits = QueryLimits::unlimited();
        assert_eq!(limits.check(), Ok(()));
        assert_eq!(limits.check_memory(String::new, u64::MAX), Ok(()));
    }
}
