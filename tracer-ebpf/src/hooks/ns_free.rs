//! The death of a namespace: its inode number is released.
//!
//! - 6.18 and later: `void __ns_common_free(struct ns_common *ns)`
//!   (kernel/nscommon.c), the one place every type's inum goes back;
//!   `ns_common.ns_type` says the type. Read before the RCU-deferred free.
//! - 6.1 and 6.12: `void proc_free_inum(unsigned int inum)` (fs/proc/
//!   generic.c), reached only from namespace frees and creation failures
//!   (procfs entries free theirs inline). Only the number is known; the
//!   daemon knows which live namespace has it, since one IDA hands out the
//!   numbers of every type. Released inside a cleanup_net run, it is a net.
//!
//! Flavours: fentry, kprobe, on whichever of the two the kernel has.

use aya_ebpf::{
    macros::{fentry, kprobe},
    programs::{FEntryContext, ProbeContext},
};
use tracer_common::{EventKind, NsType, Via};

use super::{cleanup_net::CLEANUP_RUN, current_tid};
use crate::{
    emit::{self, set},
    kread, nsread,
};

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

#[fentry(function = "proc_free_inum")]
pub fn fentry_proc_free_inum(ctx: FEntryContext) -> u32 {
    free_inum(ctx.arg::<u64>(0) as u32);
    0
}

#[kprobe]
pub fn kprobe_proc_free_inum(ctx: ProbeContext) -> u32 {
    if let Some(inum) = ctx.arg::<u64>(0) {
        free_inum(inum as u32);
    }
    0
}

#[inline(always)]
fn common_free(common: u64) {
    if !kread::ready() {
        return;
    }
    let Some(t) = nsread::common_type(common) else {
        return;
    };
    if let Some(mut d) = emit::begin(EventKind::Death, Via::None) {
        let ev = d.ev();
        nsread::fill_identity(ev, nsread::ns_of_common(common, t), t);
        d.send();
    }
}

#[inline(always)]
fn free_inum(inum: u32) {
    if !kread::ready() {
        return;
    }
    let in_cleanup = unsafe { CLEANUP_RUN.get(current_tid()) }.is_some();
    if let Some(mut d) = emit::begin(EventKind::Death, Via::None) {
        let ev = d.ev();
        set!(ev, inum, inum);
        if in_cleanup {
            set!(ev, ns_type, NsType::Net as u32);
        }
        d.send();
    }
}
