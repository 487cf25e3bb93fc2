//! `setns(2)`: joins. With an nsfs fd and nstype 0, or a pidfd and several
//! flags, the arguments do not say which types change, so the task's
//! namespaces are compared before and after.
//!
//! Flavours: fentry + fexit on `long __x64_sys_setns(const struct pt_regs
//! *regs)` (fd in di, nstype in si; v6.1 to v6.18); kprobe + kretprobe on
//! it; the syscalls tracepoints (sys_enter_setns `fd` @16, `flags` @24;
//! sys_exit_setns `ret` @16). The entry keeps the thread's namespaces and
//! the nstype in one map entry; the exit compares and removes it.

use aya_ebpf::{
    macros::{fentry, fexit, kprobe, kretprobe, map, tracepoint},
    maps::LruHashMap,
    programs::{FEntryContext, FExitContext, ProbeContext, RetProbeContext, TracePointContext},
    EbpfContext,
};
use tracer_common::{NsType, Via};

use super::{current_tid, report_changes};
use crate::{
    kread::{self, off, Direct, Mem, Probe},
    nsread,
};

/// A setns in flight: the thread's namespaces at entry and its nstype.
/// LRU, so a thread that dies inside the syscall cannot leak an entry.
#[map(name = "SETNS_BEFORE")]
static SETNS_BEFORE: LruHashMap<u32, Before> = LruHashMap::with_max_entries(4096, 0);

#[derive(Clone, Copy)]
#[repr(C)]
struct Before {
    ns: nsread::NsPtrs,
    nstype: u64,
}

#[tracepoint(category = "syscalls", name = "sys_enter_setns")]
pub fn sys_enter_setns(ctx: TracePointContext) -> u32 {
    // A plain load from the record: bpf_probe_read is not needed for ctx.
    enter(unsafe { (ctx.as_ptr() as *const u8).add(24).cast::<u64>().read() });
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_setns")]
pub fn sys_exit_setns(ctx: TracePointContext) -> u32 {
    done(unsafe { (ctx.as_ptr() as *const u8).add(16).cast::<i64>().read() });
    0
}

#[fentry(function = "__x64_sys_setns")]
pub fn fentry_sys_setns(ctx: FEntryContext) -> u32 {
    let regs: u64 = ctx.arg(0);
    enter(Direct::read::<u64>(regs, off!(pt_regs_si)));
    0
}

#[fexit(function = "__x64_sys_setns")]
pub fn fexit_sys_setns(ctx: FExitContext) -> u32 {
    done(ctx.arg::<i64>(1));
    0
}

#[kprobe]
pub fn kprobe_sys_setns(ctx: ProbeContext) -> u32 {
    if let Some(regs) = ctx.arg::<u64>(0) {
        enter(Probe::read::<u64>(regs, off!(pt_regs_si)));
    }
    0
}

#[kretprobe]
pub fn kretprobe_sys_setns(ctx: RetProbeContext) -> u32 {
    done(ctx.ret::<i64>());
    0
}

#[inline(always)]
fn enter(nstype: u64) {
    if !kread::ready() {
        return;
    }
    let before = Before {
        ns: nsread::task_ns_ptrs::<Direct>(kread::current_task()),
        nstype,
    };
    let _ = SETNS_BEFORE.insert(current_tid(), before, 0);
}

#[inline(always)]
fn done(ret: i64) {
    let tid = current_tid();
    // Compared in place in the map: a copy on the stack would cost 88 of the
    // 512 bytes the verifier allows.
    let Some(before) = (unsafe { SETNS_BEFORE.get(tid) }) else {
        return;
    };
    if ret == 0 {
        let mut after = nsread::task_ns_ptrs::<Direct>(kread::current_task());
        // Joining a time namespace moves time_ns (and time_ns_for_children
        // with it), which the Time slot already compares.
        after.time_for_children = before.ns.time_for_children;
        report_changes(
            &before.ns,
            &after,
            Via::Setns,
            before.nstype,
            |_: NsType| false,
            None,
        );
    }
    let _ = SETNS_BEFORE.remove(tid);
}
