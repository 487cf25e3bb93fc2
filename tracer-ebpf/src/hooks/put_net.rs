//! `void __put_net(struct net *net)` (net/core/net_namespace.c, v6.1 to
//! v6.18): a net namespace's count reached zero; it is queued for the
//! deferred `cleanup_net` run, which frees it later.
//!
//! `static void netns_put(struct ns_common *ns)` (same file) is the nsfs
//! inode's put (nsfs_evict → ns->ops->put): there put_net, and with it
//! __put_net, is inlined, so only the count at entry can tell that this put
//! is the last. Read just before the decrement, it can race with another
//! holder's put; the cleanup run that follows shows which was right.
//!
//! Flavours: fentry, kprobe. No tracepoint exists.

use aya_ebpf::{
    macros::{fentry, kprobe},
    programs::{FEntryContext, ProbeContext},
};
use tracer_common::{EventKind, NsType, Via};

use super::report;
use crate::{
    kread::{self, off, read},
    nsread,
};

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

#[fentry(function = "netns_put")]
pub fn fentry_netns_put(ctx: FEntryContext) -> u32 {
    netns_put(ctx.arg(0));
    0
}

#[kprobe]
pub fn kprobe_netns_put(ctx: ProbeContext) -> u32 {
    if let Some(common) = ctx.arg::<u64>(0) {
        netns_put(common);
    }
    0
}

#[inline(always)]
fn netns_put(common: u64) {
    if kread::ready() && read::<u32>(common, off!(ns_common_count)) == 1 {
        put(nsread::ns_of_common(common, NsType::Net));
    }
}

#[inline(always)]
fn put(net: u64) {
    if kread::ready() {
        report(EventKind::Put, Via::None, 0, net, NsType::Net);
    }
}
