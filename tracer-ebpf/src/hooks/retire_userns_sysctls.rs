//! `void retire_userns_sysctls(struct user_namespace *ns)` (kernel/ucount.c,
//! v6.1 and v6.12): called once per user namespace by the `free_user_ns`
//! work, just before it releases that namespace's inode number, for the
//! first one and for every parent the same work frees in its loop (which
//! never pass `__put_user_ns`). Its only caller.
//!
//! Flavours: fentry, kprobe; attached only where `__ns_common_free`
//! (ns_common_free.rs) is missing, so no death is reported twice.

use tracer_common::NsType;

death_by_first_arg!(
    fentry_retire_userns_sysctls,
    kprobe_retire_userns_sysctls,
    "retire_userns_sysctls",
    NsType::User
);
