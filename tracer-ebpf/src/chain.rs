//! User and pid namespaces die in chains: the work that frees one drops its
//! reference on its parent and frees that too if it was the last, and so on
//! up (`free_user_ns`, kernel/user_namespace.c v6.1 to v6.18;
//! `destroy_pid_namespace_work`, kernel/pid_namespace.c v6.18). Only the
//! first passes a put or a work item of its own, so the chain is read here,
//! at the start of the work, while every member is whole.
//!
//! A parent whose count is 1 is held only by its child: nobody else holds a
//! reference, so nobody can take one (`get_user_ns`/`get_pid_ns` need a
//! reference already held), and the loop's decrement frees it. A parent
//! with a larger count is left alone: it lives on, unless another holder's
//! put lands between this read and the loop's decrement; such a death is
//! not reported, and the engine closes that lifetime when its number is
//! born again.

use tracer_common::NsType;

use crate::{
    hooks::died,
    kread::{off, read, read_ptr},
};

/// Nesting limit of user and pid namespaces (32, MAX_PID_NS_LEVEL and the
/// user namespace depth check), plus the first.
const MAX_DEPTH: u32 = 33;

/// Reports the death of `ns` (type `t`, being freed now) and of each
/// parent the same free takes along.
#[inline(always)]
pub fn deaths(ns: u64, t: NsType) {
    let parent_off = match t {
        NsType::Pid => off!(pid_ns_parent),
        _ => off!(user_ns_parent),
    };
    let count_off = off!(ns_common[t as usize]).wrapping_add(off!(ns_common_count));
    let mut cur = ns;
    for _ in 0..MAX_DEPTH {
        died(cur, t);
        let parent = read_ptr(cur, parent_off);
        // The initial namespace has no parent and is never freed.
        if parent == 0 || read_ptr(parent, parent_off) == 0 {
            return;
        }
        if read::<u32>(parent, count_off) != 1 {
            return;
        }
        cur = parent;
    }
}
