//! What `why` and `ls` print: text for people, JSON for programs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use tracer_common::NsType;

use super::inventory::Namespace;
use super::nsref::NsRef;
use crate::sanitize::Esc;
use crate::schema::{Container, Holder, HolderKind};

/// Holder kinds in the order `why` shows them, with their group titles.
const KINDS: [(&str, &str, &str); 12] = [
    ("task", "process", "processes"),
    ("thread", "thread", "threads"),
    (
        "pid_for_children",
        "pid_for_children link",
        "pid_for_children links",
    ),
    (
        "time_for_children",
        "time_for_children link",
        "time_for_children links",
    ),
    ("fd", "open fd", "open fds"),
    ("socket", "socket", "sockets"),
    ("tun", "tun/tap fd", "tun/tap fds"),
    ("bind_mount", "bind mount", "bind mounts"),
    ("proc_mount", "proc mount", "proc mounts"),
    ("mqueue_mount", "mqueue mount", "mqueue mounts"),
    ("child_ns", "child namespace", "child namespaces"),
    ("owned_ns", "owned namespace", "owned namespaces"),
];

fn kind_rank(kind: &str) -> usize {
    KINDS
        .iter()
        .position(|k| k.0 == kind)
        .unwrap_or(KINDS.len())
}

fn kind_noun(kind: &str, n: usize) -> String {
    let (one, many) = KINDS
        .iter()
        .find(|k| k.0 == kind)
        .map_or((kind, kind), |k| (k.1, k.2));
    if n == 1 {
        one.to_string()
    } else {
        format!("{n} {many}")
    }
}

fn who(h: &Holder) -> String {
    let process = match (h.pid, &h.comm) {
        (Some(pid), Some(comm)) => format!("process {pid} ({comm})"),
        (Some(pid), None) => format!("process {pid}"),
        _ => "an unknown process".into(),
    };
    match &h.container {
        Some(c) => format!("{process} in container {}", c.label()),
        None => process,
    }
}

/// The other mount points of a mount holder's filesystem, as a phrase.
fn also(h: &Holder) -> String {
    let others: Vec<&str> = h
        .mount_points
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|p| Some(*p) != h.path.as_deref())
        .collect();
    if others.is_empty() {
        String::new()
    } else {
        format!(", also mounted at {}", others.join(", "))
    }
}

/// One holder as a phrase: "a bind mount at /run/netns/foo (mnt:[4026531841])".
pub fn describe(h: &Holder) -> String {
    let path = h.path.as_deref().unwrap_or("?");
    let detail = h.detail.as_deref().unwrap_or("");
    let fd = h.fd.map_or(String::from("?"), |f| f.to_string());
    match h.kind.name() {
        "task" => who(h),
        "thread" => format!("{detail} of {}", who(h)),
        "pid_for_children" | "time_for_children" => {
            format!("{} as the namespace of its next children", who(h))
        }
        "fd" => format!("fd {fd} of {}", who(h)),
        "socket" => format!("a socket (fd {fd} of {})", who(h)),
        "tun" => format!("a tun/tap fd (fd {fd} of {}, {detail})", who(h)),
        "bind_mount" => format!("a bind mount at {path}{} ({detail})", also(h)),
        "proc_mount" => format!("a proc mount at {path}{} ({detail})", also(h)),
        "mqueue_mount" => format!("an mqueue mount at {path}{} ({detail})", also(h)),
        "child_ns" => format!("its child namespace {detail}"),
        "owned_ns" => format!("the namespace {detail} that it owns"),
        other => format!("{other} {detail}"),
    }
}

