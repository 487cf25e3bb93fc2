//! `sched:sched_process_exec`: a task that made a time namespace with
//! unshare enters it at exec (`exec_task_namespaces` in begin_new_exec runs
//! before this tracepoint, fs/exec.c v6.1 to v6.18). A tracepoint on every
//! kernel, so it has no other flavour.
//!
//! Layout (6.1 to 6.18): `filename` __data_loc @8, `pid` @12, `old_pid` @16.
//! `old_pid` is the thread that called exec; `pid` differs when a non-leader
//! thread exec'd and took over the leader's id.

use aya_ebpf::{helpers::bpf_get_current_task, macros::tracepoint, programs::TracePointContext};
use tracer_common::{EventKind, NsType, Via};

use super::{report, TIME_PENDING};
use crate::nsread;

#[tracepoint(category = "sched", name = "sched_process_exec")]
pub fn sched_process_exec(ctx: TracePointContext) -> u32 {
    let Ok(old_pid) = (unsafe { ctx.read_at::<u32>(16) }) else {
        return 0;
    };
    let Some(&pending) = (unsafe { TIME_PENDING.get(old_pid) }) else {
        return 0;
    };
    let _ = TIME_PENDING.remove(old_pid);
    let nsproxy = nsread::task_nsproxy(unsafe { bpf_get_current_task() });
    if nsread::slot(nsproxy, NsType::Time) == pending {
        report(EventKind::Join, Via::Exec, 0, pending, NsType::Time);
    }
    0
}
