//! The queries running now, by `queryId`, so that
//! `DELETE /druid/v2/{queryId}` can cancel them.
//!
//! Each Druid query registers its [`QueryLimits`] under its id while it
//! runs; the request waiting for it holds the [`Registration`], which
//! removes it when dropped, so a query that ends in any way — an answer, an
//! error, a panic of its thread — leaves the registry. Cancelling sets the
//! query's cancel flag, which its executor checks between table sets, and
//! wakes the request waiting for it, so the client's answer does not wait
//! for that check.
//!
//! Dropping a registration cancels its query too: once nobody waits for the
//! answer — the request was answered at its deadline, or the client hung
//! up — the work is stopped at its next check instead of running on
//! unseen.
//!
//! As in Druid, ids are not required to be unique: two running queries may
//! share one (a client retrying, or tagging a dashboard's queries alike), and
//! cancelling the id cancels both. A query sent without an id gets one made
//! up here, in the UUID form Druid uses.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use strata_query::query_limits::QueryLimits;
use tokio::sync::Notify;

/// See the [module docs](self).
#[derive(Default)]
pub struct QueryRegistry {
    running: Mutex<HashMap<String, Vec<RunningQuery>>>,
    /// Tells apart queries that share an id, and seeds made-up ids.
    next_entry: AtomicU64,
    /// Random keys, so made-up ids differ from one server run to the next.
    id_hasher: RandomState,
}

struct RunningQuery {
    entry: u64,
    limits: QueryLimits,
    cancelled: Arc<Notify>,
}

/// A query's place in the registry, held while it runs; dropping it
/// removes the query.
pub struct Registration {
    registry: Arc<QueryRegistry>,
    query_id: String,
    entry: u64,
    cancelled: Arc<Notify>,
}

impl QueryRegistry {
    /// Registers a query running within `limits` under `query_id`.
    pub fn register(self: &Arc<Self>, query_id: &str, limits: QueryLimits) -> Registration {
        let entry = self.next_entry.fetch_add(1, Ordering::Relaxed);
        let cancelled = Arc::new(Notify::new());
        self.lock()
            .entry(query_id.to_owned())
            .or_default()
            .push(RunningQuery {
                entry,
                limits,
                cancelled: cancelled.clone(),
            });
        Registration {
            registry: self.clone(),
            query_id: query_id.to_owned(),
            entry,
            cancelled,
        }
    }

    /// Cancels every running query registered under `query_id`; returns
    /// how many there were (none is no error: the query may have ended).
    pub fn cancel(&self, query_id: &str) -> usize {
        let running = self.lock();
        let Some(queries) = running.get(query_id) else {
            return 0;
        };
        for query in queries {
            query.limits.cancel();
            // A stored permit: the waiting request wakes even if it starts
            // waiting only after this.
            query.cancelled.notify_one();
        }
        queries.len()
    }

    /// How many queries are running.
    pub fn running(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// A new query id, in the UUID (version 4) form Druid gives queries
    /// sent without one.
    pub fn new_query_id(&self) -> String {
        let seed = self.next_entry.fetch_add(1, Ordering::Relaxed);
        let high = self.id_hasher.hash_one((seed, 0u8));
        let low = self.id_hasher.hash_one((seed, 1u8));
        // Version 4 and the RFC 4122 variant, as a random UUID has them.
        let high = (high & !0xF000) | 0x4000;
        let low = (low & !(0b11 << 62)) | (0b10 << 62);
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xFFFF,
            high & 0xFFFF,
            low >> 48,
            low & 0xFFFF_FFFF_FFFF
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<RunningQuery>>> {
        // The map is consistent after every statement; a panic elsewhere
        // while it was locked leaves nothing half done.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Registration {
    /// Resolves once the query is cancelled through the registry.
    pub async fn cancelled(&self) {
        self.cancelled.notified().await;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut running = self.registry.lock();
        if let Some(queries) = running.get_mut(&self.query_id) {
            queries.retain(|query| {
                let ours = query.entry == self.entry;
                if ours {
                    query.limits.cancel();
                }
                !ours
            });
            if queries.is_empty() {
                running.remove(&self.query_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> QueryLimits {
        QueryLimits::new(Some(Duration::from_secs(3600)), u64::MAX)
    }

    #[test]
    fn cancelling_an_id_cancels_every_query_under_it_and_no_other() {
        let registry = Arc::new(QueryRegistry::default());
        let (first, second, other) = (limits(), limits(), limits());
        let _a = registry.register("dashboard", first.clone());
        let _b = registry.register("dashboard", second.clone());
        let _c = registry.register("report", other.clone());
        assert_eq!(registry.running(), 3);
        assert_eq!(registry.cancel("dashboard"), 2);
        assert!(first.is_cancelled() && second.is_cancelled());
        assert!(!other.is_cancelled());
        assert_eq!(registry.cancel("no-such-query"), 0);
    }

    #[test]
    fn a_dropped_registration_leaves_the_registry_and_stops_its_query() {
        let registry = Arc::new(QueryRegistry::default());
        let kept_limits = limits();
        let kept = registry.register("q", kept_limits.clone());
        let dropped_limits = limits();
        drop(registry.register("q", dropped_limits.clone()));
        assert!(dropped_limits.is_cancelled(), "nobody waits for it");
        assert!(!kept_limits.is_cancelled());
        assert_eq!(registry.running(), 1);
        assert_eq!(registry.cancel("q"), 1);
        drop(kept);
        assert_eq!(registry.running(), 0);
        assert_eq!(registry.cancel("q"), 0);
    }

    #[test]
    fn a_registration_wakes_when_cancelled_even_after_the_cancel() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let registry = Arc::new(QueryRegistry::default());
        let registration = registry.register("q", limits());
        registry.cancel("q");
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), registration.cancelled())
                .await
                .expect("woken by the cancel made before waiting");
        });
    }

    #[test]
    fn made_up_ids_are_distinct_version_4_uuids() {
        let registry = QueryRegistry::default();
        let ids: Vec<String> = (0..100).map(|_| registry.new_query_id()).collect();
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            let groups: Vec<&str> = id.split('-').collect();
            let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
            assert_eq!(lengths, [8, 4, 4, 4, 12], "{id}");
            assert!(groups[2].starts_with('4'), "version 4: {id}");
            assert!(
                groups[3].starts_with(['8', '9', 'a', 'b']),
                "RFC 4122 variant: {id}"
            );
            assert!(
                id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
                "{id}"
            );
        }
    }
}
