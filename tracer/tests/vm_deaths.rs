//! In the QEMU guest only (feature `vm-tests`), once per hook method: the
//! death of every type with its lifetime, parent chains of user and pid
//! namespaces dying together, ipc namespaces freed in one batch, a net
//! namespace that lingers behind a bind mount until it is unmounted, and
//! issue 10's scenarios (support/lifetimes.rs).

mod support;

use std::{ffi::CString, time::Duration};

use serde_json::Value;
use support::{lifetimes::*, *};
use tracer_common::NsType;

/// `nstrace trace --method M` plus `extra`, after checking that the hooks
/// these tests need got that method (none quietly missing).
fn tracer(extra: &[&str]) -> Tracer {
    let m = test_method();
    let mut args = vec!["--method", m.as_str()];
    args.extend_from_slice(extra);
    let tr = Tracer::start_with_header(&args);
    for h in ["unshare", "clone", "put_ns"] {
        assert_eq!(
            tr.header()["methods"][h],
            m.as_str(),
            "hook {h}: {}",
            tr.header()
        );
    }
    assert_deaths_by(tr.header(), &NsType::ALL, &m);
    tr
}

fn births_by(tr: &mut Tracer, t: NsType, pid: i32, n: usize) -> Vec<u32> {
    let mut got: Vec<u32> = Vec::new();
    for _ in 0..n {
        let v = tr.expect(&format!("{n} {} births by {pid}", t.name()), |v| {
            v["event"] == "birth"
                && v["type"] == t.name()
                && v["pid"] == pid
                && !got.iter().any(|g| v["inum"] == *g)
        });
        got.push(v["inum"].as_u64().unwrap() as u32);
    }
    got
}

#[test]
fn every_type_dies_with_its_inode_and_a_lifetime() {
    let mut tr = tracer(&["--no-scan"]);
    for t in NsType::ALL {
        let child = spawn(Make::Fork, unshare_type(t));
        let inum = readlink_inum(child.pid, ns_file(t));
        tr.expect(&format!("birth of {}:[{inum}]", t.name()), |v| {
            is(v, "birth", t, inum)
        });
        drop(child);
        let d = tr.expect(&format!("death of {}:[{inum}]", t.name()), |v| {
            is(v, "death", t, inum)
        });
        assert_eq!(d["gen"], 1, "{d}");
        assert!(d["lifetime_ns"].as_u64().is_some_and(|l| l > 0), "{d}");
        assert_eq!(d["exact"], true, "{d}");
    }
}

/// Work for a child: three nested user namespaces, each mapping root to the
/// parent's root (the one mapping a process may write for itself) so the
/// next unshare is allowed.
fn nested_users() -> impl FnOnce() -> i32 {
    let files = [
        (CString::new("/proc/self/uid_map").unwrap(), &b"0 0 1\n"[..]),
        (
            CString::new("/proc/self/setgroups").unwrap(),
            &b"deny\n"[..],
        ),
        (CString::new("/proc/self/gid_map").unwrap(), &b"0 0 1\n"[..]),
    ];
    move || {
        for _ in 0..3 {
            // SAFETY: async-signal-safe calls only.
            unsafe {
                if libc::unshare(libc::CLONE_NEWUSER) != 0 {
                    return errno();
                }
                for (path, data) in &files {
                    let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
                    if fd < 0 || libc::write(fd, data.as_ptr().cast(), data.len()) < 0 {
                        return errno();
                    }
                    libc::close(fd);
                }
            }
        }
        0
    }
}

#[test]
fn a_user_namespace_chain_dies_together() {
    let mut tr = tracer(&["--no-scan"]);
    let child = spawn(Make::Fork, nested_users());
    let chain = births_by(&mut tr, NsType::User, child.pid, 3);
    assert_eq!(*chain.last().unwrap(), readlink_inum(child.pid, "user"));
    drop(child);
    // Only the leaf passes __put_user_ns; free_user_ns drops its parents
    // in a loop.
    let leaf = *chain.last().unwrap();
    let put = tr.expect("the put of the leaf", |v| is(v, "put", NsType::User, leaf));
    for n in &chain {
        let d = tr.expect("a death in the chain", |v| is(v, "death", NsType::User, *n));
        assert!(d["lifetime_ns"].as_u64().is_some_and(|l| l > 0), "{d}");
        assert!(
            d["mono_ns"].as_u64() >= put["mono_ns"].as_u64(),
            "death before the put: {d} {put}"
        );
    }
}

