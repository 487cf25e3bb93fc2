//! `clone(2)`/`clone3(2)`/fork: the child's namespaces against its parent's
//! (the current task), once the child is fully set up. That gives every
//! namespace born by the clone, and a time namespace the child entered at
//! fork (`timens_on_fork`).
//!
//! Flavours:
//! - fexit on `struct task_struct *copy_process(struct pid *pid, int trace,
//!   int node, struct kernel_clone_args *args)` (kernel/fork.c, same
//!   signature v6.1 to v6.18), with fentry on `__x64_sys_clone3` to tell
//!   clone3 from clone;
//! - kprobe + kretprobe on copy_process, with kprobe on `__x64_sys_clone3`;
//! - tracepoints: the raw `task_newtask(task, clone_flags)` (after
//!   copy_namespaces and copy_creds), with syscalls:sys_enter_clone
//!   (`clone_flags` @16) and sys_enter_clone3 (`uargs` @16, a user pointer
//!   to struct clone_args whose first member is `__aligned_u64 flags`).

use aya_ebpf::{
    helpers::{bpf_get_current_task, bpf_probe_read_user},
    macros::{fentry, fexit, kprobe, kretprobe, raw_tracepoint, tracepoint},
    programs::{
        FEntryContext, FExitContext, ProbeContext, RawTracePointContext, RetProbeContext,
        TracePointContext,
    },
};
use tracer_common::{ns_type::CLONE_NEW_ANY, NsType, Via};

use super::{is_err_or_null, remember, report_changes, Pending, PENDING};
use crate::{
    kread::{self, off, read},
    nsread,
};

#[tracepoint(category = "syscalls", name = "sys_enter_clone")]
pub fn sys_enter_clone(ctx: TracePointContext) -> u32 {
    let flags = unsafe { ctx.read_at::<u64>(16) }.unwrap_or(0);
    if flags & CLONE_NEW_ANY != 0 {
        remember(Via::Clone, flags);
    }
    0
}

#[tracepoint(category = "syscalls", name = "sys_enter_clone3")]
pub fn sys_enter_clone3(ctx: TracePointContext) -> u32 {
    if let Ok(uargs) = unsafe { ctx.read_at::<u64>(16) } {
        clone3_entry(uargs);
    }
    0
}

#[fentry(function = "__x64_sys_clone3")]
pub fn fentry_sys_clone3(ctx: FEntryContext) -> u32 {
    let regs: u64 = ctx.arg(0);
    clone3_entry(read::<u64>(regs, off!(pt_regs_di)));
    0
}

#[kprobe]
pub fn kprobe_sys_clone3(ctx: ProbeContext) -> u32 {
    if let Some(regs) = ctx.arg::<u64>(0) {
        clone3_entry(read::<u64>(regs, off!(pt_regs_di)));
    }
    0
}

#[raw_tracepoint(tracepoint = "task_newtask")]
pub fn task_newtask(ctx: RawTracePointContext) -> i32 {
    let child: u64 = ctx.arg(0);
    let clone_flags: u64 = ctx.arg(1);
    new_task(child, clone_flags, || via_of(clone_flags));
    0
}

#[fexit(function = "copy_process")]
pub fn fexit_copy_process(ctx: FExitContext) -> u32 {
    let args: u64 = ctx.arg(3);
    let child: u64 = ctx.arg(4);
    if is_err_or_null(child) || !kread::ready() {
        return 0;
    }
    let flags = read::<u64>(args, off!(clone_args_flags));
    new_task(child, flags, || via_of(flags));
    0
}

/// Reads the flags at entry (kretprobes see no arguments) and keeps them,
/// with the syscall, for the return.
#[kprobe]
pub fn kprobe_copy_process(ctx: ProbeContext) -> u32 {
    let Some(args) = ctx.arg::<u64>(3) else {
        return 0;
    };
    let flags = read::<u64>(args, off!(clone_args_flags));
    remember(via_of(flags), flags);
    0
}

#[kretprobe]
pub fn kretprobe_copy_process(ctx: RetProbeContext) -> u32 {
    let child: u64 = ctx.ret();
    let tid = super::current_tid();
    let Some(p) = (unsafe { PENDING.get(tid) }).copied() else {
        return 0;
    };
    let _ = PENDING.remove(tid);
    if is_err_or_null(child) {
        return 0;
    }
    let via = match p.via {
        v if v == Via::Clone3 as u32 => Via::Clone3,
        v if v == Via::Clone as u32 => Via::Clone,
        _ => Via::Fork,
    };
    new_task(child, p.flags, || via);
    0
}

/// clone3 keeps its flags in user memory; only calls that make a namespace
/// leave state for the child's hook.
#[inline(always)]
fn clone3_entry(uargs: u64) {
    let flags = unsafe { bpf_probe_read_user(uargs as *const u64) }.unwrap_or(0);
    if flags & CLONE_NEW_ANY != 0 {
        remember(Via::Clone3, flags);
    }
}

/// Which syscall made the child: a clone3 left a mark at its entry; any
/// other clone with a CLONE_NEW* flag came through clone(2); the rest are
/// forks (fork, vfork, or clone without new namespaces) and matter only for
/// a time namespace entered at fork.
#[inline(always)]
fn via_of(flags: u64) -> Via {
    let tid = super::current_tid();
    if let Some(p) = unsafe { PENDING.get(tid) } {
        let p: Pending = *p;
        let _ = PENDING.remove(tid);
        if p.via == Via::Clone3 as u32 {
            return Via::Clone3;
        }
    }
    if flags & CLONE_NEW_ANY != 0 {
        Via::Clone
    } else {
        Via::Fork
    }
}

/// Reports what differs between the new task and its parent. `via` is only
/// asked when something differs: most forks never pay for its map lookup.
#[inline(always)]
fn new_task(child: u64, clone_flags: u64, via: impl FnOnce() -> Via) {
    if !kread::ready() {
        return;
    }
    let parent = unsafe { bpf_get_current_task() };
    // Most forks share the parent's nsproxy and user namespace: two reads
    // each side and out.
    if nsread::task_nsproxy(child) == nsread::task_nsproxy(parent)
        && nsread::task_user_ns(child) == nsread::task_user_ns(parent)
    {
        return;
    }
    let via = via();
    let before = nsread::task_ns_ptrs(parent);
    let after = nsread::task_ns_ptrs(child);
    let child_pid = read::<u32>(child, off!(task_tgid));
    let child_tid = read::<u32>(child, off!(task_pid));
    report_changes(
        &before,
        &after,
        via,
        clone_flags,
        |t: NsType| clone_flags & t.clone_flag() != 0,
        Some((child_pid, child_tid)),
    );
}
