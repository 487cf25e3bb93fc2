//! `static void net_ns_net_exit(struct net *net)` (net/core/net_namespace.c,
//! v6.1 and v6.12): the pernet exit of `net_ns_ops`, which releases a net's
//! inode number inside the `cleanup_net` run that tears it down (or when
//! `setup_net` fails). It is reached only through a function pointer
//! (`ops->exit`), so it is never inlined.
//!
//! Flavours: fentry, kprobe; attached only where `__ns_common_free`
//! (ns_common_free.rs) is missing, so no death is reported twice.

use tracer_common::NsType;

death_by_first_arg!(
    fentry_net_ns_net_exit,
    kprobe_net_ns_net_exit,
    "net_ns_net_exit",
    NsType::Net
);
