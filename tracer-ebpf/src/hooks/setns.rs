//! `setns(2)`: joins. With an nsfs fd and nstype 0, or a pidfd and several
//! flags, the arguments do not say which types change, so the task's
//! namespaces are compared before and after.
//!
//! Flavours: fentry + fexit on `long __x64_sys_setns(const struct pt_regs
//! *regs)` (fd in di, nstype in si; v6.1 to v6.18); kprobe + kretprobe on
//! it; the syscalls tracepoints (sys_enter_setns `fd` @16, `flags` @24;
//! sys_exit_setns `ret` @16).

use aya_ebpf::{
    helpers::bpf_get_current_task,
    macros::{fentry, fexit, kprobe, kretprobe, tracepoint},
    programs::{FEntryContext, FExitContext, ProbeContext, RetProbeContext, TracePointContext},
};
use tracer_common::{NsType, Via};

use super::{current_tid, remember, report_changes, take, SETNS_BEFORE};
use crate::{
    kread::{self, off, read},
    nsread,
};

#[tracepoint(category = "syscalls", name = "sys_enter_setns")]
pub fn sys_enter_setns(ctx: TracePointContext) -> u32 {
    enter(unsafe { ctx.read_at::<u64>(24) }.unwrap_or(0));
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_setns")]
pub fn sys_exit_setns(ctx: TracePointContext) -> u32 {
    done(unsafe { ctx.read_at::<i64>(16) }.unwrap_or(-1));
    0
}

#[fentry(function = "__x64_sys_setns")]
pub fn fentry_sys_setns(ctx: FEntryContext) -> u32 {
    let regs: u64 = ctx.arg(0);
    enter(read::<u64>(regs, off!(pt_regs_si)));
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
        enter(read::<u64>(regs, off!(pt_regs_si)));
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
    remember(Via::Setns, nstype);
    let task = unsafe { bpf_get_current_task() };
    let _ = SETNS_BEFORE.insert(current_tid(), nsread::task_ns_ptrs(task), 0);
}

#[inline(always)]
fn done(ret: i64) {
    let tid = current_tid();
    let Some(pending) = take(Via::Setns) else {
        return;
    };
    // Compared in place in the map: a copy on the stack would cost 80 of the
    // 512 bytes the verifier allows.
    let Some(before) = (unsafe { SETNS_BEFORE.get(tid) }) else {
        return;
    };
    if ret == 0 {
        let mut after = nsread::task_ns_ptrs(unsafe { bpf_get_current_task() });
        // Joining a time namespace moves time_ns (and time_ns_for_children
        // with it), which the Time slot already compares.
        after.time_for_children = before.time_for_children;
        report_changes(
            before,
            &after,
            Via::Setns,
            pending.flags,
            |_: NsType| false,
            None,
        );
    }
    let _ = SETNS_BEFORE.remove(tid);
}