/// The one-line answer to "why is it alive?".
pub fn verdict(ns: &Namespace) -> String {
    let counts = ns.holder_counts();
    let total: usize = counts.values().sum();
    if total == 0 {
        return "no holder found: it is held by something nstrace cannot see \
                (such as an open /proc/PID/net file or a kernel reference)"
            .into();
    }
    if counts.len() == 1 {
        let shown: Vec<String> = ns.holders.iter().take(3).map(describe).collect();
        let more = if total > 3 {
            format!(" and {} more", total - 3)
        } else {
            String::new()
        };
        if total == 1 {
            return format!("held only by {}", shown[0]);
        }
        let kind = counts.keys().next().map_or("", String::as_str);
        return format!(
            "held only by {}: {}{more}",
            kind_noun(kind, total),
            shown.join(", ")
        );
    }
    let mut kinds: Vec<(&String, &usize)> = counts.iter().collect();
    kinds.sort_by_key(|(k, _)| kind_rank(k));
    let parts: Vec<String> = kinds
        .iter()
        .map(|(k, n)| {
            let noun = kind_noun(k, **n);
            if **n == 1 {
                format!("1 {noun}")
            } else {
                noun
            }
        })
        .collect();
    format!("held by {}", parts.join(", "))
}

fn owner_text(ns: &Namespace) -> String {
    match (ns.owner, ns.owner_uid) {
        (Some(o), Some(uid)) => format!("owner user:[{o}] (uid {uid})"),
        (Some(o), None) => format!("owner user:[{o}]"),
        (None, Some(uid)) => format!("initial user namespace (uid {uid})"),
        (None, None) => "no owner (initial user namespace)".into(),
    }
}

/// `nstrace why`, for people: holders grouped by kind, then the verdict.
/// `why`'s answer for `ns`, ending with `verdict` (usually [`verdict`]; a
/// partial scan has its own).
pub fn why_text(ns: &Namespace, verdict: &str) -> String {
    let mut out = String::new();
    let _ = write!(out, "{}  {}", ns.id, owner_text(ns));
    if let Some(p) = ns.parent {
        let _ = write!(out, ", parent {}:[{p}]", ns.id.ns_type.name());
    }
    let _ = writeln!(out, ", {} tasks", ns.tasks);
    let mut groups: BTreeMap<usize, Vec<&Holder>> = BTreeMap::new();
    for h in &ns.holders {
        groups.entry(kind_rank(h.kind.name())).or_default().push(h);
    }
    for hs in groups.values() {
        let kind = hs[0].kind.name();
        let title = KINDS.iter().find(|k| k.0 == kind).map_or(kind, |k| k.2);
        let _ = writeln!(out, "  {title} ({}):", hs.len());
        for h in hs {
            let _ = writeln!(out, "    {}", holder_line(h));
        }
    }
    let _ = writeln!(out, "verdict: {}", Esc(verdict));
    out
}

/// One holder for `why`'s text: every string in it came from the system
/// (a mount point, a command name), so each is escaped.
fn holder_line(h: &Holder) -> String {
    let mut parts = Vec::new();
    if let Some(pid) = h.pid {
        parts.push(format!("pid {pid}"));
    }
    if let Some(comm) = &h.comm {
        parts.push(format!("({})", Esc(comm)));
    }
    if let Some(fd) = h.fd {
        parts.push(format!("fd {fd}"));
    }
    if let Some(path) = &h.path {
        parts.push(Esc(path).to_string());
    }
    let also = also(h);
    if !also.is_empty() {
        parts.push(format!("({})", also.trim_start_matches(", ")));
    }
    if let Some(detail) = &h.detail {
        parts.push(if h.path.is_some() && h.kind.is_mount() {
            format!("in {}", Esc(detail))
        } else {
            Esc(detail).to_string()
        });
    }
    if let Some(c) = &h.container {
        parts.push(format!("container {}", Esc(&c.label())));
    }
    parts.join(" ")
}

/// `nstrace why --json`.
#[derive(Serialize)]
pub struct WhyJson<'a> {
    #[serde(rename = "type")]
    pub ns_type: &'static str,
    pub inum: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<u32>,
    pub tasks: u32,
    pub holders: &'a [Holder],
    pub verdict: String,
}

pub fn why_json(ns: &Namespace) -> WhyJson<'_> {
    WhyJson {
        ns_type: ns.id.ns_type.name(),
        inum: ns.id.inum,
        owner: ns.owner,
        owner_uid: ns.owner_uid,
        parent: ns.parent,
        tasks: ns.tasks,
        holders: &ns.holders,
        verdict: verdict(ns),
    }
}

