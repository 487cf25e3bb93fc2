//! `task:task_newtask(task, clone_flags)`: fires in copy_process after
//! copy_namespaces and copy_creds (kernel/fork.c, v6.1 to v6.18), so the
//! child's nsproxy and cred are final. Comparing them with the parent's
//! (the current task) gives every namespace born by the clone, and a time
//! namespace the child entered at fork (`timens_on_fork`).
//!
//! A raw tracepoint, because only the raw form hands over the task pointer.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_get_current_task},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use tracer_common::{NsType, Via};

use super::{report_changes, PENDING};
use crate::{
    kread::{self, off, read},
    nsread,
};

#[raw_tracepoint(tracepoint = "task_newtask")]
pub fn task_newtask(ctx: RawTracePointContext) -> i32 {
    if !kread::ready() {
        return 0;
    }
    let child: u64 = ctx.arg(0);
    let clone_flags: u64 = ctx.arg(1);
    let parent = unsafe { bpf_get_current_task() };

    // Most forks share the parent's nsproxy and user namespace: two reads
    // each side and out.
    let child_nsproxy = nsread::task_nsproxy(child);
    let parent_nsproxy = nsread::task_nsproxy(parent);
    if child_nsproxy == parent_nsproxy
        && nsread::task_user_ns(child) == nsread::task_user_ns(parent)
    {
        return 0;
    }

    let tid = bpf_get_current_pid_tgid() as u32;
    let via = match unsafe { PENDING.get(&tid) } {
        Some(p) if p.via == Via::Clone as u32 || p.via == Via::Clone3 as u32 => {
            let via = p.via;
            let _ = PENDING.remove(&tid);
            if via == Via::Clone as u32 {
                Via::Clone
            } else {
                Via::Clone3
            }
        }
        _ => Via::Fork,
    };

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
    0
}
