//! `void free_time_ns(struct time_namespace *ns)` (kernel/time/namespace.c,
//! v6.1 and v6.12): a time namespace's count reached zero; it releases the
//! inode number and frees the struct, synchronously.
//!
//! Flavours: fentry, kprobe; attached only where `__ns_common_free`
//! (ns_common_free.rs) is missing, so no death is reported twice.

use tracer_common::NsType;

death_by_first_arg!(
    fentry_free_time_ns,
    kprobe_free_time_ns,
    "free_time_ns",
    NsType::Time
);