/// One namespace in `nstrace ls --json`.
#[derive(Serialize)]
pub struct LsJson {
    #[serde(rename = "type")]
    pub ns_type: &'static str,
    pub inum: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<u32>,
    /// Processes inside it.
    pub nprocs: usize,
    /// Threads inside it.
    pub tasks: u32,
    pub holders: BTreeMap<String, usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The container of the process `command` is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
}

/// The container of the lowest pid inside, the process the COMMAND column
/// names.
fn container_of(ns: &Namespace) -> Option<&Container> {
    ns.holders
        .iter()
        .find(|h| h.kind == HolderKind::Task && h.pid.is_some() && h.pid == ns.lowest_pid)
        .and_then(|h| h.container.as_deref())
}

pub fn ls_json(ns: &Namespace) -> LsJson {
    let holders = ns.holder_counts();
    LsJson {
        ns_type: ns.id.ns_type.name(),
        inum: ns.id.inum,
        owner: ns.owner,
        owner_uid: ns.owner_uid,
        parent: ns.parent,
        nprocs: holders.get("task").copied().unwrap_or(0),
        tasks: ns.tasks,
        holders,
        command: ns.command.clone(),
        container: container_of(ns).cloned(),
    }
}

/// The COMMAND column: the lowest pid's command, or for a namespace no
/// process is in, what holds it.
fn command_cell(ns: &Namespace) -> String {
    if let Some(c) = &ns.command {
        return c.clone();
    }
    match ns.holders.iter().min_by_key(|h| kind_rank(h.kind.name())) {
        Some(h) => format!("<{}>", describe(h)),
        None => "<no holder seen>".into(),
    }
}