/// Work for a child: a pid namespace three deep, each level's init making
/// the next. Each init dies with its parent (PR_SET_PDEATHSIG).
fn nested_pids(depth: usize) -> impl FnOnce() -> i32 {
    move || {
        for level in 0..depth {
            // SAFETY: async-signal-safe calls only.
            unsafe {
                if libc::unshare(libc::CLONE_NEWPID) != 0 {
                    return errno();
                }
                let pid = libc::fork();
                if pid < 0 {
                    return errno();
                }
                if pid > 0 {
                    // The outermost one reports back; the others wait.
                    if level == 0 {
                        return 0;
                    }
                    loop {
                        libc::pause();
                    }
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            }
        }
        loop {
            // SAFETY: pause is async-signal-safe.
            unsafe { libc::pause() };
        }
    }
}

#[test]
fn a_pid_namespace_chain_dies_together() {
    let mut tr = tracer(&["--no-scan"]);
    let child = spawn(Make::Fork, nested_pids(3));
    let first = births_by(&mut tr, NsType::Pid, child.pid, 1);
    // The deeper ones are made by the inits inside; take them by parent.
    let mut chain = first.clone();
    while chain.len() < 3 {
        let parent = *chain.last().unwrap();
        let v = tr.expect("a nested pid birth", |v| {
            v["event"] == "birth" && v["type"] == "pid" && v["parent"] == parent
        });
        chain.push(v["inum"].as_u64().unwrap() as u32);
    }
    drop(child);
    for n in &chain {
        tr.expect("a death in the pid chain", |v| {
            is(v, "death", NsType::Pid, *n)
        });
    }
}

/// Work for a child A: a pid namespace P1 whose init B makes P2, whose
/// init C runs before A reports. B and C die with their parents
/// (PR_SET_PDEATHSIG).
fn pid_in_pid() -> impl FnOnce() -> i32 {
    move || {
        let mut ready = [0i32; 2];
        // SAFETY: async-signal-safe calls only.
        unsafe {
            if libc::pipe(ready.as_mut_ptr()) != 0 || libc::unshare(libc::CLONE_NEWPID) != 0 {
                return errno();
            }
            let b = libc::fork();
            if b == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::unshare(libc::CLONE_NEWPID) != 0 {
                    libc::_exit(1);
                }
                if libc::fork() == 0 {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    libc::write(ready[1], b"c".as_ptr().cast(), 1);
                }
                loop {
                    libc::pause();
                }
            }
            if b < 0 {
                return errno();
            }
            let mut byte = 0u8;
            if libc::read(ready[0], (&mut byte as *mut u8).cast(), 1) != 1 {
                return libc::ECHILD;
            }
        }
        0
    }
}

#[test]
fn a_pid_namespace_and_its_parent_freed_by_one_put_die_each_by_address() {
    let m = test_method();
    let mut tr = tracer(&["--no-scan"]);
    assert_eq!(tr.header()["methods"]["cleanup_net"], m.as_str());
    let child = spawn(Make::Fork, pid_in_pid());
    let [b, c] = descendants(child.pid)[..] else {
        panic!("A should have one child and one grandchild");
    };
    let p1 = readlink_inum(b, "pid");
    let p2 = readlink_inum(c, "pid");
    assert_eq!(readlink_inum(child.pid, "pid_for_children"), p1);
    assert_eq!(readlink_inum(b, "pid_for_children"), p2);
    let born1 = tr.expect("birth of P1", |v| {
        is(v, "birth", NsType::Pid, p1) && v["pid"] == child.pid
    });
    let born2 = tr.expect("birth of P2 under P1", |v| {
        is(v, "birth", NsType::Pid, p2) && v["parent"] == p1
    });
    // An open nsfs file holds P2, and P2 holds its parent P1.
    let p2_file = std::fs::File::open(format!("/proc/{c}/ns/pid")).unwrap();
    drop(child);
    // Every task of P1 is reaped, but each struct pid puts its namespace
    // from an RCU callback. cleanup_net runs rcu_barrier() before it ends:
    // once a net dying now has its cleanup_end, P2 is P1's last reference.
    let net = spawn(Make::Fork, unshare(NsType::Net.clone_flag()));
    let net_inum = readlink_inum(net.pid, "net");
    drop(net);
    tr.expect("the cleanup_end of a net that died after the reap", |v| {
        v["event"] == "cleanup_end"
            && v["inums"]
                .as_array()
                .is_some_and(|a| a.iter().any(|i| i == net_inum))
    });
    assert!(
        tr.received(|v| v["event"] == "death" && v["type"] == "pid")
            .is_empty(),
        "a pid death before the last put"
    );
    drop(p2_file);
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::gettid() };
    let d2 = tr.expect("death of P2", |v| is(v, "death", NsType::Pid, p2));
    let d1 = tr.expect("death of P1", |v| is(v, "death", NsType::Pid, p1));
    for (d, born) in [(&d2, &born2), (&d1, &born1)] {
        // Matched to its lifetime by address: the same generation, closed
        // by its own death rather than by a reuse of the number.
        assert_eq!(d["gen"], born["gen"], "{d}\n{born}");
        assert_eq!(d["exact"], true, "{d}");
        assert!(d.get("end").is_none(), "{d}");
        assert!(d["lifetime_ns"].as_u64().is_some_and(|l| l > 0), "{d}");
    }
    assert!(
        d2["mono_ns"].as_u64() <= d1["mono_ns"].as_u64(),
        "{d2}\n{d1}"
    );
    // One put freed both: on one thread, and before 6.18 (put_pid_ns's
    // loop) on ours, in close(); 6.18+ frees the chain in a work item.
    assert_eq!(d2["tid"], d1["tid"], "{d2}\n{d1}");
    if !kernel_has_ns_common_free() {
        assert_eq!(d1["tid"], me, "{d1}");
    }
}

