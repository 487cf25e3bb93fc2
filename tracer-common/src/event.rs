//! The one record type that crosses the ring buffer.
//!
//! A single fixed-size record for every kind keeps the kernel side to one
//! `reserve`/`submit` and the reader to one decode; the fields a kind does not
//! use are zero. 104 bytes per record (plus the ring's 8-byte header): a 1 MiB ring holds about 9,300.

/// Length of `task_struct.comm` (TASK_COMM_LEN, include/linux/sched.h).
pub const COMM_LEN: usize = 16;

/// What happened. Wire values: numbered once, never renumbered or reused.
/// Kinds that only the daemon makes (`linger`, `lost`) are not here.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A namespace was created.
    Birth = 1,
    /// A task entered an existing namespace (setns, or a time namespace
    /// entered at fork or exec).
    Join = 2,
    /// An nsfs inode was evicted (`nsfs_evict`), dropping the reference the
    /// inode held.
    Evict = 3,
    /// The last reference was dropped (`__put_net` and kin); the free may be
    /// deferred.
    Put = 4,
    /// A deferred cleanup run (`cleanup_net`) started.
    CleanupStart = 5,
    /// A deferred cleanup run ended.
    CleanupEnd = 6,
    /// The namespace is gone: its inode number was released.
    Death = 7,
}

impl EventKind {
    pub const fn from_u32(v: u32) -> Option<EventKind> {
        match v {
            1 => Some(EventKind::Birth),
            2 => Some(EventKind::Join),
            3 => Some(EventKind::Evict),
            4 => Some(EventKind::Put),
            5 => Some(EventKind::CleanupStart),
            6 => Some(EventKind::CleanupEnd),
            7 => Some(EventKind::Death),
            _ => None,
        }
    }

    /// The `event` value in nstrace's JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::Birth => "birth",
            EventKind::Join => "join",
            EventKind::Evict => "evict",
            EventKind::Put => "put",
            EventKind::CleanupStart => "cleanup_start",
            EventKind::CleanupEnd => "cleanup_end",
            EventKind::Death => "death",
        }
    }
}

/// `Event::flags` bit on a `Death`: seen after the fact rather than at the
/// free itself: a net missing from `net_namespace_list` at the end of the
/// `cleanup_net` run that freed it (tracepoint kernels). The run's start
/// bounds when it died.
pub const DEATH_LATE: u64 = 1;
/// `Event::flags` bit on a `Death`: the namespace was an anonymous mount
/// namespace (open_tree, fsmount), which no task was ever in.
pub const DEATH_ANON_MNT: u64 = 2;
/// `Event::flags` bit on a `CleanupStart`/`CleanupEnd` seen through the
/// workqueue tracepoints: the walk of `net_namespace_list` stopped short
/// (more nets than it may visit, or more dying ones than it can hold), so
/// some deaths of this run may not be reported.
pub const CLEANUP_WALK_PARTIAL: u64 = 1;

/// How a birth or join came about. Wire values: never renumbered or reused.
/// In JSON it is its [`Via::name`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "user",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Via {
    /// Not tied to a syscall (deaths, puts, cleanup).
    None = 0,
    Clone = 1,
    Clone3 = 2,
    Unshare = 3,
    Setns = 4,
    /// A time namespace entered at exec (`exec_task_namespaces`).
    Exec = 5,
    /// Created by the kernel outside the four syscalls: an anonymous mount
    /// namespace from `open_tree`/`fsmount`, for example.
    Kernel = 6,
    /// A clone whose syscall could not be told (fork, vfork, or a kernel
    /// thread); the flags still come from `task_newtask`.
    Fork = 7,
}

impl Via {
    pub const fn from_u32(v: u32) -> Option<Via> {
        match v {
            0 => Some(Via::None),
            1 => Some(Via::Clone),
            2 => Some(Via::Clone3),
            3 => Some(Via::Unshare),
            4 => Some(Via::Setns),
            5 => Some(Via::Exec),
            6 => Some(Via::Kernel),
            7 => Some(Via::Fork),
            _ => None,
        }
    }

    /// The `via` value in nstrace's JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            Via::None => "none",
            Via::Clone => "clone",
            Via::Clone3 => "clone3",
            Via::Unshare => "unshare",
            Via::Setns => "setns",
            Via::Exec => "exec",
            Via::Kernel => "kernel",
            Via::Fork => "fork",
        }
    }
}

