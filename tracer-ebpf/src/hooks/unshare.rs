//! `unshare(2)`: every `CLONE_NEW*` flag that succeeds makes a new namespace
//! of that type, so the flags at entry and the task's namespaces at exit say
//! everything (kernel/fork.c, ksys_unshare, v6.1 to v6.18).
//!
//! Flavours: fexit on `int ksys_unshare(unsigned long unshare_flags)`
//! (one program sees both); kprobe + kretprobe on it; the syscalls
//! tracepoints (sys_enter_unshare `unshare_flags` @16, sys_exit_unshare
//! `ret` @16, include/trace/events/syscalls.h, unchanged 6.1 to 6.18).

use aya_ebpf::{
    helpers::bpf_get_current_task,
    macros::{fexit, kprobe, kretprobe, tracepoint},
    programs::{FExitContext, ProbeContext, RetProbeContext, TracePointContext},
    EbpfContext,
};
use aya_log_ebpf::debug;
use tracer_common::{ns_type::CLONE_NEW_ANY, EventKind, NsType, Via, NS_TYPE_COUNT};

use super::{current_tid, remember, report, take, TIME_PENDING};
use crate::{kread, nsread};

#[tracepoint(category = "syscalls", name = "sys_enter_unshare")]
pub fn sys_enter_unshare(ctx: TracePointContext) -> u32 {
    if let Ok(flags) = unsafe { ctx.read_at::<u64>(16) } {
        enter(flags);
    }
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_unshare")]
pub fn sys_exit_unshare(ctx: TracePointContext) -> u32 {
    if let Some(p) = take(Via::Unshare) {
        done(
            &ctx,
            p.flags,
            unsafe { ctx.read_at::<i64>(16) }.unwrap_or(-1),
        );
    }
    0
}

#[fexit(function = "ksys_unshare")]
pub fn fexit_ksys_unshare(ctx: FExitContext) -> u32 {
    let flags: u64 = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    if flags & CLONE_NEW_ANY != 0 && kread::ready() {
        done(&ctx, flags, ret);
    }
    0
}

#[kprobe]
pub fn kprobe_ksys_unshare(ctx: ProbeContext) -> u32 {
    if let Some(flags) = ctx.arg::<u64>(0) {
        enter(flags);
    }
    0
}

#[kretprobe]
pub fn kretprobe_ksys_unshare(ctx: RetProbeContext) -> u32 {
    if let Some(p) = take(Via::Unshare) {
        done(&ctx, p.flags, ctx.ret::<i64>());
    }
    0
}

#[inline(always)]
fn enter(flags: u64) {
    // unshare(CLONE_FS) and friends make no namespace: no state, no cost.
    if flags & CLONE_NEW_ANY != 0 && kread::ready() {
        remember(Via::Unshare, flags);
    }
}

/// After a successful unshare, each flag's namespace is the task's new one.
#[inline(always)]
fn done<C: EbpfContext>(ctx: &C, flags: u64, ret: i64) {
    if ret != 0 {
        return;
    }
    let now = nsread::task_ns_ptrs(unsafe { bpf_get_current_task() });
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
            // A birth we cannot report: the task's nsproxy could not be
            // read (wrong offsets, or a task on its way out). Logged with
            // aya-log, which the loader switches off unless RUST_LOG asks
            // for tracer_ebpf debug: the level is a read-only global, so
            // the verifier then removes this branch and it costs nothing.
            debug!(
                ctx,
                "unshare: no {} namespace pointer after a successful unshare (flags {:x})",
                i as u32,
                flags
            );
            continue;
        }
        report(EventKind::Birth, Via::Unshare, flags, ns, t);
        if t == NsType::Time {
            let _ = TIME_PENDING.insert(current_tid(), ns, 0);
        }
    }
}
