//! `setns(2)`: joins. With an nsfs fd and nstype 0, or a pidfd and several
//! flags, the syscall's arguments do not say which types change, so the
//! task's namespaces are compared before and after.
//!
//! Tracepoint layouts (6.1 to 6.18, include/trace/events/syscalls.h):
//! sys_enter_setns `fd` @16, `flags` (nstype) @24; sys_exit_setns `ret` @16.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_get_current_task},
    macros::tracepoint,
    programs::TracePointContext,
};
use tracer_common::{NsType, Via};

use super::{report_changes, Pending, PENDING, SETNS_BEFORE};
use crate::{kread, nsread};

#[tracepoint(category = "syscalls", name = "sys_enter_setns")]
pub fn sys_enter_setns(ctx: TracePointContext) -> u32 {
    if !kread::ready() {
        return 0;
    }
    let nstype = unsafe { ctx.read_at::<u64>(24) }.unwrap_or(0);
    let tid = bpf_get_current_pid_tgid() as u32;
    let task = unsafe { bpf_get_current_task() };
    let pending = Pending {
        via: Via::Setns as u32,
        _pad: 0,
        flags: nstype,
    };
    let _ = PENDING.insert(&tid, &pending, 0);
    let _ = SETNS_BEFORE.insert(&tid, &nsread::task_ns_ptrs(task), 0);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_setns")]
pub fn sys_exit_setns(ctx: TracePointContext) -> u32 {
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(pending) = (unsafe { PENDING.get(&tid) }).copied() else {
        return 0;
    };
    let _ = PENDING.remove(&tid);
    // Compared in place in the map: a copy on the stack would cost 80
    // bytes of the 512 the verifier allows.
    let Some(before) = (unsafe { SETNS_BEFORE.get(&tid) }) else {
        return 0;
    };
    if pending.via != Via::Setns as u32 {
        let _ = SETNS_BEFORE.remove(&tid);
        return 0;
    }
    if unsafe { ctx.read_at::<i64>(16) }.unwrap_or(-1) != 0 {
        return 0;
    }
    let task = unsafe { bpf_get_current_task() };
    let mut after = nsread::task_ns_ptrs(task);
    // Joining a pid namespace moves pid_ns_for_children; joining a time
    // namespace moves time_ns (and time_ns_for_children with it), which the
    // Time slot already compares.
    after.time_for_children = before.time_for_children;
    report_changes(
        before,
        &after,
        Via::Setns,
        pending.flags,
        |_: NsType| false,
        None,
    );
    let _ = SETNS_BEFORE.remove(&tid);
    0
}
