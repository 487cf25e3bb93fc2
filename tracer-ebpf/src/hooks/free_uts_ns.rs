//! `void free_uts_ns(struct uts_namespace *ns)` (kernel/utsname.c, v6.1 and
//! v6.12): a uts namespace's count reached zero; it releases the inode
//! number (`ns_free_inum`) and frees the struct, synchronously.
//!
//! Flavours: fentry, kprobe; attached only where `__ns_common_free`
//! (ns_common_free.rs) is missing, so no death is reported twice.

use tracer_common::NsType;

death_by_first_arg!(
    fentry_free_uts_ns,
    kprobe_free_uts_ns,
    "free_uts_ns",
    NsType::Uts
);
