//! What the reader must not vouch for: the same record twice (two tracers
//! writing one file, a file given twice or copied) and time running
//! backwards (lines out of order, a log reversed or spliced).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use crate::schema::{Record, RecordKind};

/// Records remembered for the duplicate check. Two tracers on one file
/// interleave their batches a poll (100 ms) apart, far inside this.
const WINDOW: usize = 1 << 16;

/// Slack before "time runs backwards": a `lost` record is stamped when the
/// loss is noticed, ahead of the held-back records released with it, and
/// records that came later than the reorder window go out late.
pub const BACKWARDS_SLACK_NS: i64 = 1_000_000_000;

/// Where a record was: index of its file among the inputs, and its line.
pub type Place = (usize, u64);

#[derive(Default)]
pub struct Seen {
    /// Recent records by fingerprint (a 64-bit hash: a false match needs a
    /// collision among 65,536 records, about one in 10^14).
    records: HashMap<u64, Place>,
    order: VecDeque<u64>,
    /// Every header by its identity: a header seen twice is a file (or a
    /// part of one) given twice.
    headers: HashMap<u64, Place>,
}

impl Seen {
    /// Where the same record, or header, was seen before, if it was.
    pub fn repeat_of(&mut self, rec: &Record, here: Place) -> Option<Place> {
        let mut h = DefaultHasher::new();
        if rec.event == RecordKind::Header {
            (&rec.ts, rec.mono_ns, &rec.start, rec.boot_offset_ns).hash(&mut h);
            let key = h.finish();
            return match self.headers.insert(key, here) {
                Some(before) => {
                    self.headers.insert(key, before);
                    Some(before)
                }
                None => None,
            };
        }
        // What tells one event from another: the kernel's timestamp is the
        // same in the records of two tracers that saw the same event.
        (
            rec.event,
            rec.mono_ns,
            rec.ns_type,
            rec.inum,
            rec.gen,
            rec.pid,
            rec.tid,
            rec.child_pid,
            rec.batch,
            rec.count,
            rec.total,
        )
            .hash(&mut h);
        let key = h.finish();
        if let Some(&before) = self.records.get(&key) {
            return Some(before);
        }
        self.records.insert(key, here);
        self.order.push_back(key);
        if self.order.len() > WINDOW {
            if let Some(old) = self.order.pop_front() {
                self.records.remove(&old);
            }
        }
        None
    }
}
