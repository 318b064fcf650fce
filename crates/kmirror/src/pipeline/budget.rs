//! Bounded memory between the fetcher and a forwarder: bytes fetched but not yet acknowledged by the target.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Buffered bytes of one partition, or of a whole flow (the parent of its partitions' budgets). The fetcher
/// stops asking for a partition when its budget or the flow's is full; acknowledgements release bytes and
/// wake the fetcher. So memory stays bounded however many partitions a flow has.
#[derive(Debug)]
pub struct Budget {
    buffered: AtomicUsize,
    limit: usize,
    wake: Arc<Notify>,
    parent: Option<Arc<Budget>>,
}

impl Budget {
    pub fn new(limit: usize, wake: Arc<Notify>) -> Self {
        Self {
            buffered: AtomicUsize::new(0),
            limit,
            wake,
            parent: None,
        }
    }

    /// A budget that also counts against `parent` (and wakes what `parent` wakes).
    pub fn within(limit: usize, parent: Arc<Budget>) -> Self {
        Self {
            buffered: AtomicUsize::new(0),
            limit,
            wake: parent.wake.clone(),
            parent: Some(parent),
        }
    }

    pub fn has_room(&self) -> bool {
        self.buffered.load(Ordering::Acquire) < self.limit
            && self.parent.as_ref().is_none_or(|p| p.has_room())
    }

    pub fn take(&self, bytes: usize) {
        self.buffered.fetch_add(bytes, Ordering::AcqRel);
        if let Some(p) = &self.parent {
            p.take(bytes);
        }
    }

    pub fn release(&self, bytes: usize) {
        let _ = self
            .buffered
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some(b.saturating_sub(bytes))
            });
        if let Some(p) = &self.parent {
            p.release(bytes);
        }
        self.wake.notify_one();
    }

    pub fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_flow_budget_stops_every_partition() {
        let flow = Arc::new(Budget::new(100, Arc::new(Notify::new())));
        let a = Budget::within(80, flow.clone());
        let b = Budget::within(80, flow.clone());
        a.take(70);
        assert!(a.has_room() && b.has_room());
        b.take(40);
        assert!(
            !a.has_room() && !b.has_room(),
            "the flow holds 110 of 100 bytes"
        );
        b.release(40);
        assert!(a.has_room() && b.has_room());
        a.take(20);
        assert!(!a.has_room(), "the partition holds 90 of 80 bytes");
        assert_eq!(flow.buffered(), 90);
    }
}