fn holders_cell(ns: &Namespace) -> String {
    let mut counts: Vec<(String, usize)> = ns
        .holder_counts()
        .into_iter()
        .filter(|(k, _)| k != "task")
        .collect();
    counts.sort_by_key(|(k, _)| kind_rank(k));
    if counts.is_empty() {
        return "-".into();
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k}:{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

const LS_HEADER: &str = "        NS TYPE   NPROCS TASKS     USERNS   UID HOLDERS";

/// The CONTAINER column's width; longer names are cut.
const CONTAINER_WIDTH: usize = 12;

fn container_cell(ns: &Namespace) -> String {
    container_of(ns).map_or("-".into(), |c| {
        c.short_name().chars().take(CONTAINER_WIDTH).collect()
    })
}

fn ls_row(ns: &Namespace, ns_cell: &str) -> String {
    let json = ls_json(ns);
    let owner = ns.owner.map_or("-".into(), |o| o.to_string());
    let uid = ns.owner_uid.map_or("-".into(), |u| u.to_string());
    format!(
        "{ns_cell:>10} {:<6} {:>6} {:>5} {owner:>10} {uid:>5} {:<24} {:<CONTAINER_WIDTH$} {}",
        ns.id.ns_type.name(),
        json.nprocs,
        ns.tasks,
        holders_cell(ns),
        Esc(&container_cell(ns)),
        Esc(&command_cell(ns))
    )
}

/// `nstrace ls`: one row per namespace, like lsns.
pub fn ls_table(namespaces: &[&Namespace]) -> String {
    let mut out = format!("{LS_HEADER}{:<18}CONTAINER    COMMAND\n", "");
    for ns in namespaces {
        out.push_str(&ls_row(ns, &ns.id.inum.to_string()));
        out.push('\n');
    }
    out
}

/// `nstrace ls --tree`: user namespaces nest by parent; every other
/// namespace sits under the user namespace that owns it, except that a pid
/// namespace sits under its parent pid namespace when both have the same
/// owner. Rows of types not asked for are kept only as ancestors of rows that
/// were.
pub fn ls_tree(all: &BTreeMap<NsRef, Namespace>, wanted: &BTreeSet<NsType>) -> String {
    let mut children: BTreeMap<NsRef, Vec<NsRef>> = BTreeMap::new();
    let mut roots = Vec::new();
    for ns in all.values() {
        let place = tree_parent(all, ns);
        match place {
            Some(p) => children.entry(p).or_default().push(ns.id),
            None => roots.push(ns.id),
        }
    }
    let mut out = String::new();
    let mut seen = BTreeSet::new();
    for root in roots {
        draw(all, &children, wanted, root, "", "", &mut out, &mut seen);
    }
    out
}

fn tree_parent(all: &BTreeMap<NsRef, Namespace>, ns: &Namespace) -> Option<NsRef> {
    if ns.id.ns_type == NsType::Pid {
        if let Some(p) = ns.parent {
            let parent = NsRef::new(NsType::Pid, p);
            if all.get(&parent).is_some_and(|pn| pn.owner == ns.owner) {
                return Some(parent);
            }
        }
    }
    let owner = NsRef::new(NsType::User, ns.owner?);
    all.contains_key(&owner).then_some(owner)
}

fn subtree_wanted(
    children: &BTreeMap<NsRef, Vec<NsRef>>,
    wanted: &BTreeSet<NsType>,
    id: NsRef,
) -> bool {
    wanted.contains(&id.ns_type)
        || children
            .get(&id)
            .is_some_and(|cs| cs.iter().any(|c| subtree_wanted(children, wanted, *c)))
}

#[expect(clippy::too_many_arguments, reason = "a recursive drawing helper")]
fn draw(
    all: &BTreeMap<NsRef, Namespace>,
    children: &BTreeMap<NsRef, Vec<NsRef>>,
    wanted: &BTreeSet<NsType>,
    id: NsRef,
    lead: &str,
    rest: &str,
    out: &mut String,
    seen: &mut BTreeSet<NsRef>,
) {
    if !seen.insert(id) || !subtree_wanted(children, wanted, id) {
        return;
    }
    let Some(ns) = all.get(&id) else {
        return;
    };
    let _ = writeln!(
        out,
        "{lead}{id} nprocs={} {} {}{}",
        ls_json(ns).nprocs,
        holders_cell(ns),
        Esc(&command_cell(ns)),
        container_of(ns).map_or(String::new(), |c| format!(" [{}]", Esc(&c.label())))
    );
    let kids: Vec<NsRef> = children
        .get(&id)
        .map(|cs| {
            cs.iter()
                .copied()
                .filter(|c| subtree_wanted(children, wanted, *c))
                .collect()
        })
        .unwrap_or_default();
    for (i, kid) in kids.iter().enumerate() {
        let last = i + 1 == kids.len();
        let (l, r) = if last {
            ("└─", "  ")
        } else {
            ("├─", "│ ")
        };
        draw(
            all,
            children,
            wanted,
            *kid,
            &format!("{rest}{l}"),
            &format!("{rest}{r}"),
            out,
            seen,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Runtime;

    fn in_web() -> Namespace {
        let mut c = Container::new(
            Runtime::Docker,
            "8c4c00752dad639582dcc7ee460a3c58bd33f8407410ae409f5b56f9b5c77304",
        );
        c.name = Some("web-1".into());
        Namespace {
            id: NsRef::new(NsType::Net, 4026532324),
            owner: None,
            owner_uid: Some(0),
            parent: None,
            tasks: 1,
            lowest_pid: Some(30307),
            command: Some("sleep 30".into()),
            holders: vec![Holder {
                kind: HolderKind::Task,
                pid: Some(30307),
                comm: Some("sleep".into()),
                container: Some(c.into()),
                ..Holder::default()
            }],
        }
    }

    #[test]
    fn task_holders_name_their_container() {
        let ns = in_web();
        assert_eq!(
            verdict(&ns),
            "held only by process 30307 (sleep) in container web-1 (docker)"
        );
        let text = why_text(&ns, &verdict(&ns));
        assert!(
            text.contains("    pid 30307 (sleep) container web-1 (docker)\n"),
            "{text}"
        );
        let table = ls_table(&[&ns]);
        let row = table.lines().nth(1).unwrap();
        assert!(row.ends_with(" web-1        sleep 30"), "{table}");
        assert_eq!(
            ls_json(&ns).container.map(|c| c.runtime),
            Some(Runtime::Docker)
        );
        let header = table.lines().next().unwrap();
        assert_eq!(header.find("CONTAINER"), row.find("web-1"), "{table}");
    }
}
