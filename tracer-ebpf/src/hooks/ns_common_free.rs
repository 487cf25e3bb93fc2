//! `void __ns_common_free(struct ns_common *ns)` (kernel/nscommon.c, v6.18
//! and later): the one place every type's inode number goes back;
//! `ns_common.ns_type` says the type, and `ns_id` (never reused) is still
//! readable here, before the RCU-deferred free.
//!
//! On 6.1 and 6.12 there is no such function; each type has its own hook
//! (free_uts_ns.rs and its siblings), attached only when this one is
//! missing.
//!
//! Flavours: fentry, kprobe.

use aya_ebpf::{
    macros::{fentry, kprobe},
    programs::{FEntryContext, ProbeContext},
};

use super::died;
use crate::{kread, nsread};

#[fentry(function = "__ns_common_free")]
pub fn fentry_ns_common_free(ctx: FEntryContext) -> u32 {
    common_free(ctx.arg(0));
    0
}

#[kprobe]
pub fn kprobe_ns_common_free(ctx: ProbeContext) -> u32 {
    if let Some(common) = ctx.arg::<u64>(0) {
        common_free(common);
    }
    0
}

#[inline(always)]
fn common_free(common: u64) {
    if !kread::ready() {
        return;
    }
    if let Some(t) = nsread::common_type(common) {
        died(nsread::ns_of_common(common, t), t);
    }
}
