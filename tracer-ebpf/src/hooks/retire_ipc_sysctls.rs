//! `void retire_ipc_sysctls(struct ipc_namespace *ns)` (ipc/ipc_sysctl.c,
//! v6.1 and v6.12): called once per ipc namespace by `free_ipc_ns`
//! (inlined into the `free_ipc` work, which frees a whole batch), shortly
//! before it releases that namespace's inode number; also by
//! `copy_ipcs` when creating one fails.
//!
//! Flavours: fentry, kprobe; attached only where `__ns_common_free`
//! (ns_common_free.rs) is missing, so no death is reported twice.

use tracer_common::NsType;

death_by_first_arg!(
    fentry_retire_ipc_sysctls,
    kprobe_retire_ipc_sysctls,
    "retire_ipc_sysctls",
    NsType::Ipc
);
