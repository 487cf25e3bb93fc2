//! `void retire_ipc_sysctls(struct ipc_namespace *ns)` (ipc/ipc_sysctl.c,
//! v6.1 and v6.12): called once per ipc namespace by `free_ipc_ns`
//! (inlined into the `free_ipc` work, which frees a whole batch), shortly
//! before it releases that namespace's inode number; also by
//! `copy_ipcs` when creating one fails.
//!
//! Flavours: fentry, kprobe; attached only where `__ns_common_free`
//! (ns_common_free.rs) is missing, so no death is reported twice.

use aya_ebpf::{
    macros::{fentry, kprobe},
    programs::{FEntryContext, ProbeContext},
};
use tracer_common::NsType;

use super::died;
use crate::kread;

#[fentry(function = "retire_ipc_sysctls")]
pub fn fentry_retire_ipc_sysctls(ctx: FEntryContext) -> u32 {
    free(ctx.arg(0));
    0
}

#[kprobe]
pub fn kprobe_retire_ipc_sysctls(ctx: ProbeContext) -> u32 {
    if let Some(ns) = ctx.arg::<u64>(0) {
        free(ns);
    }
    0
}

#[inline(always)]
fn free(ns: u64) {
    if kread::ready() {
        died(ns, NsType::Ipc);
    }
}