impl core::fmt::Display for Via {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// One ring-buffer record.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// [`EventKind`] as `u32`.
    pub kind: u32,
    /// [`crate::NsType`] as `u32`, or `u32::MAX` for records about no single
    /// namespace (a cleanup run).
    pub ns_type: u32,
    /// `bpf_ktime_get_boot_ns()`: CLOCK_BOOTTIME, so suspend does not skew
    /// lifetimes.
    pub ts_ns: u64,
    /// Process id (tgid) of the task that made the event happen.
    pub pid: u32,
    /// Thread id of that task.
    pub tid: u32,
    /// That task's comm; NUL-padded, not always NUL-terminated.
    pub comm: [u8; COMM_LEN],
    /// The namespace's inode number (`ns_common.inum`).
    pub inum: u32,
    /// Inode number of the owning user namespace (for a user namespace, its
    /// parent); 0 if unknown.
    pub owner_inum: u32,
    /// Inode number of the parent pid or user namespace; 0 for other types.
    pub parent_inum: u32,
    /// [`Via`] as `u32`.
    pub via: u32,
    /// The syscall's flags: clone flags, unshare flags, or setns' nstype.
    pub flags: u64,
    /// `ns_common.ns_id` on 6.18+, a 64-bit id never reused; 0 before.
    pub ns_id: u64,
    /// For a clone, the new task's tgid (it is the one inside the new
    /// namespace); otherwise equal to `pid`.
    pub target_pid: u32,
    /// For a clone, the new task's tid; otherwise equal to `tid`.
    pub target_tid: u32,
    /// Kind-specific: `net.net_cookie` for net records, the cleanup run id for
    /// cleanup records.
    pub aux: u64,
    /// Kernel address of the namespace struct: ties a put to its deferred free
    /// after the inode number may already belong to someone else. Never shown
    /// to users.
    pub ptr: u64,
    /// CPU the record was made on; records from different CPUs can reach the
    /// reader out of order.
    pub cpu: u32,
    /// Explicit padding to a multiple of 8; always zero.
    pub _pad: u32,
}

impl Event {
    pub const fn zeroed() -> Self {
        Event {
            kind: 0,
            ns_type: u32::MAX,
            ts_ns: 0,
            pid: 0,
            tid: 0,
            comm: [0; COMM_LEN],
            inum: 0,
            owner_inum: 0,
            parent_inum: 0,
            via: 0,
            flags: 0,
            ns_id: 0,
            target_pid: 0,
            target_tid: 0,
            aux: 0,
            ptr: 0,
            cpu: 0,
            _pad: 0,
        }
    }

    /// Decodes a record from ring-buffer bytes; `None` if it is too short.
    pub fn from_bytes(bytes: &[u8]) -> Option<Event> {
        if bytes.len() < core::mem::size_of::<Event>() {
            return None;
        }
        // SAFETY: the length is checked above, Event is repr(C) plain old
        // data with no invalid bit patterns, and read_unaligned makes no
        // alignment assumption about the ring buffer's bytes.
        Some(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<Event>()) })
    }

    /// The record's bytes, as the kernel side writes them.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: Event has no padding bytes (every gap is a named field), so
        // all size_of::<Event>() bytes are initialised.
        unsafe {
            core::slice::from_raw_parts(
                (self as *const Event).cast::<u8>(),
                core::mem::size_of::<Event>(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use core::mem::{align_of, offset_of, size_of};

    use super::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(size_of::<Event>(), 104);
        assert_eq!(align_of::<Event>(), 8);
        assert_eq!(offset_of!(Event, ts_ns), 8);
        assert_eq!(offset_of!(Event, pid), 16);
        assert_eq!(offset_of!(Event, comm), 24);
        assert_eq!(offset_of!(Event, inum), 40);
        assert_eq!(offset_of!(Event, flags), 56);
        assert_eq!(offset_of!(Event, ns_id), 64);
        assert_eq!(offset_of!(Event, target_pid), 72);
        assert_eq!(offset_of!(Event, aux), 80);
        assert_eq!(offset_of!(Event, ptr), 88);
        assert_eq!(offset_of!(Event, cpu), 96);
        assert_eq!(offset_of!(Event, _pad), 100);
    }

    #[test]
    fn decodes_what_it_encodes() {
        let mut ev = Event::zeroed();
        ev.kind = EventKind::Birth as u32;
        ev.ns_type = crate::NsType::Net as u32;
        ev.inum = 4026532115;
        ev.comm[..4].copy_from_slice(b"ip\x1b[");
        ev.flags = 0x4000_0000;
        ev.ptr = 0xffff_8880_0000_1000;
        assert_eq!(Event::from_bytes(ev.as_bytes()), Some(ev));
        assert_eq!(Event::from_bytes(&ev.as_bytes()[..103]), None);
    }

    #[test]
    fn kind_and_via_numbers_are_stable() {
        for (n, k) in [
            (1, EventKind::Birth),
            (2, EventKind::Join),
            (3, EventKind::Evict),
            (4, EventKind::Put),
            (5, EventKind::CleanupStart),
            (6, EventKind::CleanupEnd),
            (7, EventKind::Death),
        ] {
            assert_eq!(k as u32, n);
            assert_eq!(EventKind::from_u32(n), Some(k));
        }
        assert_eq!(EventKind::from_u32(0), None);
        assert_eq!(EventKind::from_u32(8), None);
        for n in 0..8 {
            assert_eq!(Via::from_u32(n).map(|v| v as u32), Some(n));
        }
        assert_eq!(Via::from_u32(8), None);
    }
}
