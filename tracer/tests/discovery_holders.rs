//! Each test makes one fresh namespace, gives it one kind of holder (and,
//! for tasks, threads and pid namespaces, the tasks that kind needs), and
//! checks that `why` names that holder and `ls` lists the namespace; one
//! checks that an mqueue mount, which does not pin its ipc namespace on
//! this kernel, is not taken for a holder. Run as root, one at a time:
//! `cargo test -p tracer --test discovery_holders -- --test-threads=1`.

mod discovery_support;
mod support;

use discovery_support::*;
use support::UnprivilegedCopy;
use tracer::discovery::{holders_of, scan, NsRef};
use tracer::schema::{Holder, HolderKind};
use tracer_common::NsType;

fn only_kind(holders: &[Holder], kind: HolderKind) -> Vec<Holder> {
    if holders.is_empty() {
        let warnings = scan().unwrap().warnings.lines();
        panic!("no {kind} holder found; scan warnings: {warnings:?}");
    }
    let other: Vec<&Holder> = holders.iter().filter(|h| h.kind != kind).collect();
    assert!(
        other.is_empty(),
        "unexpected holders besides {kind}: {other:?}"
    );
    holders.to_vec()
}

fn assert_listed(ns_type: NsType, inum: u32) {
    let inv = scan().unwrap();
    assert!(
        inv.get(NsRef::new(ns_type, inum)).is_some(),
        "ls does not list {}:[{inum}]",
        ns_type.name()
    );
}

fn own_mnt() -> String {
    format!("mnt:[{}]", ns_of(std::process::id(), "mnt"))
}

#[test]
fn bind_mount_in_our_mount_namespace() {
    let x = spawn_in(libc::CLONE_NEWNET);
    let inum = ns_of(x.pid(), "net");
    let target = MountTarget::new("bind");
    let src = cstr(&format!("/proc/{}/ns/net", x.pid()));
    // SAFETY: NUL-terminated paths; a bind mount takes no data.
    let ret = unsafe {
        libc::mount(
            src.as_ptr(),
            target.c.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    check(ret).expect("bind-mount the netns");
    x.kill();
    assert_no_task_in("net", inum);

    let holders = only_kind(
        &holders_of(NsType::Net, inum).unwrap(),
        HolderKind::BindMount,
    );
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].path.as_deref(), Some(target.path.as_str()));
    assert_eq!(holders[0].detail.as_deref(), Some(own_mnt().as_str()));
    assert_listed(NsType::Net, inum);

    // What a user sees, asking by path.
    let (code, out, err) = nstrace(&["why", &target.path]);
    assert_eq!(code, 0, "stderr: {err}");
    let verdict = format!(
        "verdict: held only by a bind mount at {} ({})",
        target.path,
        own_mnt()
    );
    assert!(out.contains(&verdict), "{out}");
}

/// A child that makes a private mount namespace and bind-mounts `src` onto
/// `target` inside it.
fn spawn_private_binder(src: &str, target: &MountTarget) -> Sleeper {
    spawn_private_mount(libc::CLONE_NEWNS, src, target, None, libc::MS_BIND)
}

/// A child in a new mount namespace (plus `flags`), made private so that
/// nothing leaks into ours, that mounts `src` (of `fstype`) on `target`.
fn spawn_private_mount(
    flags: i32,
    src: &str,
    target: &MountTarget,
    fstype: Option<&str>,
    mount_flags: libc::c_ulong,
) -> Sleeper {
    let src = cstr(src);
    let fstype = fstype.map(cstr);
    let dst = target.c.clone();
    let root = cstr("/");
    spawn_with(move || {
        let fstype = fstype.as_ref().map_or(std::ptr::null(), |f| f.as_ptr());
        // SAFETY: raw syscalls on prepared strings.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS | flags))?;
            check(libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                fstype,
                mount_flags,
                std::ptr::null(),
            ))
        }
    })
}

#[test]
fn bind_mount_in_another_mount_namespace() {
    let x = spawn_in(libc::CLONE_NEWNET);
    let inum = ns_of(x.pid(), "net");
    let target = MountTarget::new("bind-other");
    let binder = spawn_private_binder(&format!("/proc/{}/ns/net", x.pid()), &target);
    let their_mnt = format!("mnt:[{}]", ns_of(binder.pid(), "mnt"));
    x.kill();
    assert_no_task_in("net", inum);
    let ours = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !ours.contains(&target.path),
        "the mount leaked into our namespace"
    );

    let holders = only_kind(
        &holders_of(NsType::Net, inum).unwrap(),
        HolderKind::BindMount,
    );
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].path.as_deref(), Some(target.path.as_str()));
    assert_eq!(holders[0].detail.as_deref(), Some(their_mnt.as_str()));
    assert_listed(NsType::Net, inum);
    binder.kill();
}

