//! A cgroup id to the cgroup's path.
//!
//! A cgroup id is the kernfs node id of the cgroup's directory, which on
//! 64-bit kernels since 5.5 is also its inode number, on v2 and v1 alike.
//! kernfs exports file handles of type FILEID_KERNFS whose 8 bytes are that
//! id, so `open_by_handle_at` on the hierarchy's mount opens the directory
//! in one call, and its /proc/self/fd link is the path (the way systemd and
//! bpftool do it). That needs CAP_DAC_READ_SEARCH; without it, or if the
//! kernel refuses, a walk of the hierarchy matching inode numbers does the
//! same, kept for a second so a burst of misses costs one walk.

use std::collections::HashMap;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cgroupfs::{Hierarchies, Mount};

/// `FILEID_KERNFS` (include/linux/exportfs.h, v5.5 to v6.18).
const FILEID_KERNFS: i32 = 0xfe;
/// A walk visits at most this many directories (a big Kubernetes node has
/// a few thousand cgroups).
const WALK_CAP: usize = 100_000;
/// How long one walk answers misses.
const WALK_TTL: Duration = Duration::from_secs(1);

/// Which hierarchy an id belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hierarchy {
    V2,
    V1,
}

/// `struct file_handle` with room for kernfs' 8-byte handle.
#[repr(C)]
struct KernfsHandle {
    handle_bytes: u32,
    handle_type: i32,
    id: u64,
}

struct Opened {
    mount: Mount,
    dir: OwnedFd,
    walk: Option<(Instant, HashMap<u64, String>)>,
}

/// The open hierarchies, ready to name cgroup ids.
pub struct CgroupDirs {
    v2: Option<Opened>,
    v1: Option<Opened>,
}

impl CgroupDirs {
    pub fn open(h: &Hierarchies) -> CgroupDirs {
        let open = |m: &Mount| {
            let dir = std::fs::File::open(&m.mount_point).ok()?;
            Some(Opened {
                mount: m.clone(),
                dir: dir.into(),
                walk: None,
            })
        };
        CgroupDirs {
            v2: h.v2.as_ref().and_then(open),
            v1: h.v1.as_ref().and_then(|(_, m)| open(m)),
        }
    }

    /// The path of cgroup `id` on hierarchy `h`, as `/proc/PID/cgroup` would
    /// show it (`/docker/<id>`, `/system.slice/docker-<id>.scope`); `None`
    /// once the cgroup is gone.
    pub fn path(&mut self, h: Hierarchy, id: u64) -> Option<String> {
        let o = match h {
            Hierarchy::V2 => self.v2.as_mut()?,
            Hierarchy::V1 => self.v1.as_mut()?,
        };
        let rel = by_handle(o, id).or_else(|| by_walk(o, id))?;
        Some(join_root(&o.mount.root, &rel))
    }
}

/// The cgroup path of a directory `rel` below a mount showing `root`.
fn join_root(root: &str, rel: &str) -> String {
    match (root.trim_end_matches('/'), rel) {
        ("", r) => r.to_string(),
        (root, "/") => root.to_string(),
        (root, r) => format!("{root}{r}"),
    }
}

fn by_handle(o: &Opened, id: u64) -> Option<String> {
    let mut handle = KernfsHandle {
        handle_bytes: 8,
        handle_type: FILEID_KERNFS,
        id,
    };
    // SAFETY: handle is a file_handle header followed by handle_bytes
    // bytes; the kernel reads it and returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            o.dir.as_raw_fd(),
            &mut handle as *mut KernfsHandle,
            libc::O_PATH | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    relative(&o.mount.mount_point, &link)
}

/// `link` below `mount_point`, as `/a/b` (`/` for the mount itself).
fn relative(mount_point: &Path, link: &Path) -> Option<String> {
    let rest = link.strip_prefix(mount_point).ok()?;
    let s = rest.to_str()?;
    // A deleted directory's link ends in " (deleted)": it is gone.
    if s.ends_with(" (deleted)") {
        return None;
    }
    Some(format!("/{s}"))
}

