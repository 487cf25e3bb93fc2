//! `nstrace trace` on this host's kernel (tracepoints only): every type's
//! birth by unshare, clone and clone3, joins by setns, and time namespaces
//! entered at fork and exec. Each test makes the namespace itself with raw
//! syscalls and checks the event against the inode read back from
//! /proc/PID/ns. Run as root (`cargo xtask test` does).

mod support;

use serde_json::Value;
use support::*;
use tracer_common::NsType;

fn our_pid() -> i32 {
    std::process::id() as i32
}

/// The owner a new namespace of type `t` in `pid` reports: its user
/// namespace, or for a user namespace its parent (`parent_of`).
fn check_owner(ev: &Value, t: NsType, pid: i32, parent_of: i32) {
    let expected = if t == NsType::User {
        ns_inum(parent_of, "user")
    } else {
        ns_inum(pid, "user")
    };
    assert_eq!(ev["owner"], expected, "owner of {ev}");
    match t {
        NsType::User => assert_eq!(ev["parent"], ns_inum(parent_of, "user"), "parent of {ev}"),
        NsType::Pid => assert_eq!(ev["parent"], ns_inum(parent_of, "pid"), "parent of {ev}"),
        _ => assert!(
            ev.get("parent").is_none(),
            "{} has no parent: {ev}",
            t.name()
        ),
    }
}

fn birth_by_unshare(t: NsType) {
    let mut tr = Tracer::start(&[]);
    let child = spawn(Make::Fork, unshare_type(t));
    let inum = ns_inum(child.pid, ns_file(t));
    assert_ne!(
        inum,
        ns_inum(our_pid(), ns_file(t)),
        "unshare made no new {}",
        t.name()
    );
    let ev = tr.expect(&format!("birth of {}:[{inum}] by unshare", t.name()), |v| {
        is(v, "birth", t, inum) && v["pid"] == child.pid
    });
    assert_eq!(ev["via"], "unshare");
    assert_eq!(ev["tid"], child.pid);
    assert_eq!(
        ev["flags"].as_u64().unwrap() & t.clone_flag(),
        t.clone_flag()
    );
    check_owner(&ev, t, child.pid, our_pid());
}

fn birth_by_clone(t: NsType, clone3: bool) {
    let mut tr = Tracer::start(&[]);
    let make = if clone3 {
        Make::Clone3(t.clone_flag())
    } else {
        Make::Clone(t.clone_flag())
    };
    let child = spawn(make, || 0);
    let inum = ns_inum(child.pid, ns_file(t));
    assert_ne!(inum, ns_inum(our_pid(), ns_file(t)));
    let via = if clone3 { "clone3" } else { "clone" };
    let ev = tr.expect(&format!("birth of {}:[{inum}] by {via}", t.name()), |v| {
        is(v, "birth", t, inum) && v["child_pid"] == child.pid
    });
    assert_eq!(ev["via"], via);
    assert_eq!(ev["pid"], our_pid(), "the cloning process is ours");
    assert_eq!(ev["child_tid"], child.pid);
    check_owner(&ev, t, child.pid, our_pid());
}

fn join_by_setns(t: NsType) {
    let mut tr = Tracer::start(&[]);
    let owner = spawn(Make::Fork, unshare_type(t));
    let target = ns_inum(owner.pid, ns_file(t));
    let path = format!("/proc/{}/ns/{}", owner.pid, ns_file(t));
    let joiner = spawn(Make::Fork, setns_path(&path, t.clone_flag()));
    assert_eq!(
        ns_inum(joiner.pid, ns_file(t)),
        target,
        "setns did not move the child"
    );
    let ev = tr.expect(&format!("join of {}:[{target}] by setns", t.name()), |v| {
        is(v, "join", t, target) && v["pid"] == joiner.pid
    });
    assert_eq!(ev["via"], "setns");
    assert_eq!(ev["flags"], t.clone_flag());
}

