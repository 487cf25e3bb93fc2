//! Holds items until every earlier one from another CPU has had time to
//! arrive, then hands them out in timestamp order.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// A min-heap on (timestamp, arrival order): items with equal timestamps
/// keep the order they arrived in, so one CPU's records never swap.
///
/// Most items arrive already in order (one CPU's records always do), and
/// those skip the heap: they queue in `ordered`, whose back is the latest
/// of them, and the heap takes only the ones that arrive behind it. The
/// oldest item is at the front of one or the other.
pub(super) struct Reorder<T> {
    ordered: VecDeque<Entry<T>>,
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
            ordered: VecDeque::new(),
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    pub(super) fn push(&mut self, ts: u64, item: T) {
        self.seq += 1;
        let e = Entry {
            ts,
            seq: self.seq,
            item,
        };
        if self.ordered.back().is_none_or(|last| last.ts <= ts) {
            self.ordered.push_back(e);
        } else {
            self.heap.push(e);
        }
    }

    /// Timestamp of the oldest held item.
    pub(super) fn peek_ts(&self) -> Option<u64> {
        match (self.ordered.front(), self.heap.peek()) {
            (Some(a), Some(b)) => Some(a.ts.min(b.ts)),
            (a, b) => a.or(b).map(|e| e.ts),
        }
    }

    pub(super) fn pop(&mut self) -> Option<(u64, T)> {
        // `Entry`'s order is reversed (see `Ord`): the greater is older.
        let from_heap = match (self.ordered.front(), self.heap.peek()) {
            (Some(a), Some(b)) => b > a,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let e = if from_heap {
            self.heap.pop()?
        } else {
            self.ordered.pop_front()?
        };
        // A burst (the initial scan, a storm of container starts) can leave
        // a large allocation behind; give it back once the burst is out.
        shrink_after_burst(self.heap.capacity(), self.heap.len(), |c| {
            self.heap.shrink_to(c)
        });
        shrink_after_burst(self.ordered.capacity(), self.ordered.len(), |c| {
            self.ordered.shrink_to(c)
        });
        Some((e.ts, e.item))
    }

    pub(super) fn len(&self) -> usize {
        self.ordered.len() + self.heap.len()
    }
}

/// Gives back most of a buffer a burst grew and left nearly empty: a
/// quarter of its capacity at a time, while under an eighth is used.
pub(super) fn shrink_after_burst(cap: usize, len: usize, shrink: impl FnOnce(usize)) {
    if cap > 4096 && len < cap / 8 {
        shrink(cap / 4);
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

    proptest::proptest! {
        /// Whatever the arrival order, items come out sorted by timestamp,
        /// ties in arrival order, with pushes and pops interleaved.
        #[test]
        fn any_arrival_order_comes_out_sorted(
            items in proptest::collection::vec((0u64..50, proptest::bool::ANY), 0..200)
        ) {
            let mut r = Reorder::new();
            let mut got = Vec::new();
            for (i, &(ts, pop)) in items.iter().enumerate() {
                r.push(ts, i);
                if pop {
                    got.push(r.pop().unwrap());
                }
            }
            got.extend(std::iter::from_fn(|| r.pop()));
            proptest::prop_assert_eq!(got.len(), items.len());
            proptest::prop_assert_eq!(r.len(), 0);
            // Each pop is the least (timestamp, arrival) of what was held.
            let mut model: Vec<(u64, usize)> = Vec::new();
            let mut expect = Vec::new();
            for (i, &(ts, pop)) in items.iter().enumerate() {
                model.push((ts, i));
                if pop {
                    model.sort();
                    expect.push(model.remove(0));
                }
            }
            model.sort();
            expect.extend(model);
            proptest::prop_assert_eq!(got, expect);
        }
    }
}
