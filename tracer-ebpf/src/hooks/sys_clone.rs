//! `clone(2)` and `clone3(2)` entries: only to tell `task_newtask` which
//! syscall made the child. Calls without a `CLONE_NEW*` flag (every thread
//! and plain fork) leave no state behind.
//!
//! Tracepoint layouts (6.1 to 6.18): sys_enter_clone `clone_flags` @16;
//! sys_enter_clone3 `uargs` @16 (user pointer to struct clone_args, whose
//! first member is `__aligned_u64 flags`, include/uapi/linux/sched.h).

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user},
    macros::tracepoint,
    programs::TracePointContext,
};
use tracer_common::{ns_type::CLONE_NEW_ANY, Via};

use super::{Pending, PENDING};

#[tracepoint(category = "syscalls", name = "sys_enter_clone")]
pub fn sys_enter_clone(ctx: TracePointContext) -> u32 {
    let flags = unsafe { ctx.read_at::<u64>(16) }.unwrap_or(0);
    remember(Via::Clone, flags);
    0
}

#[tracepoint(category = "syscalls", name = "sys_enter_clone3")]
pub fn sys_enter_clone3(ctx: TracePointContext) -> u32 {
    let Ok(uargs) = (unsafe { ctx.read_at::<u64>(16) }) else {
        return 0;
    };
    let flags = unsafe { bpf_probe_read_user(uargs as *const u64) }.unwrap_or(0);
    remember(Via::Clone3, flags);
    0
}

#[inline(always)]
fn remember(via: Via, flags: u64) {
    if flags & CLONE_NEW_ANY == 0 {
        return;
    }
    let tid = bpf_get_current_pid_tgid() as u32;
    let pending = Pending {
        via: via as u32,
        _pad: 0,
        flags,
    };
    let _ = PENDING.insert(&tid, &pending, 0);
}