fn by_walk(o: &mut Opened, id: u64) -> Option<String> {
    let fresh = o.walk.as_ref().is_some_and(|(t, _)| t.elapsed() < WALK_TTL);
    if !fresh {
        o.walk = Some((Instant::now(), walk(&o.mount.mount_point)));
    }
    o.walk.as_ref()?.1.get(&id).cloned()
}

/// Inode number → path of every cgroup directory below `top`. Symlinks are
/// not followed (cgroupfs has none; anything else is not a cgroup).
fn walk(top: &Path) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    let mut stack = vec![PathBuf::from(top)];
    while let Some(dir) = stack.pop() {
        if out.len() >= WALK_CAP {
            break;
        }
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        if let Some(rel) = relative(top, &dir) {
            out.insert(meta.ino(), rel);
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_mount_roots() {
        assert_eq!(join_root("/", "/docker/abc"), "/docker/abc");
        assert_eq!(join_root("/", "/"), "/");
        assert_eq!(join_root("/kubepods/pod1", "/"), "/kubepods/pod1");
        assert_eq!(join_root("/kubepods/pod1", "/ctr"), "/kubepods/pod1/ctr");
        assert_eq!(
            relative(Path::new("/sys/fs/cgroup"), Path::new("/sys/fs/cgroup")).as_deref(),
            Some("/")
        );
        assert_eq!(
            relative(Path::new("/sys/fs/cgroup"), Path::new("/sys/fs/cgroup/a/b")).as_deref(),
            Some("/a/b")
        );
        assert_eq!(
            relative(Path::new("/sys/fs/cgroup"), Path::new("/proc")),
            None
        );
    }

    /// This process's own cgroup, by id, both ways: the handle and the walk
    /// must name the directory whose inode is the id.
    #[test]
    fn names_our_own_cgroup() {
        let h = Hierarchies::detect();
        let Some(v2) = h.v2.clone() else {
            eprintln!("skipped: no cgroup2 mount");
            return;
        };
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let path = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup2 line")
            .to_string();
        let dir = v2.mount_point.join(path.trim_start_matches('/'));
        let id = std::fs::metadata(&dir).unwrap().ino();
        let mut dirs = CgroupDirs::open(&h);
        assert_eq!(dirs.path(Hierarchy::V2, id).as_deref(), Some(path.as_str()));
        let o = dirs.v2.as_mut().unwrap();
        assert_eq!(by_walk(o, id).as_deref(), Some(path.as_str()));
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // Root has CAP_DAC_READ_SEARCH: the one-call way must work.
            assert_eq!(by_handle(o, id).as_deref(), Some(path.as_str()));
        }
        assert_eq!(dirs.path(Hierarchy::V2, u64::MAX - 1), None);
    }

    /// The same on the followed v1 hierarchy, where there is one.
    #[test]
    fn names_our_own_v1_cgroup() {
        let h = Hierarchies::detect();
        let Some((ctl, m)) = h.v1.clone() else {
            eprintln!("skipped: no cgroup v1 controller mounted");
            return;
        };
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let path = own
            .lines()
            .find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, ctls, p) = (f.next()?, f.next()?, f.next()?);
                ctls.split(',').any(|c| c == ctl).then(|| p.to_string())
            })
            .expect("a line for the followed controller");
        let rel = path.strip_prefix(m.root.trim_end_matches('/')).unwrap();
        let dir = m.mount_point.join(rel.trim_start_matches('/'));
        let id = std::fs::metadata(&dir).unwrap().ino();
        let mut dirs = CgroupDirs::open(&h);
        assert_eq!(dirs.path(Hierarchy::V1, id).as_deref(), Some(path.as_str()));
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let o = dirs.v1.as_ref().unwrap();
            assert_eq!(
                by_handle(o, id)
                    .map(|r| join_root(&o.mount.root, &r))
                    .as_deref(),
                Some(path.as_str())
            );
        }
    }
}
