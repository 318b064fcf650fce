//! Bounded memory between the fetcher and a forwarder: bytes fetched but not yet acknowledged by the target.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// One partition's buffered bytes. The fetcher stops asking for a partition at `limit`; acknowledgements
/// release bytes and wake the fetcher.
#[derive(Debug)]
pub struct Budget {
    buffered: AtomicUsize,
    limit: usize,
    wake: Arc<Notify>,
}

impl Budget {
    pub fn new(limit: usize, wake: Arc<Notify>) -> Self {
        Self {
            buffered: AtomicUsize::new(0),
            limit,
            wake,
        }
    }

    pub fn has_room(&self) -> bool {
        self.buffered.load(Ordering::Acquire) < self.limit
    }

    pub fn take(&self, bytes: usize) {
        self.buffered.fetch_add(bytes, Ordering::AcqRel);
    }

    pub fn release(&self, bytes: usize) {
        let _ = self
            .buffered
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some(b.saturating_sub(bytes))
            });
        self.wake.notify_one();
    }

    pub fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Acquire)
    }
}
