//! One file per kernel hook, named after it.
//!
//! Tracepoint hooks (every kernel, and the only kind on a kernel without
//! kprobes): births and joins are rebuilt by comparing a task's namespaces
//! with what they were before the syscall or fork.

pub mod sched_process_exec;
pub mod sys_clone;
pub mod sys_setns;
pub mod sys_unshare;
pub mod task_newtask;

use aya_ebpf::{macros::map, maps::LruHashMap};
use tracer_common::{EventKind, NsType, Via, NS_TYPE_COUNT};

use crate::{emit::{self, set}, nsread};

/// Per-thread state carried from a syscall's entry to its exit (or to the
/// `task_newtask` of the child it makes). LRU, so a thread that dies inside
/// a syscall cannot leak an entry.
#[map(name = "PENDING")]
pub static PENDING: LruHashMap<u32, Pending> = LruHashMap::with_max_entries(16384, 0);

/// Threads that made a time namespace with `unshare(CLONE_NEWTIME)` and
/// enter it at their next exec: tid → `time_ns_for_children` pointer.
#[map(name = "TIME_PENDING")]
pub static TIME_PENDING: LruHashMap<u32, u64> = LruHashMap::with_max_entries(4096, 0);

/// A setns in flight: the thread's namespaces at entry, to compare at exit.
#[map(name = "SETNS_BEFORE")]
pub static SETNS_BEFORE: LruHashMap<u32, nsread::NsPtrs> = LruHashMap::with_max_entries(4096, 0);

#[derive(Clone, Copy)]
#[repr(C)]
pub struct Pending {
    /// [`Via`] of the syscall in flight.
    pub via: u32,
    pub _pad: u32,
    /// Its flags (clone/unshare flags, setns nstype).
    pub flags: u64,
}

/// Reports namespace `ns` of type `t` for the current task.
#[inline(always)]
pub fn report(kind: EventKind, via: Via, flags: u64, ns: u64, t: NsType) {
    if let Some(mut d) = emit::begin(kind, via) {
        let ev = d.ev();
        set!(ev, flags, flags);
        nsread::fill_identity(ev, ns, t);
        d.send();
    }
}

/// Reports every type whose pointer differs between `before` and `after`, as
/// births when `born(t)` says so and joins otherwise. `child` names the task
/// that ended up in them when it is not the current one (a clone).
#[inline(always)]
pub fn report_changes(
    before: &nsread::NsPtrs,
    after: &nsread::NsPtrs,
    via: Via,
    flags: u64,
    born: impl Fn(NsType) -> bool,
    child: Option<(u32, u32)>,
) {
    // Indexing by the loop counter, not by a type loaded from a table, keeps
    // every array index a value the verifier can bound.
    for i in 0..NS_TYPE_COUNT {
        let Some(t) = NsType::from_u32(i as u32) else {
            continue;
        };
        let (old, new) = (before.ptr[i], after.ptr[i]);
        if new == 0 || old == new {
            continue;
        }
        let kind = if born(t) { EventKind::Birth } else { EventKind::Join };
        let Some(mut d) = emit::begin(kind, via) else {
            continue;
        };
        let ev = d.ev();
        set!(ev, flags, flags);
        if let Some((pid, tid)) = child {
            set!(ev, target_pid, pid);
            set!(ev, target_tid, tid);
        }
        nsread::fill_identity(ev, new, t);
        d.send();
    }
}
