//! `void __put_net(struct net *net)` (net/core/net_namespace.c, v6.1 to
//! v6.18): a net namespace's count reached zero; it is queued for the
//! deferred `cleanup_net` run, which frees it later.
//!
//! Flavours: fentry, kprobe. No tracepoint exists.

use aya_ebpf::{
    macros::{fentry, kprobe},
    programs::{FEntryContext, ProbeContext},
};
use tracer_common::{EventKind, NsType, Via};

use super::report;
use crate::kread;

#[fentry(function = "__put_net")]
pub fn fentry_put_net(ctx: FEntryContext) -> u32 {
    put(ctx.arg(0));
    0
}

#[kprobe]
pub fn kprobe_put_net(ctx: ProbeContext) -> u32 {
    if let Some(net) = ctx.arg::<u64>(0) {
        put(net);
    }
    0
}

#[inline(always)]
fn put(net: u64) {
    if kread::ready() {
        report(EventKind::Put, Via::None, 0, net, NsType::Net);
    }
}