/// Bind-mounts `x`'s net namespace in a new mount namespace that no task
/// is left in: only fd 9 of the returned keeper holds it. Returns the
/// mount's target, the mount namespace and the keeper.
fn bind_in_a_hidden_mount_namespace(x: &Sleeper, tag: &str) -> (MountTarget, u32, Sleeper) {
    let target = MountTarget::new(tag);
    let binder = spawn_private_binder(&format!("/proc/{}/ns/net", x.pid()), &target);
    let mnt = ns_of(binder.pid(), "mnt");
    let mnt_path = cstr(&format!("/proc/{}/ns/mnt", binder.pid()));
    let keeper = spawn_with(move || dup_to(open_raw(&mnt_path)?, 9));
    binder.kill();
    assert_no_task_in("mnt", mnt);
    (target, mnt, keeper)
}

#[test]
fn bind_mount_in_a_mount_namespace_no_task_is_in() {
    let x = spawn_in(libc::CLONE_NEWNET);
    let inum = ns_of(x.pid(), "net");
    let (target, mnt, keeper) = bind_in_a_hidden_mount_namespace(&x, "bind-hidden");
    x.kill();
    assert_no_task_in("net", inum);

    let holders = only_kind(
        &holders_of(NsType::Net, inum).unwrap(),
        HolderKind::BindMount,
    );
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].path.as_deref(), Some(target.path.as_str()));
    assert_eq!(holders[0].detail, Some(format!("mnt:[{mnt}]")));
    let mnt_holders = only_kind(&holders_of(NsType::Mnt, mnt).unwrap(), HolderKind::Fd);
    assert_eq!(mnt_holders[0].pid, Some(keeper.pid()));
    assert_eq!(mnt_holders[0].fd, Some(9));
    keeper.kill();
}

#[test]
fn fd_held_by_a_sleeping_child() {
    let x = spawn_in(libc::CLONE_NEWUTS);
    let inum = ns_of(x.pid(), "uts");
    let path = cstr(&format!("/proc/{}/ns/uts", x.pid()));
    let keeper = spawn_with(move || dup_to(open_raw(&path)?, 5));
    x.kill();
    assert_no_task_in("uts", inum);

    let holders = only_kind(&holders_of(NsType::Uts, inum).unwrap(), HolderKind::Fd);
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].pid, Some(keeper.pid()));
    assert_eq!(holders[0].fd, Some(5));
    assert_eq!(holders[0].comm.as_deref(), Some("sleep"));
    assert_eq!(
        holders[0].path,
        Some(format!("/proc/{}/fd/5", keeper.pid()))
    );

    // Through the binary, as JSON.
    let spec = format!("uts:[{inum}]");
    let (code, out, err) = nstrace(&["why", &spec, "--json"]);
    assert_eq!(code, 0, "stderr: {err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["inum"], inum);
    assert_eq!(v["holders"][0]["kind"], "fd");
    assert_eq!(v["holders"][0]["pid"], keeper.pid());
    assert_eq!(v["holders"][0]["fd"], 5);
    let verdict = format!("held only by fd 5 of process {} (sleep)", keeper.pid());
    assert_eq!(v["verdict"], verdict.as_str());

    let (code, out, _) = nstrace(&["ls", "--json", "-t", "uts"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let row = v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["inum"] == inum)
        .unwrap_or_else(|| panic!("ls --json lacks uts:[{inum}]"));
    assert_eq!(row["type"], "uts");
    assert_eq!(row["tasks"], 0);
    assert_eq!(row["holders"]["fd"], 1);
    keeper.kill();
}

/// A child that enters the netns of `pid`, makes an fd with `make`, moves
/// it to `target` and goes back to our netns.
fn spawn_net_holder(pid: u32, target: i32, make: fn() -> i32) -> Sleeper {
    let theirs = cstr(&format!("/proc/{pid}/ns/net"));
    let ours = cstr("/proc/self/ns/net");
    spawn_with(move || {
        let back = open_raw(&ours)?;
        let there = open_raw(&theirs)?;
        // SAFETY: raw syscalls on fds we just opened.
        // Both namespace fds are closed before the holder fd is moved, so
        // the move cannot land on one of them.
        unsafe {
            check(libc::setns(there, libc::CLONE_NEWNET))?;
            let fd = make();
            check(fd)?;
            libc::close(there);
            check(libc::setns(back, libc::CLONE_NEWNET))?;
            libc::close(back);
            dup_to(fd, target)
        }
    })
}

#[test]
fn socket_held_by_a_child() {
    let x = spawn_in(libc::CLONE_NEWNET);
    let inum = ns_of(x.pid(), "net");
    // SAFETY: socket(2) with constant arguments.
    let keeper = spawn_net_holder(x.pid(), 6, || unsafe {
        libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0)
    });
    assert_ne!(
        ns_of(keeper.pid(), "net"),
        inum,
        "the holder went back to our netns"
    );
    x.kill();
    assert_no_task_in("net", inum);

    let holders = only_kind(&holders_of(NsType::Net, inum).unwrap(), HolderKind::Socket);
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].pid, Some(keeper.pid()));
    assert_eq!(holders[0].fd, Some(6));
    let link = std::fs::read_link(format!("/proc/{}/fd/6", keeper.pid())).unwrap();
    assert_eq!(holders[0].detail.as_deref(), Some(link.to_str().unwrap()));
    assert_listed(NsType::Net, inum);
    keeper.kill();
}

