//! When each linger check falls due, without an entry per namespace.
//!
//! A namespace's deadline is its last-task-left time plus the grace, both
//! already in its [`Lifetime`]. A heap of every deadline held 24 bytes per
//! namespace that had lost its tasks (2.4 MB at 100,000 live, each waiting
//! out a grace no burst reaches). Here only the deadlines within
//! [`LOOKAHEAD_NS`] of a poll are listed; the rest stay in the lifetimes,
//! and the earliest of them says when to look again. Looking is one walk
//! of the live lifetimes (about a millisecond at 100,000), made at most
//! once per lookahead while any deadline is pending.

use std::{cmp::Reverse, collections::BinaryHeap};

use tracer_common::NsType;

use super::lifetime::Lifetime;
use super::reorder::shrink_after_burst;

/// How far past a poll's horizon a walk lists deadlines: walks are this
/// far apart at least, and the list holds this long's worth of checks.
const LOOKAHEAD_NS: u64 = 10_000_000_000;

/// A deadline and whose it is: (deadline, type, inum, gen).
pub(super) type Due = (u64, NsType, u32, u32);

pub(super) struct LingerTimers {
    /// Every deadline at or before `listed_until`, the earliest first. A
    /// heap: a check set after a walk passed its deadline (a present
    /// released in the same poll, a short grace) joins it in log time. May
    /// hold stale checks (a task came back, the namespace died): the
    /// engine checks each against its lifetime when it fires.
    due: BinaryHeap<Reverse<Due>>,
    /// Every pending deadline at or before this is in `due`.
    listed_until: u64,
    /// The earliest pending deadline after `listed_until`, found only in
    /// the lifetimes (`u64::MAX`: none).
    next_unlisted: u64,
}

impl Default for LingerTimers {
    fn default() -> Self {
        LingerTimers {
            due: BinaryHeap::new(),
            listed_until: 0,
            next_unlisted: u64::MAX,
        }
    }
}

impl LingerTimers {
    /// A lifetime's deadline was set (its last task left). `deadline`
    /// must be what [`walk`](Self::walk) would compute from the lifetime.
    pub(super) fn set(&mut self, deadline: u64, ns_type: NsType, inum: u32, gen: u32) {
        if deadline <= self.listed_until {
            // A walk already passed it: list it here or never.
            self.due.push(Reverse((deadline, ns_type, inum, gen)));
        } else {
            self.next_unlisted = self.next_unlisted.min(deadline);
        }
    }

