//! `void nsfs_evict(struct inode *inode)` (fs/nsfs.c, v6.1 to v6.18): an
//! nsfs inode goes away, dropping the namespace reference it held; it may be
//! the last one. `i_ino` is the namespace's inode number and `i_private` its
//! `ns_common`. An nsfs inode exists only after an open or stat of
//! /proc/PID/ns/X, a setns by path, an NS_GET_* ioctl and the like, so a
//! namespace may be evicted never, or several times.
//!
//! Flavours: fentry, kprobe. No tracepoint exists.

use aya_ebpf::{
    macros::{fentry, kprobe},
    programs::{FEntryContext, ProbeContext},
};
use tracer_common::{EventKind, Via};

use crate::{
    emit::{self, set},
    kread::{self, off, read, read_ptr},
    nsread,
};

#[fentry(function = "nsfs_evict")]
pub fn fentry_nsfs_evict(ctx: FEntryContext) -> u32 {
    evict(ctx.arg(0));
    0
}

#[kprobe]
pub fn kprobe_nsfs_evict(ctx: ProbeContext) -> u32 {
    if let Some(inode) = ctx.arg::<u64>(0) {
        evict(inode);
    }
    0
}

#[inline(always)]
fn evict(inode: u64) {
    if !kread::ready() {
        return;
    }
    let common = read_ptr(inode, off!(inode_private));
    let Some(t) = nsread::common_type(common) else {
        return;
    };
    let Some(mut d) = emit::begin(EventKind::Evict, Via::None) else {
        return;
    };
    let ev = d.ev();
    nsread::fill_identity(ev, nsread::ns_of_common(common, t), t);
    // The inode's own number, in case the namespace's was already released.
    set!(ev, inum, read::<u64>(inode, off!(inode_ino)) as u32);
    d.send();
}
