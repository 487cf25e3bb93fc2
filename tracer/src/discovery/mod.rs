//! Finds every namespace on the system and everyone who holds it: tasks,
//! open fds, sockets, tun/tap fds, bind mounts in every mount namespace,
//! proc mounts, child and owned namespaces. Needs no eBPF; the tracer's
//! `linger` events reuse it.
//!
//! Sources, one module each: `tasks` (/proc/*/task/*/ns), `fds` (with
//! `sockets`, `tun`, `fdgrab`), `mounts` (with `mntns_visit`), `hierarchy`
//! (nsfs ioctls in `nsfs`). They all write into an `inventory::Collector`.

mod census;
mod commands;
mod fdgrab;
mod fds;
mod held;
mod hierarchy;
mod inventory;
mod mntns_visit;
mod mounts;
pub mod nsfs;
mod nsref;
pub(crate) mod procfs;
mod render;
mod sockets;
mod spec;
mod tasks;
mod tun;
mod warnings;

use tracer_common::NsType;

pub use census::{thread_alive, TaskCensus};
pub use commands::{ls, parse_types, why, LsArgs, WhyArgs};
pub use held::{Answer, Held};
pub use inventory::{Inventory, Namespace};
pub use mounts::{parse_mountinfo, MountEntry};
pub use nsref::{type_from_name, NsRef};
pub use render::{describe, verdict};
pub use spec::NsSpec;
pub use warnings::Warnings;

use crate::schema::Holder;

/// Every namespace on the system, hidden ones included, with all holders.
///
/// Opening namespaces to ask for owners and parents creates nsfs inodes, so
/// a scan shows up as `evict` events in a trace.
pub fn scan() -> anyhow::Result<Inventory> {
    let mut c = inventory::Collector::default();
    let (processes, mount_reps) = tasks::collect(&mut c)?;
    fds::collect(&mut c, &processes);
    mounts::collect(&mut c, &mount_reps);
    Ok(c.finish())
}

/// The holders of the namespaces in `asked` only, from one walk of
/// /proc: what the tracer's holder scan uses, small however many
/// namespaces it asks about (see `held`).
pub fn scan_for(asked: std::sync::Arc<std::collections::HashSet<NsRef>>) -> anyhow::Result<Held> {
    let mut c = inventory::Collector::keeping(asked);
    let (processes, mount_reps) = tasks::collect(&mut c)?;
    fds::collect(&mut c, &processes);
    mounts::collect(&mut c, &mount_reps);
    Ok(c.finish_kept())
}

/// Everything that holds one namespace; empty when it is not alive.
pub fn holders_of(ns_type: NsType, inum: u32) -> anyhow::Result<Vec<Holder>> {
    let inv = scan()?;
    Ok(inv
        .get(NsRef::new(ns_type, inum))
        .map(|n| n.holders.clone())
        .unwrap_or_default())
}

/// Threads per namespace and one thread in each, from readlinks only:
/// it creates no nsfs inodes. With `note_times`, when each namespace was
/// first found (the start-up scan dates its `present` records so).
pub fn task_counts(note_times: bool) -> anyhow::Result<TaskCensus> {
    census::task_counts(note_times)
}
