//! One file per kernel hook, named after it, each holding every flavour of
//! program for that hook (tracepoint, fentry/fexit, kprobe/kretprobe) over
//! one shared body: the daemon attaches the best flavour this kernel offers.
//!
//! Births and joins are rebuilt by comparing a task's namespaces with what
//! they were before the syscall or fork; puts, evictions, cleanup runs and
//! deaths are read straight from the function that does them.

/// The fentry and kprobe programs of a hook whose function's first argument
/// is the struct of the namespace dying, of type `$t`: they report its death.
macro_rules! death_by_first_arg {
    ($fentry:ident, $kprobe:ident, $func:literal, $t:expr) => {
        #[aya_ebpf::macros::fentry(function = $func)]
        pub fn $fentry(ctx: aya_ebpf::programs::FEntryContext) -> u32 {
            if $crate::kread::ready() {
                // A BTF-typed argument: plain loads, no helper call per field.
                super::died_with::<$crate::kread::Direct>(ctx.arg(0), $t);
            }
            0
        }

        #[aya_ebpf::macros::kprobe]
        pub fn $kprobe(ctx: aya_ebpf::programs::ProbeContext) -> u32 {
            if let Some(ns) = ctx.arg::<u64>(0) {
                if $crate::kread::ready() {
                    super::died(ns, $t);
                }
            }
            0
        }
    };
}

pub mod alloc_mnt_ns;
pub mod cleanup_net;
pub mod clone;
pub mod exec;
pub mod free_cgroup_ns;
pub mod free_mnt_ns;
pub mod free_time_ns;
pub mod free_uts_ns;
pub mod net_ns_net_exit;
pub mod ns_common_free;
pub mod nsfs_evict;
pub mod put_net;
pub mod put_ns;
pub mod put_pid_ns;
pub mod retire_ipc_sysctls;
pub mod retire_userns_sysctls;
pub mod setns;
pub mod unshare;
pub mod workqueue;

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, macros::map, maps::LruHashMap};
use tracer_common::{EventKind, NsType, Via, NS_TYPE_COUNT};

use crate::{
    emit::{self, set},
    kread::{self, Mem, Probe},
    nsread,
};

/// Per-thread state carried from a function's entry to its return where
/// only a kprobe + kretprobe pair can see both (copy_process, alloc_mnt_ns).
/// LRU, so a thread that dies inside cannot leak an entry.
#[map(name = "PENDING")]
pub static PENDING: LruHashMap<u32, Pending> = LruHashMap::with_max_entries(16384, 0);

/// Threads that made a time namespace with `unshare(CLONE_NEWTIME)` and
/// enter it at their next exec: tid → `time_ns_for_children` pointer.
#[map(name = "TIME_PENDING")]
pub static TIME_PENDING: LruHashMap<u32, u64> = LruHashMap::with_max_entries(4096, 0);

#[derive(Clone, Copy)]
#[repr(C)]
pub struct Pending {
    /// [`Via`] of the syscall in flight.
    pub via: u32,
    pub _pad: u32,
    /// Its flags (clone/unshare flags, setns nstype).
    pub flags: u64,
}

/// The current thread id.
#[inline(always)]
pub fn current_tid() -> u32 {
    bpf_get_current_pid_tgid() as u32
}

/// Remembers `via` and `flags` for the current thread until its exit hook.
#[inline(always)]
pub fn remember(via: Via, flags: u64) {
    let pending = Pending {
        via: via as u32,
        _pad: 0,
        flags,
    };
    let _ = PENDING.insert(current_tid(), pending, 0);
}

/// Takes what [`remember`] stored for the current thread, if it was `via`.
/// Another syscall's state is left alone: an unshare(CLONE_NEWNS) passes
/// through alloc_mnt_ns, whose return hook must not eat the unshare's entry.
#[inline(always)]
pub fn take(via: Via) -> Option<Pending> {
    let tid = current_tid();
    let p = unsafe { PENDING.get(tid) }.copied()?;
    if p.via != via as u32 {
        return None;
    }
    let _ = PENDING.remove(tid);
    Some(p)
}

/// True for a kernel pointer return value that is an ERR_PTR or NULL.
#[inline(always)]
pub fn is_err_or_null(ptr: u64) -> bool {
    ptr == 0 || ptr >= (-4095i64) as u64
}

/// Reports namespace `ns` of type `t` for the current task, reading its
/// identity through bpf_probe_read_kernel.
#[inline(always)]
pub fn report(kind: EventKind, via: Via, flags: u64, ns: u64, t: NsType) {
    report_with::<Probe>(kread::current_task(), kind, via, flags, ns, t)
}

/// [`report`], reading the identity with `M` (see [`crate::kread::Mem`]);
/// `task` is the current task's BTF-typed pointer.
#[inline(always)]
pub fn report_with<M: Mem>(task: u64, kind: EventKind, via: Via, flags: u64, ns: u64, t: NsType) {
    if let Some(mut d) = emit::begin_task(task, kind, via) {
        let ev = d.ev();
        set!(ev, flags, flags);
        nsread::fill_identity_with::<M>(ev, ns, t);
        d.send();
    }
}

/// Reports the death of namespace `ns` of type `t`, now.
#[inline(always)]
pub fn died(ns: u64, t: NsType) {
    died_with::<Probe>(ns, t)
}

/// [`died`], reading the identity with `M` (see [`crate::kread::Mem`]).
#[inline(always)]
pub fn died_with<M: Mem>(ns: u64, t: NsType) {
    if let Some(mut d) = emit::begin(EventKind::Death, Via::None) {
        nsread::fill_identity_with::<M>(d.ev(), ns, t);
        d.send();
    }
}

/// Reports every type whose pointer differs between `before` and `after`, as
/// births when `born(t)` says so and joins otherwise. `child` names the task
/// that ended up in them when it is not the current one (a clone). Rare
/// (a clone or setns that changed something), so identities are read with
/// [`Probe`]: pointers taken from an array indexed by a loop counter are
/// plain numbers to the verifier.
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
        let kind = if born(t) {
            EventKind::Birth
        } else {
            EventKind::Join
        };
        let Some(mut d) = emit::begin(kind, via) else {
            continue;
        };
        let ev = d.ev();
        set!(ev, flags, flags);
        if let Some((pid, tid)) = child {
            set!(ev, target_pid, pid);
            set!(ev, target_tid, tid);
        }
        nsread::fill_identity_with::<Probe>(ev, new, t);
        d.send();
    }
}
