//! `static void net_ns_net_exit(struct net *net)` (net/core/net_namespace.c,
//! v6.1 and v6.12): the pernet exit of `net_ns_ops`, which releases a net's
//! inode number inside the `cleanup_net` run that tears it down (or when
//! `setup_net` fails). It is reached only through a function pointer
//! (`ops->exit`), so it is never inlined.
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

#[fentry(function = "net_ns_net_exit")]
pub fn fentry_net_ns_net_exit(ctx: FEntryContext) -> u32 {
    free(ctx.arg(0));
    0
}

#[kprobe]
pub fn kprobe_net_ns_net_exit(ctx: ProbeContext) -> u32 {
    if let Some(ns) = ctx.arg::<u64>(0) {
        free(ns);
    }
    0
}

#[inline(always)]
fn free(net: u64) {
    if kread::ready() {
        died(net, NsType::Net);
    }
}
