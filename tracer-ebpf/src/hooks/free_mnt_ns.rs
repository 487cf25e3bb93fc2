//! `static void free_mnt_ns(struct mnt_namespace *ns)` (fs/namespace.c, v6.1
//! and v6.12; inlined on 6.18, which has `__ns_common_free`): a mount
//! namespace's count reached zero (`put_mnt_ns`), or an anonymous one
//! (open_tree, fsmount) is dissolved; it releases the inode number, unless
//! anonymous (inum 0, which the daemon keys by address).
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

#[fentry(function = "free_mnt_ns")]
pub fn fentry_free_mnt_ns(ctx: FEntryContext) -> u32 {
    free(ctx.arg(0));
    0
}

#[kprobe]
pub fn kprobe_free_mnt_ns(ctx: ProbeContext) -> u32 {
    if let Some(ns) = ctx.arg::<u64>(0) {
        free(ns);
    }
    0
}

#[inline(always)]
fn free(ns: u64) {
    if kread::ready() {
        died(ns, NsType::Mnt);
    }
}