fn open_tap() -> i32 {
    const TUNSETIFF: u64 = 0x4004_54ca;
    const IFF_TAP: i16 = 0x0002;
    const IFF_NO_PI: i16 = 0x1000;
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: i16,
        pad: [u8; 22],
    }
    let mut req = IfReq {
        name: [0; 16],
        flags: IFF_TAP | IFF_NO_PI,
        pad: [0; 22],
    };
    req.name[..8].copy_from_slice(b"nsttap0\0");
    // SAFETY: raw syscalls; req is a valid struct ifreq.
    unsafe {
        let fd = libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR);
        if fd < 0 || libc::ioctl(fd, TUNSETIFF as _, &mut req) < 0 {
            return -1;
        }
        fd
    }
}

#[test]
fn tun_fd_held_by_a_child() {
    assert!(
        std::path::Path::new("/dev/net/tun").exists(),
        "/dev/net/tun is missing: create it with `mknod /dev/net/tun c 10 200`"
    );
    let x = spawn_in(libc::CLONE_NEWNET);
    let inum = ns_of(x.pid(), "net");
    let keeper = spawn_net_holder(x.pid(), 7, open_tap);
    x.kill();
    assert_no_task_in("net", inum);

    let holders = only_kind(&holders_of(NsType::Net, inum).unwrap(), HolderKind::Tun);
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].pid, Some(keeper.pid()));
    assert_eq!(holders[0].fd, Some(7));
    assert_eq!(holders[0].path.as_deref(), Some("/dev/net/tun"));
    assert_eq!(holders[0].detail.as_deref(), Some("interface nsttap0"));
    assert_listed(NsType::Net, inum);
    keeper.kill();
}

#[test]
fn child_user_namespace_whose_task_has_left() {
    let x = spawn_in(libc::CLONE_NEWUSER);
    let parent = ns_of(x.pid(), "user");
    // The creator's uid must be mapped in the parent before it can nest.
    for map in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{}/{map}", x.pid()), "0 0 1").unwrap();
    }
    let parent_path = cstr(&format!("/proc/{}/ns/user", x.pid()));
    let y = spawn_with(move || {
        let fd = open_raw(&parent_path)?;
        // SAFETY: raw syscalls.
        unsafe {
            check(libc::setns(fd, libc::CLONE_NEWUSER))?;
            check(libc::unshare(libc::CLONE_NEWUSER))
        }
    });
    let child = ns_of(y.pid(), "user");
    let child_path = cstr(&format!("/proc/{}/ns/user", y.pid()));
    let keeper = spawn_with(move || dup_to(open_raw(&child_path)?, 8));
    x.kill();
    y.kill();
    assert_no_task_in("user", parent);
    assert_no_task_in("user", child);

    let holders = only_kind(
        &holders_of(NsType::User, parent).unwrap(),
        HolderKind::ChildNs,
    );
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].detail, Some(format!("user:[{child}]")));
    let inv = scan().unwrap();
    let p = inv
        .get(NsRef::new(NsType::User, parent))
        .expect("ls lists the parent");
    let c = inv
        .get(NsRef::new(NsType::User, child))
        .expect("ls lists the child");
    assert_eq!(c.parent, Some(parent));
    assert_eq!(p.owner_uid, Some(0));
    keeper.kill();
}

