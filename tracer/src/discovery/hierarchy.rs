//! Owners and parents: the user namespace that owns each namespace, and
//! the parent of each pid and user namespace.
//!
//! Each link is a reference: a child pid or user namespace pins its parent,
//! and every namespace pins its owning user namespace. Following the links
//! also finds namespaces that no task is in and no fd or mount names.

use std::collections::BTreeMap;
use std::os::fd::BorrowedFd;

use tracer_common::NsType;

use super::inventory::{Collector, Namespace};
use super::nsfs;
use super::nsref::NsRef;
use crate::schema::{Holder, HolderKind};

/// Asks the kernel for `id`'s owner, parent and (user namespaces) creator
/// uid, and learns those relatives in turn.
pub(super) fn learn_relatives(c: &mut Collector, fd: BorrowedFd<'_>, id: NsRef) {
    let subject = id.to_string();
    match nsfs::owner(fd) {
        Ok(Some(owner_fd)) => {
            if let Some(owner) = c.learn_fd(owner_fd, &format!("owner of {subject}")) {
                c.set_owner(id, owner.inum);
            }
        }
        Ok(None) => {}
        Err(e) => c.inv.warnings.note("namespace owners", &subject, &e),
    }
    match id.ns_type {
        NsType::User => match nsfs::owner_uid(fd) {
            Ok(uid) => c.entry(id).owner_uid = Some(uid),
            Err(e) => c
                .inv
                .warnings
                .note("user namespace owner uids", &subject, &e),
        },
        NsType::Pid => match nsfs::parent(fd) {
            Ok(Some(parent_fd)) => {
                if let Some(p) = c.learn_fd(parent_fd, &format!("parent of {subject}")) {
                    c.set_parent(id, p.inum);
                }
            }
            Ok(None) => {}
            Err(e) => c.inv.warnings.note("namespace parents", &subject, &e),
        },
        _ => {}
    }
}

/// Adds a `child_ns` holder to every parent and an `owned_ns` holder to
/// every owner. A user namespace's owner is its parent, so it counts once,
/// as a child.
pub(super) fn add_relative_holders(namespaces: &mut BTreeMap<NsRef, Namespace>) {
    let mut extra: Vec<(NsRef, Holder)> = Vec::new();
    for ns in namespaces.values() {
        if let Some(parent) = ns.parent {
            extra.push((
                NsRef::new(ns.id.ns_type, parent),
                Holder {
                    kind: HolderKind::ChildNs,
                    detail: Some(ns.id.to_string()),
                    ..Holder::default()
                },
            ));
        }
        if let Some(owner) = ns.owner {
            if ns.id.ns_type != NsType::User {
                extra.push((
                    NsRef::new(NsType::User, owner),
                    Holder {
                        kind: HolderKind::OwnedNs,
                        detail: Some(ns.id.to_string()),
                        ..Holder::default()
                    },
                ));
            }
        }
    }
    for (id, holder) in extra {
        if let Some(ns) = namespaces.get_mut(&id) {
            ns.holders.push(holder);
        }
    }
}
