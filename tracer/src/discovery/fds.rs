//! Open fds as holders: nsfs fds, sockets and tun/tap fds of every process.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::Path;

use super::fdgrab::ProcessFds;
use super::inventory::Collector;
use super::nsref::NsRef;
use super::tasks::Process;
use super::{procfs, sockets, tun};
use crate::schema::{Holder, HolderKind};

pub(super) fn collect(c: &mut Collector, processes: &[Process]) {
    // One socket can be open in many processes; ask the kernel once.
    let mut socket_ns: HashMap<u64, Option<NsRef>> = HashMap::new();
    for p in processes {
        let fds = match procfs::fds(p.pid) {
            Ok(f) => f,
            Err(e) if procfs::is_gone(&e) => continue,
            Err(e) => {
                c.inv
                    .warnings
                    .note("open fds", &format!("pid {}", p.pid), &e);
                continue;
            }
        };
        let mut grabber = ProcessFds::new(p.pid);
        for (fd, link) in fds {
            if let Some(r) = NsRef::parse_link(&link) {
                let path = format!("/proc/{}/fd/{fd}", p.pid);
                c.learn_path(Path::new(&path), Some(r));
                c.add_holder(r, holder(HolderKind::Fd, p, fd, Some(path), None));
            } else if let Some(ino) = sockets::socket_inode(&link) {
                let netns = match socket_ns.get(&ino) {
                    Some(n) => *n,
                    None => {
                        let n = socket_netns(c, &mut grabber, p.pid, fd);
                        socket_ns.insert(ino, n);
                        n
                    }
                };
                if let Some(r) = netns {
                    c.add_holder(r, holder(HolderKind::Socket, p, fd, None, Some(link)));
                }
            } else if link.contains("/dev/") || link.ends_with("/tun") {
                // A stat per file fd would cost more than the rest of the
                // scan; tun nodes live under a /dev (a container's too).
                add_tun(c, &mut grabber, p, fd, &link);
            }
        }
    }
}

fn holder(
    kind: HolderKind,
    p: &Process,
    fd: i32,
    path: Option<String>,
    detail: Option<String>,
) -> Holder {
    Holder {
        kind,
        pid: Some(p.pid),
        comm: Some(p.comm.clone()),
        fd: Some(fd),
        path,
        detail,
        ..Holder::default()
    }
}

fn socket_netns(c: &mut Collector, grabber: &mut ProcessFds, pid: u32, fd: i32) -> Option<NsRef> {
    let subject = format!("pid {pid} fd {fd}");
    let sock = match grabber.grab(fd) {
        Ok(s) => s,
        Err(e) if procfs::is_gone(&e) => return None,
        Err(e) => {
            c.inv.warnings.note("sockets (pidfd_getfd)", &subject, &e);
            return None;
        }
    };
    match sockets::netns_of(sock.as_fd()) {
        Ok(ns) => c.learn_fd(ns, &subject),
        Err(e) => {
            c.inv
                .warnings
                .note("socket namespaces (SIOCGSKNS)", &subject, &e);
            None
        }
    }
}

/// Checks whether a path fd is a tun device and, if so, records the netns
/// its queue socket pins, with the interface and where it lives as detail.
fn add_tun(c: &mut Collector, grabber: &mut ProcessFds, p: &Process, fd: i32, link: &str) {
    let subject = format!("pid {} fd {fd}", p.pid);
    match tun::is_tun(p.pid, fd) {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) if procfs::is_gone(&e) => return,
        Err(e) => {
            c.inv.warnings.note("fd types", &subject, &e);
            return;
        }
    }
    let dev = match grabber.grab(fd) {
        Ok(d) => d,
        Err(e) if procfs::is_gone(&e) => return,
        Err(e) => {
            c.inv.warnings.note("tun fds (pidfd_getfd)", &subject, &e);
            return;
        }
    };
    let pinned = match sockets::netns_of(dev.as_fd()) {
        Ok(ns) => c.learn_fd(ns, &subject),
        Err(e) => {
            c.inv
                .warnings
                .note("tun namespaces (SIOCGSKNS)", &subject, &e);
            return;
        }
    };
    let Some(pinned) = pinned else {
        return;
    };
    let device_ns = match tun::device_netns(dev.as_fd()) {
        Ok(Some(ns)) => c.learn_fd(ns, &subject),
        Ok(None) => None,
        Err(e) => {
            c.inv
                .warnings
                .note("tun devices (TUNGETDEVNETNS)", &subject, &e);
            None
        }
    };
    let detail = match (tun::interface(p.pid, fd), device_ns) {
        (Some(ifname), Some(ns)) if ns == pinned => format!("interface {ifname}"),
        (Some(ifname), Some(ns)) => format!("interface {ifname}, now in {ns}"),
        (Some(ifname), None) => format!("interface {ifname}"),
        (None, _) => "no interface attached".to_string(),
    };
    c.add_holder(
        pinned,
        holder(HolderKind::Tun, p, fd, Some(link.to_string()), Some(detail)),
    );
}