#[test]
fn user_namespace_held_by_a_namespace_it_owns() {
    let x = spawn_in(libc::CLONE_NEWUSER | libc::CLONE_NEWUTS);
    let user = ns_of(x.pid(), "user");
    let uts = ns_of(x.pid(), "uts");
    let uts_path = cstr(&format!("/proc/{}/ns/uts", x.pid()));
    let keeper = spawn_with(move || dup_to(open_raw(&uts_path)?, 8));
    x.kill();
    assert_no_task_in("user", user);

    let holders = only_kind(
        &holders_of(NsType::User, user).unwrap(),
        HolderKind::OwnedNs,
    );
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].detail, Some(format!("uts:[{uts}]")));

    let (code, out, err) = nstrace(&["why", &user.to_string()]);
    assert_eq!(code, 0, "stderr: {err}");
    let verdict = format!("verdict: held only by the namespace uts:[{uts}] that it owns");
    assert!(out.contains(&verdict), "{out}");
    let (code, out, _) = nstrace(&["ls", "-t", "user"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with(&format!("{user} user"))),
        "{out}"
    );
    keeper.kill();
}

/// Runs the unprivileged copy with `argv` from [`UnprivilegedCopy`].
fn run_as(argv: &[String], args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .args(args)
        .output()
        .expect("running nstrace through setpriv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `why` as nobody with only the scan's capabilities (README "Privileges")
/// names what root names, for holders that each need one of them: a socket
/// (CAP_NET_ADMIN, and CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH for another
/// user's fds) and a bind mount in a mount namespace no task is in
/// (CAP_SYS_ADMIN and CAP_SYS_CHROOT to enter it).
#[test]
fn why_with_only_the_scan_capabilities_names_every_holder() {
    let x = spawn_in(libc::CLONE_NEWNET);
    let inum = ns_of(x.pid(), "net");
    // SAFETY: socket(2) with constant arguments.
    let sock = spawn_net_holder(x.pid(), 6, || unsafe {
        libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0)
    });
    let (target, mnt, keeper) = bind_in_a_hidden_mount_namespace(&x, "bind-caps");
    x.kill();
    assert_no_task_in("net", inum);

    let copy = UnprivilegedCopy::new();
    let argv = copy.as_nobody_with(&[tracer::privileges::SCAN]);
    let spec = format!("net:[{inum}]");
    let (code, v, err) = run_as(&argv, &["why", &spec, "--json"]);
    assert_eq!(code, 0, "stderr: {err}");
    let kinds: Vec<&str> = v["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["socket", "bind_mount"], "{v}");
    assert_eq!(v["holders"][0]["pid"], sock.pid());
    assert_eq!(v["holders"][0]["fd"], 6);
    assert_eq!(v["holders"][1]["path"], target.path.as_str());
    assert_eq!(v["holders"][1]["detail"], format!("mnt:[{mnt}]"));
    // And exactly what root sees.
    let root = serde_json::to_value(holders_of(NsType::Net, inum).unwrap()).unwrap();
    assert_eq!(v["holders"], root);
    assert_eq!(v["verdict"], "held by 1 socket, 1 bind mount");
    keeper.kill();
    sock.kill();
}

/// Issue 11: without the capabilities, `why` used to call a namespace
/// "held only by process N (nstrace)". It must say what it cannot see, and
/// not exit 0 or 1 on an answer that may be wrong.
#[test]
fn why_without_the_capabilities_says_what_it_cannot_see() {
    let x = spawn_in(libc::CLONE_NEWUTS);
    let inum = ns_of(x.pid(), "uts");
    let copy = UnprivilegedCopy::new();
    let argv = copy.as_nobody_with(&[]);

    let spec = format!("uts:[{inum}]");
    let (code, _, err) = run_as(&argv, &["why", &spec]);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(
        err.contains(&format!(
            "nstrace: no namespace this user can see is uts:[{inum}], but without \
             CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_SYS_ADMIN, \
             CAP_SYS_CHROOT nstrace cannot see other users' processes and mounts, where it \
             may be alive: run it as root"
        )),
        "{err}"
    );

    // Our own namespace, where it sees only itself.
    let init = format!("uts:[{}]", ns_of(std::process::id(), "uts"));
    let (code, v, err) = run_as(&argv, &["why", &init, "--json"]);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(
        v["verdict"].as_str().unwrap().starts_with(
            "unknown: without CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, \
             CAP_SYS_ADMIN, CAP_SYS_CHROOT nstrace cannot see other users' processes"
        ),
        "{v}"
    );
    x.kill();
}

/// The holders of `t:[inum]`, by kind, in the order `why` reports them.
fn kinds_of(t: NsType, inum: u32) -> Vec<String> {
    holders_of(t, inum)
        .unwrap()
        .into_iter()
        .map(|h| h.kind.to_string())
        .collect()
}

#[test]
fn task_inside() {
    let x = spawn_in(libc::CLONE_NEWUTS);
    let inum = ns_of(x.pid(), "uts");
    let holders = only_kind(&holders_of(NsType::Uts, inum).unwrap(), HolderKind::Task);
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].pid, Some(x.pid()));
    assert_eq!(holders[0].comm.as_deref(), Some("sleep"));
    let (code, out, err) = nstrace(&["why", &format!("uts:[{inum}]")]);
    assert_eq!(code, 0, "{err}");
    let verdict = format!("verdict: held only by process {} (sleep)", x.pid());
    assert!(out.contains(&verdict), "{out}");
}