macro_rules! per_type {
    ($f:ident, $($name:ident: $t:expr),* $(,)?) => {
        $(#[test] fn $name() { $f($t) })*
    };
}

per_type!(birth_by_unshare,
    unshare_mnt: NsType::Mnt, unshare_uts: NsType::Uts, unshare_ipc: NsType::Ipc,
    unshare_pid: NsType::Pid, unshare_net: NsType::Net, unshare_user: NsType::User,
    unshare_cgroup: NsType::Cgroup, unshare_time: NsType::Time);

per_type!(join_by_setns,
    setns_mnt: NsType::Mnt, setns_uts: NsType::Uts, setns_ipc: NsType::Ipc,
    setns_pid: NsType::Pid, setns_net: NsType::Net, setns_user: NsType::User,
    setns_cgroup: NsType::Cgroup, setns_time: NsType::Time);

fn clone2(t: NsType) {
    birth_by_clone(t, false)
}
fn clone3(t: NsType) {
    birth_by_clone(t, true)
}

// clone(2) has no CLONE_NEWTIME: 0x80 lies in its exit-signal byte. Time
// namespaces come from clone3 and unshare only.
per_type!(clone2,
    clone_mnt: NsType::Mnt, clone_uts: NsType::Uts, clone_ipc: NsType::Ipc,
    clone_pid: NsType::Pid, clone_net: NsType::Net, clone_user: NsType::User,
    clone_cgroup: NsType::Cgroup);

per_type!(clone3,
    clone3_mnt: NsType::Mnt, clone3_uts: NsType::Uts, clone3_ipc: NsType::Ipc,
    clone3_pid: NsType::Pid, clone3_net: NsType::Net, clone3_user: NsType::User,
    clone3_cgroup: NsType::Cgroup, clone3_time: NsType::Time);

#[test]
fn time_namespace_entered_at_exec() {
    let mut tr = Tracer::start(&[]);
    let child = spawn_then_exec(unshare(NsType::Time.clone_flag()), &["/bin/sleep", "60"]);
    let inum = ns_inum(child.pid, "time");
    assert_ne!(
        inum,
        ns_inum(our_pid(), "time"),
        "exec did not enter the new time namespace"
    );
    tr.expect("birth of the time namespace by unshare", |v| {
        is(v, "birth", NsType::Time, inum) && v["pid"] == child.pid
    });
    let ev = tr.expect("join of the time namespace at exec", |v| {
        is(v, "join", NsType::Time, inum) && v["pid"] == child.pid
    });
    assert_eq!(ev["via"], "exec");
}

#[test]
fn time_namespace_entered_at_fork() {
    let mut tr = Tracer::start(&[]);
    // The parent unshares time (it stays outside), then forks: the
    // grandchild is born inside, and reports its pid through a pipe.
    let mut fds = [0i32; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let wr = fds[1];
    let parent = spawn(Make::Fork, move || {
        if let e @ 1.. = unshare(NsType::Time.clone_flag())() {
            return e;
        }
        // SAFETY: async-signal-safe calls only.
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                loop {
                    libc::pause();
                }
            }
            libc::write(wr, (&pid as *const i32).cast(), 4);
        }
        0
    });
    unsafe { libc::close(wr) };
    let mut buf = [0u8; 4];
    let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), 4) };
    assert_eq!(n, 4, "no grandchild pid");
    let grandchild = Child {
        pid: i32::from_ne_bytes(buf),
    };
    let inum = ns_inum(grandchild.pid, "time");
    assert_eq!(inum, ns_inum(parent.pid, "time_for_children"));
    assert_ne!(inum, ns_inum(parent.pid, "time"));
    let ev = tr.expect("join of the time namespace at fork", |v| {
        is(v, "join", NsType::Time, inum) && v["child_pid"] == grandchild.pid
    });
    assert_eq!(ev["pid"], parent.pid);
    assert_eq!(ev["via"], "fork");
}

