//! The count of a user or ipc namespace reached zero; its free follows in a
//! work item (free_user_ns, free_ipc), so the put and the death are apart.
//!
//! - `void __put_user_ns(struct user_namespace *ns)` (kernel/user_namespace.c,
//!   v6.1 to v6.18): called by put_user_ns at zero. The parents that
//!   free_user_ns then drops in its loop never pass here.
//! - `void mq_clear_sbinfo(struct ipc_namespace *ns)` (ipc/mqueue.c, v6.1 to
//!   v6.18): called only from put_ipc_ns once the count is zero, before the
//!   namespace is queued for free_ipc.
//!
//! Flavours: fentry, kprobe. No tracepoint exists.

use aya_ebpf::{
    macros::{fentry, kprobe},
    programs::{FEntryContext, ProbeContext},
};
use tracer_common::{EventKind, NsType, Via};

use super::report;
use crate::kread;

#[fentry(function = "__put_user_ns")]
pub fn fentry_put_user_ns(ctx: FEntryContext) -> u32 {
    put(ctx.arg(0), NsType::User);
    0
}

#[kprobe]
pub fn kprobe_put_user_ns(ctx: ProbeContext) -> u32 {
    if let Some(ns) = ctx.arg::<u64>(0) {
        put(ns, NsType::User);
    }
    0
}

#[fentry(function = "mq_clear_sbinfo")]
pub fn fentry_mq_clear_sbinfo(ctx: FEntryContext) -> u32 {
    put(ctx.arg(0), NsType::Ipc);
    0
}

#[kprobe]
pub fn kprobe_mq_clear_sbinfo(ctx: ProbeContext) -> u32 {
    if let Some(ns) = ctx.arg::<u64>(0) {
        put(ns, NsType::Ipc);
    }
    0
}

#[inline(always)]
fn put(ns: u64, t: NsType) {
    if kread::ready() {
        report(EventKind::Put, Via::None, 0, ns, t);
    }
}
