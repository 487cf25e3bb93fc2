//! `void free_uts_ns(struct uts_namespace *ns)` (kernel/utsname.c, v6.1 and
//! v6.12): a uts namespace's count reached zero; it releases the inode
//! number (`ns_free_inum`) and frees the struct, synchronously.
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

#[fentry(function = "free_uts_ns")]
pub fn fentry_free_uts_ns(ctx: FEntryContext) -> u32 {
    free(ctx.arg(0));
    0
}

#[kprobe]
pub fn kprobe_free_uts_ns(ctx: ProbeContext) -> u32 {
    if let Some(ns) = ctx.arg::<u64>(0) {
        free(ns);
    }
    0
}

#[inline(always)]
fn free(ns: u64) {
    if kread::ready() {
        died(ns, NsType::Uts);
    }
}
