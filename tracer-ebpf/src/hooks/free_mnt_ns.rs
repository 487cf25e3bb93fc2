//! `static void free_mnt_ns(struct mnt_namespace *ns)` (fs/namespace.c, v6.1
//! and v6.12; inlined on 6.18, which has `__ns_common_free`): a mount
//! namespace's count reached zero (`put_mnt_ns`), or an anonymous one
//! (open_tree, fsmount) is dissolved; it releases the inode number, unless
//! anonymous (inum 0, which the daemon keys by address).
//!
//! Flavours: fentry, kprobe; attached only where `__ns_common_free`
//! (ns_common_free.rs) is missing, so no death is reported twice.

use tracer_common::NsType;

death_by_first_arg!(
    fentry_free_mnt_ns,
    kprobe_free_mnt_ns,
    "free_mnt_ns",
    NsType::Mnt
);
