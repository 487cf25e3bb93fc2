//! `static struct mnt_namespace *alloc_mnt_ns(struct user_namespace
//! *user_ns, bool anon)` (fs/namespace.c, v6.1 to v6.18): with `anon`, a
//! mount namespace no task is in, made by open_tree(OPEN_TREE_CLONE),
//! fsmount or mount_subtree. Other mount namespaces are born through
//! clone/unshare and reported there.
//!
//! Flavours: fexit; kprobe + kretprobe. No tracepoint exists.

use aya_ebpf::{
    macros::{fexit, kprobe, kretprobe},
    programs::{FExitContext, ProbeContext, RetProbeContext},
};
use tracer_common::{EventKind, NsType, Via, DEATH_ANON_MNT};

use super::{is_err_or_null, remember, report, take};
use crate::kread;

#[fexit(function = "alloc_mnt_ns")]
pub fn fexit_alloc_mnt_ns(ctx: FExitContext) -> u32 {
    let anon: u64 = ctx.arg(1);
    let ns: u64 = ctx.arg(2);
    if anon & 0xff != 0 {
        born(ns);
    }
    0
}

#[kprobe]
pub fn kprobe_alloc_mnt_ns(ctx: ProbeContext) -> u32 {
    if ctx.arg::<u64>(1).is_some_and(|anon| anon & 0xff != 0) {
        remember(Via::Kernel, 0);
    }
    0
}

#[kretprobe]
pub fn kretprobe_alloc_mnt_ns(ctx: RetProbeContext) -> u32 {
    if take(Via::Kernel).is_some() {
        born(ctx.ret());
    }
    0
}

#[inline(always)]
fn born(ns: u64) {
    if !is_err_or_null(ns) && kread::ready() {
        // Marked like an anonymous mount namespace's death, so both ends of
        // its life say what it was.
        report(
            EventKind::Birth,
            Via::Kernel,
            DEATH_ANON_MNT,
            ns,
            NsType::Mnt,
        );
    }
}
