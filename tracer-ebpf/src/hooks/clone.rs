//! `clone(2)`/`clone3(2)`/fork: the child's namespaces against its parent's
//! (the current task), once the child is fully set up. That gives every
//! namespace born by the clone, and a time namespace the child entered at
//! fork (`timens_on_fork`).
//!
//! These hooks run for every fork on the machine, and almost every fork
//! shares its parent's nsproxy and user namespace: that case is decided
//! with two or three loads and no map, and only a fork that changed
//! something goes on to read and report.
//!
//! Which syscall made the child (clone or clone3, for `via`) is read from
//! the parent's saved user registers (`orig_ax`), so no program runs at the
//! syscall's entry.
//!
//! Flavours:
//! - fexit on `struct task_struct *copy_process(struct pid *pid, int trace,
//!   int node, struct kernel_clone_args *args)` (kernel/fork.c, same
//!   signature v6.1 to v6.18);
//! - kprobe + kretprobe on copy_process: the kprobe keeps the flags only
//!   for a fork that will change something (new namespaces asked for, or a
//!   parent whose `time_ns_for_children` is not its `time_ns`, see
//!   `copy_namespaces` in kernel/nsproxy.c, v6.1 to v6.18);
//! - tracepoints: the raw `task_newtask(task, clone_flags)` (after
//!   copy_namespaces and copy_creds).

use aya_ebpf::{
    macros::{fexit, kprobe, kretprobe, raw_tracepoint},
    programs::{FExitContext, ProbeContext, RawTracePointContext, RetProbeContext},
};
use tracer_common::{ns_type::CLONE_NEW_ANY, NsType, Via};

use super::{is_err_or_null, remember, report_changes, PENDING};
use crate::{
    kread::{self, off, Direct, Mem, Probe},
    nsread,
};

/// `__NR_clone3` on x86_64 (arch/x86/entry/syscalls/syscall_64.tbl).
const NR_CLONE3: u64 = 435;

#[raw_tracepoint(tracepoint = "task_newtask")]
pub fn task_newtask(ctx: RawTracePointContext) -> i32 {
    let child: u64 = ctx.arg(0);
    let flags: u64 = ctx.arg(1);
    if kread::ready() {
        // A raw tracepoint's task pointer is a plain number to the
        // verifier: the child is read with bpf_probe_read_kernel.
        new_task::<Probe>(child, flags);
    }
    0
}

#[fexit(function = "copy_process")]
pub fn fexit_copy_process(ctx: FExitContext) -> u32 {
    let args: u64 = ctx.arg(3);
    let child: u64 = ctx.arg(4);
    if is_err_or_null(child) || !kread::ready() {
        return 0;
    }
    new_task::<Direct>(child, Direct::read::<u64>(args, off!(clone_args_flags)));
    0
}

/// Keeps the flags, for the return, of a fork that will change something
/// (kretprobes see no arguments).
#[kprobe]
pub fn kprobe_copy_process(ctx: ProbeContext) -> u32 {
    let Some(args) = ctx.arg::<u64>(3) else {
        return 0;
    };
    if !kread::ready() {
        return 0;
    }
    let flags = Probe::read::<u64>(args, off!(clone_args_flags));
    let nsproxy = nsread::task_nsproxy::<Direct>(kread::current_task());
    let time_moves = Direct::read::<u64>(nsproxy, off!(nsproxy_time_for_children))
        != nsread::slot::<Direct>(nsproxy, NsType::Time);
    if flags & CLONE_NEW_ANY != 0 || time_moves {
        remember(Via::Fork, flags);
    }
    0
}

#[kretprobe]
pub fn kretprobe_copy_process(ctx: RetProbeContext) -> u32 {
    let tid = super::current_tid();
    // The common fork: nothing kept, one lookup.
    let Some(p) = (unsafe { PENDING.get(tid) }).copied() else {
        return 0;
    };
    let _ = PENDING.remove(tid);
    let child: u64 = ctx.ret();
    if p.via == Via::Fork as u32 && !is_err_or_null(child) {
        new_task::<Probe>(child, p.flags);
    }
    0
}

/// Reports what differs between the new task and its parent; `M` reads
/// the child (see [`crate::kread::Mem`]).
#[inline(always)]
fn new_task<M: Mem>(child: u64, flags: u64) {
    let parent = kread::current_task();
    // A fork shares its parent's nsproxy unless it made namespaces or
    // entered a time namespace, and its user namespace unless it asked for
    // CLONE_NEWUSER: one load on each side and out.
    if flags & NsType::User.clone_flag() == 0
        && nsread::task_nsproxy::<M>(child) == nsread::task_nsproxy::<Direct>(parent)
    {
        return;
    }
    let before = nsread::task_ns_ptrs::<Direct>(parent);
    let after = nsread::task_ns_ptrs::<M>(child);
    let child_pid = M::read::<u32>(child, off!(task_tgid));
    let child_tid = M::read::<u32>(child, off!(task_pid));
    report_changes(
        &before,
        &after,
        via_of(flags),
        flags,
        |t: NsType| flags & t.clone_flag() != 0,
        Some((child_pid, child_tid)),
    );
}

/// Which syscall made the child: clone3 by its number in the parent's
/// registers; any other clone with a CLONE_NEW* flag came through
/// clone(2); the rest are forks (fork, vfork, or clone without new
/// namespaces) and matter only for a time namespace entered at fork.
#[inline(always)]
fn via_of(flags: u64) -> Via {
    if flags & CLONE_NEW_ANY == 0 {
        Via::Fork
    } else if Direct::read::<u64>(kread::current_regs(), off!(pt_regs_orig_ax)) == NR_CLONE3 {
        Via::Clone3
    } else {
        Via::Clone
    }
}
