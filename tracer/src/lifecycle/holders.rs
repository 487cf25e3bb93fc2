//! What the tracer alone can say about why a namespace outlives its tasks,
//! for when the /proc scan finds no holder.

use tracer_common::NsType;

use super::lifetime::{Lifetime, Origin};
use crate::decode::Clock;
use crate::schema::{Holder, HolderKind};

/// Live namespaces that keep one namespace alive, counted from the births
/// the tracer saw (a child's birth names its parent and owner).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Dependents {
    pub children: u32,
    pub owned: u32,
    /// The latest-born of each, to name one in the detail.
    pub last_child: Option<(NsType, u32)>,
    pub last_owned: Option<(NsType, u32)>,
}

impl Dependents {
    pub(super) fn add(&mut self, who: (NsType, u32), is_child: bool) {
        if is_child {
            self.children += 1;
            self.last_child = Some(who);
        } else {
            self.owned += 1;
            self.last_owned = Some(who);
        }
    }

    /// Returns whether nothing is left.
    pub(super) fn remove(&mut self, who: (NsType, u32), is_child: bool) -> bool {
        let (n, last) = if is_child {
            (&mut self.children, &mut self.last_child)
        } else {
            (&mut self.owned, &mut self.last_owned)
        };
        *n = n.saturating_sub(1);
        if *last == Some(who) {
            *last = None;
        }
        self.children == 0 && self.owned == 0
    }
}

fn name(ns: (NsType, u32)) -> String {
    format!("{}:[{}]", ns.0.name(), ns.1)
}

fn count_text(n: u32, example: Option<(NsType, u32)>, what: &str) -> String {
    let noun = if n == 1 { "namespace" } else { "namespaces" };
    match example {
        Some(e) => format!("{n} {what} {noun} still alive, e.g. {}", name(e)),
        None => format!("{n} {what} {noun} still alive"),
    }
}

/// Holders inferred from traced events. Each says in `detail` what was seen
/// and what is only a possibility: the tracer does not see opens, bind
/// mounts or sockets.
pub(super) fn from_trace(life: &Lifetime, deps: Option<&Dependents>, clock: &Clock) -> Vec<Holder> {
    let mut out = Vec::new();
    let holder = |kind: HolderKind, detail: String| Holder {
        kind,
        detail: Some(detail),
        ..Holder::default()
    };
    if let Some(d) = deps {
        if d.children > 0 {
            out.push(holder(
                HolderKind::ChildNs,
                count_text(d.children, d.last_child, "child"),
            ));
        }
        if d.owned > 0 {
            out.push(holder(
                HolderKind::OwnedNs,
                count_text(d.owned, d.last_owned, "owned"),
            ));
        }
    }
    if let Some(put) = life.last_put_ns() {
        let run = match life.cleanup() {
            Some((batch, start)) => format!(
                "taken by cleanup run {batch} at {}, which has not freed it",
                clock.rfc3339(start)
            ),
            None => "no cleanup run has taken it yet".to_string(),
        };
        out.push(holder(
            HolderKind::Unknown,
            format!("last reference dropped at {}; {run}", clock.rfc3339(put)),
        ));
    }
    if !out.is_empty() {
        return out;
    }
    let nsfs = match life.last_evict_ns() {
        Some(t) => format!(
            "its nsfs inode was last evicted at {}; an fd or bind mount of /proc/PID/ns/{} \
             opened since then may hold it",
            clock.rfc3339(t),
            life.ns_type().name()
        ),
        None if life.origin() == Origin::Born => format!(
            "no nsfs inode eviction seen since its birth, so an open fd or bind mount of \
             /proc/PID/ns/{} may hold it",
            life.ns_type().name()
        ),
        None => format!(
            "no nsfs inode eviction seen since tracing began, so an open fd or bind mount of \
             /proc/PID/ns/{} may hold it",
            life.ns_type().name()
        ),
    };
    let others = match life.ns_type() {
        NsType::Net => "; so may a socket or a tun device made in it",
        NsType::User => "; so may a namespace it owns, or an open file's credentials",
        NsType::Pid => "; so may a child pid namespace",
        _ => "",
    };
    let tasks = if life.ever_had_tasks() {
        ""
    } else {
        "no /proc scan saw a task in it; "
    };
    out.push(holder(
        HolderKind::Unknown,
        format!(
            "{tasks}no holder found by the /proc scan; {nsfs}{others} (the tracer sees no opens)"
        ),
    ));
    out
}
