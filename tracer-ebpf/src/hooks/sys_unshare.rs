//! `unshare(2)`: every `CLONE_NEW*` flag that succeeds makes a new namespace
//! of that type, so the flags at entry and the task's namespaces at exit say
//! everything (kernel/fork.c, ksys_unshare, v6.1 to v6.18).
//!
//! Tracepoint layouts (identical 6.1 to 6.18, include/trace/events/syscalls.h):
//! sys_enter_unshare `unshare_flags` @16; sys_exit_unshare `ret` @16.

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid, macros::tracepoint, programs::TracePointContext,
};
use tracer_common::{ns_type::CLONE_NEW_ANY, EventKind, NsType, Via, NS_TYPE_COUNT};

use super::{report, Pending, PENDING, TIME_PENDING};
use crate::{kread, nsread};

#[tracepoint(category = "syscalls", name = "sys_enter_unshare")]
pub fn sys_enter_unshare(ctx: TracePointContext) -> u32 {
    let Ok(flags) = (unsafe { ctx.read_at::<u64>(16) }) else {
        return 0;
    };
    // unshare(CLONE_FS) and friends make no namespace: no state, no cost.
    if flags & CLONE_NEW_ANY == 0 || !kread::ready() {
        return 0;
    }
    let tid = bpf_get_current_pid_tgid() as u32;
    let pending = Pending {
        via: Via::Unshare as u32,
        _pad: 0,
        flags,
    };
    let _ = PENDING.insert(&tid, &pending, 0);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_unshare")]
pub fn sys_exit_unshare(ctx: TracePointContext) -> u32 {
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(pending) = (unsafe { PENDING.get(&tid) }).copied() else {
        return 0;
    };
    let _ = PENDING.remove(&tid);
    if pending.via != Via::Unshare as u32 {
        return 0;
    }
    let ret = unsafe { ctx.read_at::<i64>(16) }.unwrap_or(-1);
    if ret != 0 {
        return 0;
    }
    let task = unsafe { aya_ebpf::helpers::bpf_get_current_task() };
    let now = nsread::task_ns_ptrs(task);
    let flags = pending.flags;
    // The loop counter indexes `now.ptr`, so the verifier can bound it.
    for i in 0..NS_TYPE_COUNT {
        let Some(t) = NsType::from_u32(i as u32) else {
            continue;
        };
        if flags & t.clone_flag() == 0 {
            continue;
        }
        // CLONE_NEWTIME makes the namespace for the task's children and for
        // its own next exec; it does not move the task now.
        let ns = if t == NsType::Time {
            now.time_for_children
        } else {
            now.ptr[i]
        };
        if ns == 0 {
            continue;
        }
        report(EventKind::Birth, Via::Unshare, flags, ns, t);
        if t == NsType::Time {
            let _ = TIME_PENDING.insert(&tid, &ns, 0);
        }
    }
    0
}
