//! Deferred frees seen through tracepoints, for kernels without kprobes or
//! fentry. Everything here is seen late or only in part, and the records
//! say so (`DEATH_LATE`); the daemon attaches it only when the exact hooks
//! (cleanup_net, ns_free) are missing.
//!
//! - `workqueue:workqueue_execute_start/end` (`work` @8, `function` @16,
//!   include/trace/events/workqueue.h, v6.1 to v6.18): `function` ==
//!   cleanup_net brackets a net cleanup run; == free_user_ns names the user
//!   namespace about to be freed (`work` is its `work` member; the parents
//!   it may free in the same run are not visible); == (6.18+)
//!   destroy_pid_namespace_work likewise for a pid namespace.
//! - `kmem:kmem_cache_free` (`call_site` @8, `ptr` @16): the struct of a
//!   net namespace born while tracing is freed, a cleanup run or more after
//!   its inode number was released. Filtered by a map of those pointers.

use aya_ebpf::{
    macros::{map, tracepoint},
    maps::LruHashMap,
    programs::TracePointContext,
};
use tracer_common::{EventKind, NsType, Via, WorkFunctions, DEATH_LATE};

use super::cleanup_net;
use crate::{
    emit::{self, set},
    kread::{self, off},
    nsread,
};

/// Filled in by the daemon from /proc/kallsyms.
#[unsafe(no_mangle)]
static WORK_FUNCTIONS: WorkFunctions = WorkFunctions::unset();

/// Net namespaces born while tracing: struct address → inode number, so a
/// late kmem free can name the namespace whose number may be reused by then.
#[map(name = "NET_PTRS")]
pub static NET_PTRS: LruHashMap<u64, u32> = LruHashMap::with_max_entries(65536, 0);

#[inline(always)]
fn work_fn(f: fn(&WorkFunctions) -> &u64) -> u64 {
    unsafe { core::ptr::read_volatile(f(&WORK_FUNCTIONS)) }
}

#[tracepoint(category = "workqueue", name = "workqueue_execute_start")]
pub fn workqueue_execute_start(ctx: TracePointContext) -> u32 {
    let (Ok(work), Ok(function)) = (unsafe { ctx.read_at::<u64>(8) }, unsafe {
        ctx.read_at::<u64>(16)
    }) else {
        return 0;
    };
    if function == 0 || !kread::ready() {
        return 0;
    }
    if function == work_fn(|w| &w.cleanup_net) {
        cleanup_net::start();
    } else if function == work_fn(|w| &w.free_user_ns) {
        late_death(work.wrapping_sub(off!(user_ns_work) as u64), NsType::User);
    } else if function == work_fn(|w| &w.destroy_pid_namespace_work)
        && off!(pid_ns_work) != tracer_common::OFFSET_ABSENT
    {
        late_death(work.wrapping_sub(off!(pid_ns_work) as u64), NsType::Pid);
    }
    0
}

#[tracepoint(category = "workqueue", name = "workqueue_execute_end")]
pub fn workqueue_execute_end(ctx: TracePointContext) -> u32 {
    if let Ok(function) = unsafe { ctx.read_at::<u64>(16) } {
        if function != 0 && function == work_fn(|w| &w.cleanup_net) {
            cleanup_net::end();
        }
    }
    0
}

#[tracepoint(category = "kmem", name = "kmem_cache_free")]
pub fn kmem_cache_free(ctx: TracePointContext) -> u32 {
    let Ok(ptr) = (unsafe { ctx.read_at::<u64>(16) }) else {
        return 0;
    };
    // One hash lookup per slab free in the system: the price of seeing net
    // deaths without kprobes, paid only on such kernels.
    let Some(&inum) = (unsafe { NET_PTRS.get(ptr) }) else {
        return 0;
    };
    let _ = NET_PTRS.remove(ptr);
    if let Some(mut d) = emit::begin(EventKind::Death, Via::None) {
        let ev = d.ev();
        set!(ev, ns_type, NsType::Net as u32);
        set!(ev, inum, inum);
        set!(ev, ptr, ptr);
        set!(ev, flags, DEATH_LATE);
        d.send();
    }
    0
}

/// A namespace whose free has just begun: its identity is still readable.
#[inline(always)]
fn late_death(ns: u64, t: NsType) {
    if let Some(mut d) = emit::begin(EventKind::Death, Via::None) {
        let ev = d.ev();
        nsread::fill_identity(ev, ns, t);
        set!(ev, flags, DEATH_LATE);
        d.send();
    }
}

/// Remembers a net namespace born while tracing, for [`kmem_cache_free`].
#[inline(always)]
pub fn note_net_birth(ns: u64, inum: u32) {
    let _ = NET_PTRS.insert(ns, inum, 0);
}