#[test]
fn type_and_pid_filters_keep_only_what_was_asked() {
    let mut tr = Tracer::start(&["--types", "uts"]);
    let a = spawn(
        Make::Fork,
        unshare(NsType::Net.clone_flag() | NsType::Uts.clone_flag()),
    );
    let uts = ns_inum(a.pid, "uts");
    tr.expect("the uts birth", |v| is(v, "birth", NsType::Uts, uts));
    tr.barrier();
    let others = tr.received(|v| v["event"] == "birth" && v["type"] != "uts");
    assert!(others.is_empty(), "--types uts let through {others:?}");
    drop(tr);

    // --pid follows a process and its descendants, and nothing else. The
    // followed shell waits for a line, then runs `unshare -u sleep 2`: a
    // child made by a plain fork, found through its parent chain.
    let mut q = std::process::Command::new("sh")
        .args(["-c", "read go; unshare -u sleep 2"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let q_pid = q.id();
    let mut tr = Tracer::start(&["--pid", &q_pid.to_string()]);
    // Not a descendant of q: made first, so it would be released first.
    let stranger = spawn(Make::Fork, unshare(NsType::Uts.clone_flag()));
    let stranger_uts = ns_inum(stranger.pid, "uts");
    std::io::Write::write_all(&mut q.stdin.take().unwrap(), b"go\n").unwrap();
    let wanted = tr.expect("the uts birth by q's child", |v| {
        v["event"] == "birth" && v["type"] == "uts" && v["comm"] == "unshare"
    });
    let child = wanted["pid"].as_u64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap();
    let ppid: u32 = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, q_pid, "the birth is by q's child");
    assert_eq!(wanted["inum"], ns_inum(child as i32, "uts"));
    // Everything released up to the wanted birth: the stranger's birth
    // came before it, so it would be among these.
    let unwanted = tr.all(std::time::Duration::ZERO, |v| {
        v["event"] != "header" && v["pid"] != child
    });
    assert!(
        unwanted.is_empty(),
        "--pid {q_pid} let through {unwanted:?} (stranger uts:[{stranger_uts}])"
    );
    q.wait().unwrap();
}

#[test]
fn sigint_detaches_every_program_and_prints_the_summary() {
    // One program per place probe says a hook attaches to on this kernel.
    let attached: usize = probe_json(&[])["hooks"]
        .as_array()
        .expect("probe JSON lists hooks")
        .iter()
        .map(|h| h["attached"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(attached > 0, "probe attaches nothing on this kernel");
    let tr = Tracer::start(&[]);
    let pid = tr.child_id();
    let ids = bpf_prog_ids(pid);
    assert!(
        ids.len() >= attached,
        "expected the tracer to hold its {attached} programs, found {ids:?}"
    );
    let (status, stderr) = tr.stop();
    assert!(status.success(), "nstrace exited with {status}: {stderr}");
    let alive: Vec<u32> = ids.into_iter().filter(|&id| bpf_prog_exists(id)).collect();
    assert!(
        alive.is_empty(),
        "programs still loaded after SIGINT: {alive:?}"
    );
    assert!(
        stderr.contains("events in"),
        "no summary on stderr: {stderr}"
    );
    assert!(stderr.contains("0 lost"), "{stderr}");
}

#[test]
fn comm_with_terminal_escapes_is_escaped() {
    let mut tr = Tracer::start(&[]);
    let name = std::ffi::CString::new("\x1b[31mevil").unwrap();
    let child = spawn(Make::Fork, move || {
        // SAFETY: prctl(PR_SET_NAME) with a NUL-terminated name.
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
        unshare(NsType::Uts.clone_flag())()
    });
    let inum = ns_inum(child.pid, "uts");
    let ev = tr.expect("the uts birth", |v| {
        is(v, "birth", NsType::Uts, inum) && v["pid"] == child.pid
    });
    assert_eq!(ev["comm"], "\\x1b[31mevil");
}

#[test]
fn a_ring_of_two_pages_is_read_lap_after_lap() {
    // 64 records fit in 8 KiB: 200 births lap it three times. The reader
    // maps the data pages once (pipeline/ring_reader.rs), so every lap
    // reads the same pages again at offsets it computes itself.
    let mut tr = Tracer::start(&["--buffer-kib", "8", "--types", "uts"]);
    let mut made = Vec::new();
    for _ in 0..200 {
        let child = spawn(Make::Fork, unshare(NsType::Uts.clone_flag()));
        made.push((child.pid, ns_inum(child.pid, "uts")));
        // Slower than the 100 ms drain empties 64 records.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    tr.barrier();
    let births = tr.received(|v| v["event"] == "birth");
    let lost: u64 = tr
        .received(|v| v["event"] == "lost")
        .iter()
        .map(|v| v["count"].as_u64().unwrap())
        .sum();
    let mut missing = 0;
    for (pid, inum) in &made {
        match births.iter().find(|v| v["pid"] == *pid) {
            Some(v) => assert_eq!(v["inum"], *inum, "the birth by {pid}: {v}"),
            None => missing += 1,
        }
    }
    assert!(
        missing as u64 <= lost,
        "{missing} of 200 births neither arrived nor were reported lost ({lost})"
    );
    assert!(
        made.len() - missing > 128,
        "only {} of 200 births arrived (lost {lost}): too few to lap the ring twice",
        made.len() - missing
    );
    let (status, stderr) = tr.stop();
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("malformed"), "{stderr}");
}

/// The cgroup2 mount point, from our mountinfo (this host mounts it at
/// /sys/fs/cgroup/unified beside the v1 hierarchies).
fn cgroup2_mount() -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (right.split(' ').next() == Some("cgroup2"))
            .then(|| left.split(' ').nth(4).map(String::from))?
    })
}

#[test]
fn births_carry_the_creators_unified_cgroup() {
    // A child moves itself into a fresh cgroup2 directory, then unshares:
    // the birth's cgroup_id, read in the kernel with plain loads along
    // task->cgroups->dfl_cgrp->kn->id, is that directory's inode number.
    let Some(mount) = cgroup2_mount() else {
        panic!("no cgroup2 hierarchy is mounted: mount one to run this test");
    };
    let mut tr = Tracer::start(&["--types", "uts"]);
    let dir = format!("{mount}/nstrace-host-{}", std::process::id());
    let (child, id) = unshare_uts_in_cgroup(&dir);
    let inum = ns_inum(child.pid, "uts");
    let ev = tr.expect("the uts birth in the new cgroup", |v| {
        is(v, "birth", NsType::Uts, inum) && v["pid"] == child.pid
    });
    drop(child);
    let removed = remove_cgroup(&dir);
    assert_eq!(ev["cgroup_id"], id, "{ev}");
    removed.unwrap_or_else(|e| panic!("rmdir {dir}: {e}"));
}