/// A thread that unshared its uts namespace holds it while its process
/// stays outside.
#[test]
fn thread_in_another_namespace_than_its_process() {
    let (tx, rx) = std::sync::mpsc::channel::<u32>();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        // SAFETY: plain syscalls; CLONE_NEWUTS may be unshared by one thread.
        let tid = unsafe {
            assert_eq!(libc::unshare(libc::CLONE_NEWUTS), 0, "{}", io_err());
            libc::gettid() as u32
        };
        tx.send(tid).unwrap();
        let _ = stop_rx.recv();
    });
    let tid = rx.recv().unwrap();
    let pid = std::process::id();
    let link = std::fs::read_link(format!("/proc/{pid}/task/{tid}/ns/uts")).unwrap();
    let inum: u32 = link.to_string_lossy()[5..]
        .trim_end_matches(']')
        .parse()
        .unwrap();
    assert_ne!(inum, ns_of(pid, "uts"), "the process itself moved");

    let holders = only_kind(&holders_of(NsType::Uts, inum).unwrap(), HolderKind::Thread);
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].pid, Some(pid));
    assert!(
        holders[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains(&tid.to_string()),
        "{holders:?}"
    );
    stop_tx.send(()).unwrap();
    thread.join().unwrap();
}

fn io_err() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// After unshare(CLONE_NEWTIME) a process stays outside (until it execs,
/// which enters it: so no exec here); its future children's namespace is
/// held only by its time_for_children link.
#[test]
fn time_for_children_of_a_process_that_unshared_time() {
    let x = support::spawn(
        support::Make::Fork,
        support::unshare(libc::CLONE_NEWTIME as u64),
    );
    let pid = x.pid as u32;
    let inum = ns_of(pid, "time_for_children");
    assert_ne!(inum, ns_of(pid, "time"));
    let holders = only_kind(
        &holders_of(NsType::Time, inum).unwrap(),
        HolderKind::TimeForChildren,
    );
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_eq!(holders[0].pid, Some(pid));
}

/// A pid namespace is held by its init (a task) and by the link of the
/// process that unshared it (pid_for_children), which stays outside.
#[test]
fn pid_for_children_of_a_process_that_unshared_pid() {
    let parent = support::spawn(support::Make::Fork, support::unshare_pid_with_init());
    let pid = parent.pid as u32;
    let inum = ns_of(pid, "pid_for_children");
    assert_ne!(inum, ns_of(pid, "pid"));
    let holders = holders_of(NsType::Pid, inum).unwrap();
    let by_parent: Vec<_> = holders
        .iter()
        .filter(|h| h.kind == HolderKind::PidForChildren)
        .collect();
    assert_eq!(by_parent.len(), 1, "{holders:?}");
    assert_eq!(by_parent[0].pid, Some(pid));
    assert!(
        holders
            .iter()
            .any(|h| h.kind == HolderKind::Task && h.pid != Some(pid)),
        "the init inside is not a task holder: {holders:?}"
    );
}

