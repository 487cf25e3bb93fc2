//! `void retire_userns_sysctls(struct user_namespace *ns)` (kernel/ucount.c,
//! v6.1 and v6.12): called once per user namespace by the `free_user_ns`
//! work, just before it releases that namespace's inode number, for the
//! first one and for every parent the same work frees in its loop (which
//! never pass `__put_user_ns`). Its only caller.
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

#[fentry(function = "retire_userns_sysctls")]
pub fn fentry_retire_userns_sysctls(ctx: FEntryContext) -> u32 {
    free(ctx.arg(0));
    0
}

#[kprobe]
pub fn kprobe_retire_userns_sysctls(ctx: ProbeContext) -> u32 {
    if let Some(ns) = ctx.arg::<u64>(0) {
        free(ns);
    }
    0
}

#[inline(always)]
fn free(ns: u64) {
    if kread::ready() {
        died(ns, NsType::User);
    }
}
