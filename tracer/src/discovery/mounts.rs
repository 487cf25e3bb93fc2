//! Mounts as holders: nsfs bind mounts in every mount namespace, and proc
//! mounts, which pin the pid namespace they show.
//!
//! A proc superblock takes a reference on its pid namespace
//! (`proc_fill_super`: `get_pid_ns`, dropped in `proc_kill_sb`; fs/proc/root.c
//! v6.18). No interface names that namespace directly, so we read the link
//! `<mount>/1/ns/pid`: pid 1 of a pid namespace is its init, whose namespace
//! is exactly the mounted one. Once the init is gone the namespace has no
//! task left and cannot be named; such mounts become a warning.
//!
//! mqueue mounts are not holders: the mqueue superblock stores its ipc
//! namespace without a reference, and the namespace's final put clears it
//! (`put_ipc_ns` → `mq_clear_sbinfo`, ipc/namespace.c v6.18). So they are
//! not reported.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use tracer_common::NsType;

use super::inventory::Collector;
use super::nsref::NsRef;
use super::tasks::MountReps;
use super::{mntns_visit, nsfs, procfs};
use crate::schema::{Holder, HolderKind};

/// One line of /proc/PID/mountinfo, the fields we use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    /// `major:minor` of the superblock.
    pub dev: String,
    /// The root of the mount within its filesystem: `net:[N]` for nsfs.
    pub root: String,
    pub mount_point: String,
    pub fstype: String,
}

/// Parses mountinfo (proc_pid_mountinfo(5)); malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let fstype = post.split(' ').next()?;
            Some(MountEntry {
                dev: pre.get(2)?.to_string(),
                root: unescape(pre.get(3)?),
                mount_point: unescape(pre.get(4)?),
                fstype: unescape(fstype),
            })
        })
        .collect()
}

