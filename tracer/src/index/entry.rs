//! What the index keeps per lifetime, small: one [`Live`] per live
//! namespace (32 bytes), a [`More`] only for namespaces that were joined,
//! put, evicted or cleaned up and a [`Linger`] for each that lingered (both
//! in tables of their own), one [`Closed`] per earlier lifetime kept.

/// How a lifetime became known. Values are stored as `u8`.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Its birth was recorded.
    Born = 0,
    /// Found alive by a start-up scan.
    Present = 1,
    /// First seen through a join, put, evict or death.
    Unseen = 2,
}

/// How a lifetime ended.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// A death record.
    Death = 0,
    /// A birth on the same number: its death was not seen.
    Reused = 1,
    /// Not alive when a later run of the tracer started: it ended while
    /// nothing was recording.
    Gap = 2,
}

/// Who made a namespace or entered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub mono_ns: u64,
    pub pid: u32,
    pub comm: u16,
    pub via: u8,
}

/// What most namespaces never have, kept apart from [`Live`]: a pointer to
/// it in every entry was 8 of its 40 bytes, 0.8 MB at 100,000 namespaces
/// that have none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct More {
    pub joins: u32,
    pub last_join: Option<Actor>,
    pub puts: u32,
    pub last_put_ns: Option<u64>,
    pub evicts: u32,
    pub last_evict_ns: Option<u64>,
    pub cleanup_batch: Option<u64>,
    pub cleanup_start_ns: Option<u64>,
    pub cleanup_end_ns: Option<u64>,
}

/// The `linger` record of a live namespace: when, how long after its last
/// task left, and how many holders the scan found. Kept apart from
/// [`More`] (five times its size): a host where thousands of namespaces
/// linger at once would otherwise box a `More` for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linger {
    pub at_ns: u64,
    pub since_last_task_ns: u64,
    pub holders: u32,
}

/// A live namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Live {
    /// Birth time, scan time (present) or first-seen time (unseen).
    pub opened_ns: u64,
    pub gen: u32,
    /// The creator's pid, for [`Origin::Born`].
    pub pid: u32,
    pub comm: u16,
    pub via: u8,
    pub origin: Origin,
    /// The run (header) that opened it.
    pub run: u16,
    /// Opened by an earlier run and found alive again by this one.
    pub carried: bool,
    /// The kernel's id for it (6.18+), 0 where unknown. Here rather than
    /// in [`More`]: on kernels that have it every namespace has one.
    pub ns_id: u64,
}

/// An earlier lifetime of a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    pub opened_ns: u64,
    pub ended_ns: u64,
    pub gen: u32,
    pub pid: u32,
    pub comm: u16,
    pub via: u8,
    pub origin: Origin,
    pub end: End,
    /// For [`End::Death`]: whether no record was lost while it lived.
    pub exact: Option<bool>,
    pub run: u16,
    pub puts: u16,
    pub evicts: u16,
    pub lingered: bool,
    /// Order of closing, for the global bound.
    pub seq: u64,
}

impl Live {
    /// The lifetime as an earlier one; `more`: what it had of that;
    /// `lingered`: whether a `linger` record came for it.
    pub fn close(
        self,
        more: Option<&More>,
        ended_ns: u64,
        end: End,
        exact: Option<bool>,
        lingered: bool,
        seq: u64,
    ) -> Closed {
        let m = more;
        Closed {
            opened_ns: self.opened_ns,
            ended_ns,
            gen: self.gen,
            pid: self.pid,
            comm: self.comm,
            via: self.via,
            origin: self.origin,
            end,
            exact,
            run: self.run,
            puts: m.map_or(0, |m| m.puts.min(u32::from(u16::MAX)) as u16),
            evicts: m.map_or(0, |m| m.evicts.min(u32::from(u16::MAX)) as u16),
            lingered,
            seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stay_small() {
        // 100,000 live namespaces must fit in a few MiB beside the engine.
        assert!(
            std::mem::size_of::<Live>() <= 32,
            "{}",
            std::mem::size_of::<Live>()
        );
        assert!(
            std::mem::size_of::<Linger>() <= 24,
            "{}",
            std::mem::size_of::<Linger>()
        );
        assert!(
            std::mem::size_of::<Closed>() <= 56,
            "{}",
            std::mem::size_of::<Closed>()
        );
    }
}
