//! `unshare(2)`: every `CLONE_NEW*` flag that succeeds makes a new namespace
//! of that type, so the flags and the task's namespaces at the return say
//! everything (kernel/fork.c, ksys_unshare, v6.1 to v6.18).
//!
//! One program per flavour, at the return: fexit on `int ksys_unshare(
//! unsigned long unshare_flags)` sees the flags as its argument; the
//! kretprobe on it and the `syscalls:sys_exit_unshare` tracepoint (`ret`
//! @16, include/trace/events/syscalls.h, unchanged 6.1 to 6.18) take them
//! from the task's saved user registers, where the syscall found them (`di`,
//! the first argument on x86_64). So no entry program and no map carry them
//! from entry to exit, and nothing at all runs for an unshare without a
//! CLONE_NEW* flag beyond a test of the flags.
//!
//! The namespaces are read with plain loads from the BTF-typed current task
//! (see kread.rs), one block per type so each pointer stays typed.

use aya_ebpf::{
    macros::{fexit, kretprobe, tracepoint},
    programs::{FExitContext, RetProbeContext, TracePointContext},
    EbpfContext,
};
use aya_log_ebpf::debug;
use tracer_common::{ns_type::CLONE_NEW_ANY, EventKind, NsType, Via};

use super::{current_tid, report_with, TIME_PENDING};
use crate::{
    kread::{self, off, Direct, Mem},
    nsread,
};

/// `__NR_unshare` on x86_64 (arch/x86/entry/syscalls/syscall_64.tbl).
const NR_UNSHARE: u64 = 272;

#[tracepoint(category = "syscalls", name = "sys_exit_unshare")]
pub fn sys_exit_unshare(ctx: TracePointContext) -> u32 {
    // A plain load from the record: bpf_probe_read is not needed for ctx.
    let ret = unsafe { (ctx.as_ptr() as *const u8).add(16).cast::<i64>().read() };
    if ret == 0 && kread::ready() {
        let task = kread::current_task();
        let flags = Direct::read::<u64>(kread::task_regs(task), off!(pt_regs_di));
        done(&ctx, task, flags);
    }
    0
}

#[fexit(function = "ksys_unshare")]
pub fn fexit_ksys_unshare(ctx: FExitContext) -> u32 {
    let flags: u64 = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    if ret == 0 && kread::ready() {
        done(&ctx, kread::current_task(), flags);
    }
    0
}

#[kretprobe]
pub fn kretprobe_ksys_unshare(ctx: RetProbeContext) -> u32 {
    if ctx.ret::<i64>() != 0 || !kread::ready() {
        return 0;
    }
    // ksys_unshare is also called by the kernel itself (devtmpfs at boot),
    // where the registers hold no unshare flags.
    let task = kread::current_task();
    let regs = kread::task_regs(task);
    if Direct::read::<u64>(regs, off!(pt_regs_orig_ax)) == NR_UNSHARE {
        done(&ctx, task, Direct::read::<u64>(regs, off!(pt_regs_di)));
    }
    0
}

/// After a successful unshare, each flag's namespace is the task's new
/// one; `task` is the current task's BTF-typed pointer.
#[inline(always)]
fn done<C: EbpfContext>(ctx: &C, task: u64, flags: u64) {
    // unshare(CLONE_FS) and friends make no namespace.
    if flags & CLONE_NEW_ANY == 0 {
        return;
    }
    let nsproxy = nsread::task_nsproxy::<Direct>(task);
    // One block per type with the type a constant: the loop a `for` over
    // the types would be keeps its pointers in a stack array indexed by a
    // variable, where the verifier no longer knows their BTF type.
    macro_rules! born {
        ($t:expr) => {{
            const T: NsType = $t;
            if flags & T.clone_flag() != 0 {
                // CLONE_NEWTIME makes the namespace for the task's children
                // and for its own next exec; it does not move the task now.
                let ns = match T {
                    NsType::User => nsread::task_user_ns::<Direct>(task),
                    NsType::Time => Direct::read::<u64>(nsproxy, off!(nsproxy_time_for_children)),
                    _ => nsread::slot::<Direct>(nsproxy, T),
                };
                if ns == 0 {
                    // A birth we cannot report: the task's nsproxy could not
                    // be read (wrong offsets, or a task on its way out).
                    // Logged with aya-log, which the loader switches off
                    // unless RUST_LOG asks for tracer_ebpf debug: the level
                    // is a read-only global, so the verifier then removes
                    // this branch and it costs nothing.
                    debug!(
                        ctx,
                        "unshare: no {} namespace pointer after a successful unshare (flags {:x})",
                        T as u32,
                        flags
                    );
                } else {
                    report_with::<Direct>(task, EventKind::Birth, Via::Unshare, flags, ns, T);
                    if T == NsType::Time {
                        let _ = TIME_PENDING.insert(current_tid(), ns, 0);
                    }
                }
            }
        }};
    }
    born!(NsType::Mnt);
    born!(NsType::Uts);
    born!(NsType::Ipc);
    born!(NsType::Pid);
    born!(NsType::Net);
    born!(NsType::User);
    born!(NsType::Cgroup);
    born!(NsType::Time);
}