    /// The earliest pending deadline, with every one at or before
    /// `horizon` listed first (walking `lives`, which is lazy, if one may
    /// be among them).
    pub(super) fn next<'a>(
        &mut self,
        horizon: u64,
        lives: impl Iterator<Item = &'a Lifetime>,
        grace: u64,
    ) -> Option<u64> {
        if self.next_unlisted <= horizon {
            self.walk(horizon, lives, grace);
        }
        match self.due.peek() {
            Some(Reverse(d)) => Some(d.0),
            None => (self.next_unlisted != u64::MAX).then_some(self.next_unlisted),
        }
    }

    /// Takes the earliest listed check if it falls due at `deadline`, the
    /// time [`next`](Self::next) gave.
    pub(super) fn pop(&mut self, deadline: u64) -> Option<Due> {
        if self.due.peek()?.0 .0 != deadline {
            return None;
        }
        let d = self.due.pop().map(|Reverse(d)| d);
        shrink_after_burst(self.due.capacity(), self.due.len(), |c| {
            self.due.shrink_to(c)
        });
        d
    }

    /// Lists the pending deadlines up to `horizon` plus the lookahead that
    /// no walk listed yet, and notes the earliest after them.
    fn walk<'a>(&mut self, horizon: u64, lives: impl Iterator<Item = &'a Lifetime>, grace: u64) {
        let until = horizon.saturating_add(LOOKAHEAD_NS);
        let mut next = u64::MAX;
        for life in lives {
            if life.lingered() {
                continue;
            }
            let Some(left) = life.last_task_left_ns() else {
                continue;
            };
            let deadline = left.saturating_add(grace);
            if deadline <= self.listed_until {
                // Listed by an earlier walk or by `set`.
                continue;
            }
            if deadline <= until {
                let due = (deadline, life.ns_type(), life.inum(), life.gen());
                self.due.push(Reverse(due));
            } else {
                next = next.min(deadline);
            }
        }
        self.listed_until = until;
        self.next_unlisted = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: u64 = 5_000_000_000;

    /// A lifetime whose last task left at `left`.
    fn emptied(inum: u32, left: u64) -> Lifetime {
        let mut l = Lifetime::present(NsType::Uts, inum, 1, 0, left);
        assert_eq!(l.observe(0, left), Some(left));
        l
    }

    fn drain(t: &mut LingerTimers, horizon: u64, lives: &[Lifetime]) -> Vec<(u64, u32)> {
        let mut fired = Vec::new();
        while let Some(d) = t.next(horizon, lives.iter(), GRACE) {
            if d > horizon {
                break;
            }
            let (d, _, inum, _) = t.pop(d).expect("next said one is due");
            fired.push((d, inum));
        }
        fired
    }

    #[test]
    fn a_far_deadline_is_not_listed_until_a_poll_nears_it() {
        let far = 3_600_000_000_000;
        let lives = [emptied(1, far), emptied(2, 1_000)];
        let mut t = LingerTimers::default();
        t.set(far + GRACE, NsType::Uts, 1, 1);
        t.set(1_000 + GRACE, NsType::Uts, 2, 1);
        assert_eq!(drain(&mut t, 2 * GRACE, &lives), [(1_000 + GRACE, 2)]);
        assert!(t.due.is_empty(), "the hour-away check takes no place");
        assert_eq!(t.next(2 * GRACE, lives.iter(), GRACE), Some(far + GRACE));
        assert_eq!(drain(&mut t, far + GRACE, &lives), [(far + GRACE, 1)]);
        assert_eq!(drain(&mut t, u64::MAX - 1, &lives), [], "each fires once");
    }

    #[test]
    fn deadlines_set_after_a_walk_passed_them_fire_once_in_order() {
        let mut lives = vec![emptied(1, 3_000), emptied(3, 500)];
        let mut t = LingerTimers::default();
        t.set(3_000 + GRACE, NsType::Uts, 1, 1);
        t.set(500 + GRACE, NsType::Uts, 3, 1);
        // inum 3 is due: the walk lists it, and inum 1, which falls within
        // LOOKAHEAD_NS of the horizon.
        assert_eq!(drain(&mut t, 500 + GRACE, &lives), [(500 + GRACE, 3)]);
        assert_eq!(t.listed_until, 500 + GRACE + LOOKAHEAD_NS);
        assert_eq!(t.due.len(), 1, "inum 1 is listed, not yet due");
        // Emptied later but due earlier than inum 1 (never seen with a
        // task: it counts from its opening), and within what the walk
        // already covered: only `set` can list it.
        lives.push(emptied(2, 1_000));
        t.set(1_000 + GRACE, NsType::Uts, 2, 1);
        assert_eq!(
            drain(&mut t, 10 * GRACE, &lives),
            [(1_000 + GRACE, 2), (3_000 + GRACE, 1)]
        );
    }

    #[test]
    fn a_lingered_or_refilled_namespace_is_not_listed() {
        let mut lingered = emptied(1, 1_000);
        lingered.set_lingered();
        let mut refilled = emptied(2, 1_000);
        refilled.observe(3, 2_000);
        let lives = [lingered, refilled];
        let mut t = LingerTimers::default();
        t.set(1_000 + GRACE, NsType::Uts, 1, 1);
        assert_eq!(drain(&mut t, 10 * GRACE, &lives), []);
    }
}
