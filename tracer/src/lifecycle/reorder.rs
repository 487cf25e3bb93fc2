//! Holds items until every earlier one from another CPU has had time to
//! arrive, then hands them out in timestamp order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A min-heap on (timestamp, arrival order): items with equal timestamps
/// keep the order they arrived in, so one CPU's records never swap.
pub(super) struct Reorder<T> {
    heap: BinaryHeap<Entry<T>>,
    seq: u64,
}

struct Entry<T> {
    ts: u64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.ts, self.seq) == (other.ts, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    // Reversed: BinaryHeap is a max-heap and we want the oldest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.ts, other.seq).cmp(&(self.ts, self.seq))
    }
}

impl<T> Reorder<T> {
    pub(super) fn new() -> Self {
        Reorder {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    pub(super) fn push(&mut self, ts: u64, item: T) {
        self.seq += 1;
        self.heap.push(Entry {
            ts,
            seq: self.seq,
            item,
        });
    }

    /// Timestamp of the oldest held item.
    pub(super) fn peek_ts(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.ts)
    }

    pub(super) fn pop(&mut self) -> Option<(u64, T)> {
        let e = self.heap.pop()?;
        // A burst (the initial scan, a storm of container starts) can leave
        // a large allocation behind; give it back once the burst is out.
        let cap = self.heap.capacity();
        if cap > 4096 && self.heap.len() < cap / 8 {
            self.heap.shrink_to(cap / 4);
        }
        Some((e.ts, e.item))
    }

    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_oldest_first_and_keeps_arrival_order_on_ties() {
        let mut r = Reorder::new();
        r.push(30, "c");
        r.push(10, "a1");
        r.push(20, "b");
        r.push(10, "a2");
        let order: Vec<_> = std::iter::from_fn(|| r.pop()).collect();
        assert_eq!(order, [(10, "a1"), (10, "a2"), (20, "b"), (30, "c")]);
    }
}