#[test]
fn ipc_namespaces_freed_in_one_batch() {
    let mut tr = tracer(&["--no-scan"]);
    // Three ipc namespaces, the first two held by fds, all put at exit.
    let path = CString::new("/proc/self/ns/ipc").unwrap();
    let child = spawn(Make::Fork, move || {
        for _ in 0..2 {
            // SAFETY: async-signal-safe calls only.
            unsafe {
                if libc::unshare(libc::CLONE_NEWIPC) != 0
                    || libc::open(path.as_ptr(), libc::O_RDONLY) < 0
                {
                    return errno();
                }
            }
        }
        unshare(NsType::Ipc.clone_flag())()
    });
    let ipcs = births_by(&mut tr, NsType::Ipc, child.pid, 3);
    drop(child);
    for n in &ipcs {
        tr.expect("ipc put", |v| is(v, "put", NsType::Ipc, *n));
    }
    let deaths: Vec<Value> = ipcs
        .iter()
        .map(|n| tr.expect("ipc death", |v| is(v, "death", NsType::Ipc, *n)))
        .collect();
    // free_ipc frees the whole queued batch in one work item: one worker,
    // back to back.
    let tids: Vec<u64> = deaths
        .iter()
        .map(|d| d["tid"].as_u64().unwrap_or_else(|| panic!("no tid: {d}")))
        .collect();
    assert!(
        tids.iter().all(|&t| t != 0 && t == tids[0]),
        "not one batch: {deaths:?}"
    );
}

#[test]
fn a_net_kept_by_a_bind_mount_lingers_then_dies_at_umount() {
    let mut tr = tracer(&["--linger-grace", "1", "--scan-interval", "0.3"]);
    let child = spawn(Make::Fork, unshare(NsType::Net.clone_flag()));
    let inum = readlink_inum(child.pid, "net");
    let target = format!("/tmp/nstrace-linger-{}", std::process::id());
    std::fs::write(&target, b"").unwrap();
    let dst = bind_mount(&format!("/proc/{}/ns/net", child.pid), &target);
    drop(child);
    let linger = tr.expect_after_scan("linger of the net", |v| is(v, "linger", NsType::Net, inum));
    let holders = linger["holders"].as_array().expect("holders");
    assert!(
        holders
            .iter()
            .any(|h| h["kind"] == "bind_mount" && h["path"] == target.as_str()),
        "linger does not name the mount {target}: {linger}"
    );
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::umount2(dst.as_ptr(), libc::MNT_DETACH) }, 0);
    let d = tr.expect("death after umount", |v| is(v, "death", NsType::Net, inum));
    assert!(
        d["lifetime_ns"].as_u64().is_some_and(|l| l > 1_000_000_000),
        "{d}"
    );
    let _ = std::fs::remove_file(&target);
    let lingers = tr.all(Duration::from_millis(500), |v| {
        is(v, "linger", NsType::Net, inum)
    });
    assert_eq!(lingers.len(), 1, "one linger per lifetime: {lingers:?}");
}

#[test]
fn a_reused_net_number_charges_each_death_to_its_own_lifetime() {
    let mut tr = tracer(&["--no-scan"]);
    a_b_c_reuse(&mut tr);
}

#[test]
fn nets_bind_mounted_then_unmounted_die_without_a_linger() {
    let mut tr = tracer(&["--linger-grace", "3", "--scan-interval", "0.3"]);
    ip_netns_and_net_file(&mut tr, Duration::from_secs(3));
}

#[test]
fn a_storm_of_5000_nets_ends_every_lifetime_once() {
    let mut tr = tracer(&["--linger-grace", "1", "--scan-interval", "0.5"]);
    net_storm(&mut tr, 5000);
}