/// A proc mount pins the pid namespace it shows (proc_fill_super takes a
/// reference): mounted by the namespace's init onto a directory of ours.
#[test]
fn proc_mount_of_another_pid_namespace() {
    let target = MountTarget::dir("proc");
    let dst = target.c.clone();
    let proc_ = cstr("proc");
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two fds.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (rd, wr) = (fds[0], fds[1]);
    // The init mounts proc, then says so through the pipe; its parent
    // waits for that before reporting back.
    let parent = support::spawn(support::Make::Fork, move || {
        // SAFETY: async-signal-safe calls on prepared data.
        unsafe {
            if libc::unshare(libc::CLONE_NEWPID) != 0 {
                return support::errno();
            }
            let init = libc::fork();
            if init == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let ok: i32 = if libc::mount(
                    proc_.as_ptr(),
                    dst.as_ptr(),
                    proc_.as_ptr(),
                    0,
                    std::ptr::null(),
                ) == 0
                {
                    0
                } else {
                    support::errno()
                };
                libc::write(wr, (&ok as *const i32).cast(), 4);
                loop {
                    libc::pause();
                }
            }
            let mut ok = -1i32;
            if libc::read(rd, (&mut ok as *mut i32).cast(), 4) != 4 {
                return libc::EIO;
            }
            ok
        }
    });
    // SAFETY: our copies of the pipe.
    unsafe {
        libc::close(rd);
        libc::close(wr);
    }
    let inum = ns_of(parent.pid as u32, "pid_for_children");
    let holders = holders_of(NsType::Pid, inum).unwrap();
    let mounts: Vec<_> = holders
        .iter()
        .filter(|h| h.kind == HolderKind::ProcMount)
        .collect();
    assert_eq!(mounts.len(), 1, "{holders:?}");
    assert_eq!(mounts[0].path.as_deref(), Some(target.path.as_str()));
    assert_eq!(mounts[0].detail, Some(own_mnt()));
    drop(parent);
}

/// What is true of mqueue mounts on this kernel: they do not pin their ipc
/// namespace. The superblock keeps the namespace without a reference, and
/// the namespace's last put clears it (put_ipc_ns -> mq_clear_sbinfo,
/// ipc/namespace.c v6.18). So once the last task leaves, the namespace is
/// gone although the mount is still there: `why` finds nothing, and
/// creating a queue on the mount is refused (EACCES from
/// mqueue_create_attr, which finds no namespace behind the inode).
#[test]
fn an_mqueue_mount_does_not_hold_its_ipc_namespace() {
    let target = MountTarget::dir("mqueue");
    let x = spawn_private_mount(libc::CLONE_NEWIPC, "mqueue", &target, Some("mqueue"), 0);
    let inum = ns_of(x.pid(), "ipc");
    // While its task lives, the task is the only holder: no mqueue_mount.
    assert_eq!(kinds_of(NsType::Ipc, inum), ["task"]);
    let mnt_path = cstr(&format!("/proc/{}/ns/mnt", x.pid()));
    let keeper = spawn_with(move || dup_to(open_raw(&mnt_path)?, 9));
    let create = |name: &str| {
        std::process::Command::new("nsenter")
            .arg(format!("--mount=/proc/{}/fd/9", keeper.pid()))
            .args(["touch", &format!("{}/{name}", target.path)])
            .output()
            .expect("running nsenter")
    };
    let before = create("q1");
    assert!(
        before.status.success(),
        "a queue could not be made while the namespace lived: {}",
        String::from_utf8_lossy(&before.stderr)
    );
    x.kill();
    assert_no_task_in("ipc", inum);

    let inv = scan().unwrap();
    assert!(
        inv.get(NsRef::new(NsType::Ipc, inum)).is_none(),
        "ipc:[{inum}] outlived its last task: {:?}",
        inv.get(NsRef::new(NsType::Ipc, inum)).map(|n| &n.holders)
    );
    let after = create("q2");
    let err = String::from_utf8_lossy(&after.stderr);
    assert!(
        !after.status.success() && err.contains("Permission denied"),
        "the mqueue mount still reached its namespace: {err}"
    );
    keeper.kill();
}