/// Undoes the kernel's octal escapes (`\040` for a space, `\134` for `\`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let digit = |k: usize| u32::from(b[i + k] - b'0');
            out.push((digit(1) * 64 + digit(2) * 8 + digit(3)) as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn collect(c: &mut Collector, reps: &MountReps) {
    let mut visited: BTreeSet<NsRef> = BTreeSet::new();
    // Mount namespaces found as bind mounts, opened while the path resolved.
    let mut pending: HashMap<NsRef, OwnedFd> = HashMap::new();
    for (&mnt, &pid) in reps {
        if visited.insert(mnt) {
            scan_one(c, mnt, pid, &mut pending);
        }
    }
    // Task-less mount namespaces (reached through fds or bind mounts) can
    // hold bind mounts of their own, which can name more: repeat until none
    // is new.
    loop {
        let hidden: Vec<NsRef> = c
            .inv
            .namespaces
            .keys()
            .filter(|r| r.ns_type == NsType::Mnt && !visited.contains(r))
            .copied()
            .collect();
        if hidden.is_empty() {
            break;
        }
        for mnt in hidden {
            visited.insert(mnt);
            let fd = match pending.remove(&mnt) {
                Some(fd) => fd,
                None => match c.paths.get(&mnt).map(|p| nsfs::open(p)) {
                    Some(Ok(fd)) => fd,
                    Some(Err(e)) if procfs::is_gone(&e) => continue,
                    Some(Err(e)) => {
                        c.inv
                            .warnings
                            .note("mount namespaces", &mnt.to_string(), &e);
                        continue;
                    }
                    // Only seen in passing (e.g. as an owner's relative).
                    None => continue,
                },
            };
            let visit = mntns_visit::with_task_in(fd.as_fd(), |pid| {
                scan_one(c, mnt, pid, &mut pending);
            });
            if let Err(e) = visit {
                c.inv
                    .warnings
                    .note("mount namespaces (setns)", &mnt.to_string(), &e);
            }
        }
    }
}

/// Reads the mount table of `mnt` through `pid`, a task inside it.
fn scan_one(c: &mut Collector, mnt: NsRef, pid: u32, pending: &mut HashMap<NsRef, OwnedFd>) {
    let text = match fs::read_to_string(format!("/proc/{pid}/mountinfo")) {
        Ok(t) => t,
        Err(e) if procfs::is_gone(&e) => return,
        Err(e) => {
            c.inv
                .warnings
                .note("mount tables", &format!("{mnt} (pid {pid})"), &e);
            return;
        }
    };
    let entries = parse_mountinfo(&text);
    let mut proc_ns: HashMap<&str, Option<NsRef>> = HashMap::new();
    for (i, m) in entries.iter().enumerate() {
        // A mount covered by a later one at the same place (a container's
        // /proc over the host's) cannot be reached by its path: reading
        // through it would name the covering mount's namespace.
        let covered = entries[i + 1..]
            .iter()
            .any(|later| later.mount_point == m.mount_point);
        if m.fstype == "proc" && m.root == "/" && !covered {
            let ns = proc_mount_ns(c, mnt, pid, &m.mount_point);
            proc_ns.entry(m.dev.as_str()).or_insert(ns);
        }
    }
    // One holder per filesystem: bind mounts of one superblock (a
    // container's procfs over /proc/bus, /proc/fs, /proc/irq, /proc/sys;
    // one nsfs file mounted twice) pin the namespace once.
    let mut groups: Vec<(NsRef, HolderKind, Vec<&str>)> = Vec::new();
    let mut group_of: HashMap<(NsRef, &str, &str), usize> = HashMap::new();
    for m in &entries {
        let (r, kind, root) = match m.fstype.as_str() {
            "nsfs" => {
                let Some(r) = NsRef::parse_link(&m.root) else {
                    continue;
                };
                let path = format!("/proc/{pid}/root{}", m.mount_point);
                c.learn_path(Path::new(&path), Some(r));
                if r.ns_type == NsType::Mnt && !pending.contains_key(&r) {
                    if let Ok(fd) = nsfs::open(Path::new(&path)) {
                        pending.insert(r, fd);
                    }
                }
                (r, HolderKind::BindMount, m.root.as_str())
            }
            // Bind mounts of part of a proc mount (a container's /proc/sys)
            // share its superblock, so they pin the same namespace.
            "proc" => match proc_ns.get(m.dev.as_str()) {
                Some(Some(r)) => (*r, HolderKind::ProcMount, ""),
                _ => continue,
            },
            _ => continue,
        };
        match group_of.get(&(r, m.dev.as_str(), root)) {
            Some(&i) => groups[i].2.push(&m.mount_point),
            None => {
                group_of.insert((r, m.dev.as_str(), root), groups.len());
                groups.push((r, kind, vec![&m.mount_point]));
            }
        }
    }
    for (r, kind, points) in groups {
        c.add_holder(r, mount_holder(kind, &points, mnt));
    }
}

/// One filesystem's mounts in `mnt`, the first (the shortest path: the
/// mount itself before bind mounts under it) as `path`.
fn mount_holder(kind: HolderKind, mount_points: &[&str], mnt: NsRef) -> Holder {
    let mut points: Vec<String> = mount_points.iter().map(|p| p.to_string()).collect();
    points.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
    points.dedup();
    Holder {
        kind,
        path: points.first().cloned(),
        detail: Some(mnt.to_string()),
        mount_points: Some(points),
        ..Holder::default()
    }
}

/// The pid namespace a proc mount shows. Its pid 1 is the namespace's init;
/// if that link is unreadable (a non-dumpable init), any task whose `NSpid`
/// line there has a single entry is in the mounted namespace itself, not a
/// descendant (`proc_pid_status` prints one entry per level below the mount's).
fn proc_mount_ns(c: &mut Collector, mnt: NsRef, pid: u32, mount_point: &str) -> Option<NsRef> {
    let root = format!("/proc/{pid}/root{}", mount_point.trim_end_matches('/'));
    let subject = format!("{mount_point} in {mnt}");
    let mut candidates = vec![1];
    let mut denied: Option<io::Error> = None;
    let mut listed = false;
    let mut i = 0;
    while i < candidates.len() {
        let n = candidates[i];
        i += 1;
        if n != 1 && !single_level(&root, n) {
            continue;
        }
        let link = format!("{root}/{n}/ns/pid");
        match fs::read_link(&link) {
            Ok(t) => {
                let r = NsRef::parse_link(&t.to_string_lossy())?;
                c.learn_path(Path::new(&link), Some(r));
                return Some(r);
            }
            Err(e) if procfs::is_gone(&e) => {}
            Err(e) => denied = Some(e),
        }
        if !listed {
            listed = true;
            if let Ok(dir) = fs::read_dir(&root) {
                candidates.extend(
                    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                        .filter(|&n| n != 1),
                );
            }
        }
    }
    let err = match denied {
        Some(e) => e,
        None if Path::new(&root).exists() => io::Error::other(
            "its pid namespace has no task left, and no interface names a proc mount's namespace",
        ),
        None => return None,
    };
    c.inv.warnings.note("proc mounts", &subject, &err);
    None
}

/// Whether task `n` of the proc mount at `root` is in the mount's own pid
/// namespace rather than a descendant.
fn single_level(root: &str, n: u32) -> bool {
    fs::read_to_string(format!("{root}/{n}/status")).is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .is_some_and(|v| v.split_whitespace().count() == 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nsfs_and_escaped_lines() {
        let text = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
600 27 0:4 net:[4026532115] /run/netns/my\\040ns rw shared:5 - nsfs nsfs rw
22 27 0:21 / /proc rw,relatime - proc proc rw
bad line
";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].root, "net:[4026532115]");
        assert_eq!(m[1].mount_point, "/run/netns/my ns");
        assert_eq!(m[1].fstype, "nsfs");
        assert_eq!(m[2].dev, "0:21");
    }

    #[test]
    fn one_filesystem_is_one_holder_with_every_mount_point() {
        let mnt = NsRef::new(NsType::Mnt, 4026532300);
        let h = mount_holder(
            HolderKind::ProcMount,
            &["/proc/sys", "/proc/bus", "/proc", "/proc/irq", "/proc/fs"],
            mnt,
        );
        assert_eq!(h.path.as_deref(), Some("/proc"));
        assert_eq!(
            h.mount_points.unwrap(),
            ["/proc", "/proc/fs", "/proc/bus", "/proc/irq", "/proc/sys"]
        );
        assert_eq!(h.detail.as_deref(), Some("mnt:[4026532300]"));
    }

    #[test]
    fn unescapes_backslash_and_leaves_short_tails() {
        assert_eq!(unescape("a\\134b"), "a\\b");
        assert_eq!(unescape("a\\04"), "a\\04");
    }
}
