//! Deferred frees seen through tracepoints, for kernels without kprobes or
//! fentry; the daemon attaches it only when cleanup_net cannot be hooked
//! (the kernel then has no kprobes or fentry for the death hooks either).
//!
//! `workqueue:workqueue_execute_start/end` (`work` @8, `function` @16,
//! include/trace/events/workqueue.h, v6.1 to v6.18), by `function`:
//! - cleanup_net brackets a net cleanup run; the nets it freed are found by
//!   comparing the kernel's list of nets at its start and end (netlist.rs):
//!   every net, born before tracing or after, identified by address, late
//!   by at most the run;
//! - free_user_ns frees the user namespace whose `work` member `work` is,
//!   and the parents it takes along (chain.rs);
//! - destroy_pid_namespace_work (6.18+) likewise for a pid namespace.
//!
//! Cost off the namespace path: an array lookup and up to three compares
//! per work item run.

use aya_ebpf::{
    macros::{map, tracepoint},
    maps::Array,
    programs::TracePointContext,
};
use tracer_common::{NsType, WorkFunctions, CLEANUP_WALK_PARTIAL};

use super::cleanup_net;
use crate::{
    chain,
    kread::{self, off},
    netlist,
};

/// Written by the daemon from /proc/kallsyms before it attaches these
/// programs; all zeros (matching no function) until then. An array lookup
/// is inlined by the verifier: a bounds check and an add.
#[map(name = "WORK_FUNCTIONS")]
static WORK_FUNCTIONS: Array<WorkFunctions> = Array::with_max_entries(1, 0);

#[inline(always)]
fn work_functions() -> Option<&'static WorkFunctions> {
    WORK_FUNCTIONS.get(0)
}

#[inline(always)]
fn partial(complete: bool) -> u64 {
    if complete {
        0
    } else {
        CLEANUP_WALK_PARTIAL
    }
}

#[tracepoint(category = "workqueue", name = "workqueue_execute_start")]
pub fn workqueue_execute_start(ctx: TracePointContext) -> u32 {
    let (Ok(work), Ok(function)) = (unsafe { ctx.read_at::<u64>(8) }, unsafe {
        ctx.read_at::<u64>(16)
    }) else {
        return 0;
    };
    if function == 0 || !kread::ready() {
        return 0;
    }
    let Some(w) = work_functions() else {
        return 0;
    };
    if function == w.cleanup_net {
        let complete = netlist::run_start();
        cleanup_net::start(partial(complete));
    } else if function == w.free_user_ns {
        chain::deaths(work.wrapping_sub(off!(user_ns_work) as u64), NsType::User);
    } else if function == w.destroy_pid_namespace_work
        && off!(pid_ns_work) != tracer_common::OFFSET_ABSENT
    {
        chain::deaths(work.wrapping_sub(off!(pid_ns_work) as u64), NsType::Pid);
    }
    0
}

#[tracepoint(category = "workqueue", name = "workqueue_execute_end")]
pub fn workqueue_execute_end(ctx: TracePointContext) -> u32 {
    if let Ok(function) = unsafe { ctx.read_at::<u64>(16) } {
        let cleanup_fn = work_functions().map_or(0, |w| w.cleanup_net);
        if function != 0 && function == cleanup_fn && cleanup_net::running() {
            let complete = netlist::run_end();
            cleanup_net::end(partial(complete));
        }
    }
    0
}
