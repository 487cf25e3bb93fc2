//! `sched_process_exec`: a task that made a time namespace with unshare
//! enters it at exec (`exec_task_namespaces` in begin_new_exec runs before
//! this tracepoint, fs/exec.c v6.1 to v6.18). A tracepoint on every
//! kernel, so it has no other flavour.
//!
//! It fires for every exec on the machine, so it is taken raw: the
//! tracefs form would first build a perf record with the file name copied
//! in, for every exec, before the program could return. The raw arguments
//! are `(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`
//! (include/trace/events/sched.h, v6.1 to v6.18). `old_pid` is the thread
//! that called exec; the task's pid differs when a non-leader thread
//! exec'd and took over the leader's id. One map lookup and out, unless
//! that thread made a time namespace.

use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};
use tracer_common::{EventKind, NsType, Via};

use super::{report, TIME_PENDING};
use crate::{
    kread::{self, Direct},
    nsread,
};

#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn sched_process_exec(ctx: RawTracePointContext) -> i32 {
    let old_pid = ctx.arg::<u64>(1) as u32;
    let Some(&pending) = (unsafe { TIME_PENDING.get(old_pid) }) else {
        return 0;
    };
    let _ = TIME_PENDING.remove(old_pid);
    let nsproxy = nsread::task_nsproxy::<Direct>(kread::current_task());
    if nsread::slot::<Direct>(nsproxy, NsType::Time) == pending {
        // report reads through bpf_probe_read_kernel: after the comparison
        // the compiler may use either value, and the one from the map is a
        // plain number to the verifier, which a plain load cannot follow.
        report(EventKind::Join, Via::Exec, 0, pending, NsType::Time);
    }
    0
}
