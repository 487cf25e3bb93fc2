//! `static void cleanup_net(struct work_struct *work)`
//! (net/core/net_namespace.c, v6.1 to v6.18): one run takes every net put
//! so far (llist_del_all of cleanup_list) and tears them down. Its start
//! and end bracket the deaths of that batch; the daemon matches puts to
//! runs.
//!
//! Flavours: fentry + fexit, kprobe + kretprobe. (On tracepoint-only
//! kernels the workqueue tracepoints see the same run; see workqueue.rs.)

use aya_ebpf::{
    helpers::bpf_ktime_get_boot_ns,
    macros::{fentry, fexit, kprobe, kretprobe, map},
    maps::LruHashMap,
    programs::{FEntryContext, FExitContext, ProbeContext, RetProbeContext},
};
use tracer_common::{EventKind, NsType, Via};

use super::current_tid;
use crate::{
    emit::{self, set},
    kread,
};

/// The worker thread running a cleanup, and its run id (the boot-time ns
/// it started at).
#[map(name = "CLEANUP_RUN")]
pub static CLEANUP_RUN: LruHashMap<u32, u64> = LruHashMap::with_max_entries(64, 0);

#[fentry(function = "cleanup_net")]
pub fn fentry_cleanup_net(_ctx: FEntryContext) -> u32 {
    start(0);
    0
}

#[fexit(function = "cleanup_net")]
pub fn fexit_cleanup_net(_ctx: FExitContext) -> u32 {
    end(0);
    0
}

#[kprobe]
pub fn kprobe_cleanup_net(_ctx: ProbeContext) -> u32 {
    start(0);
    0
}

#[kretprobe]
pub fn kretprobe_cleanup_net(_ctx: RetProbeContext) -> u32 {
    end(0);
    0
}

/// A run starts on this thread; `flags` go on its record.
#[inline(always)]
pub(crate) fn start(flags: u64) {
    if !kread::ready() {
        return;
    }
    let run = unsafe { bpf_ktime_get_boot_ns() };
    let _ = CLEANUP_RUN.insert(current_tid(), run, 0);
    send(EventKind::CleanupStart, run, flags);
}

/// Whether this thread is in a run whose start was seen.
#[inline(always)]
pub(crate) fn running() -> bool {
    unsafe { CLEANUP_RUN.get(current_tid()) }.is_some()
}

/// The run on this thread ends; `flags` go on its record.
#[inline(always)]
pub(crate) fn end(flags: u64) {
    let tid = current_tid();
    let Some(&run) = (unsafe { CLEANUP_RUN.get(tid) }) else {
        return;
    };
    let _ = CLEANUP_RUN.remove(tid);
    send(EventKind::CleanupEnd, run, flags);
}

#[inline(always)]
fn send(kind: EventKind, run: u64, flags: u64) {
    if let Some(mut d) = emit::begin(kind, Via::None) {
        let ev = d.ev();
        set!(ev, ns_type, NsType::Net as u32);
        set!(ev, aux, run);
        set!(ev, flags, flags);
        d.send();
    }
}
