//! In the QEMU guest only (feature `vm-tests`), once per hook method
//! (NSTRACE_TEST_METHOD=fentry|kprobe): births, joins, evictions, net puts
//! and cleanup runs, deaths and inode reuse, each checked against what the
//! test made with raw syscalls. Every test first checks that the hooks it
//! relies on were attached with the method asked for, so a probe that
//! quietly failed to attach fails the test instead of passing it.

mod support;

use serde_json::Value;
use support::*;
use tracer_common::NsType;

/// Starts `nstrace trace --method M` and checks the header says every hook
/// in `hooks` got that method.
fn tracer(hooks: &[&str]) -> Tracer {
    let m = test_method();
    let tr = Tracer::start_with_header(&["--method", &m, "--no-scan"]);
    let header = tr.header().clone();
    for h in hooks {
        assert_eq!(
            header["methods"][h],
            m,
            "hook {h} is not on {m}: header {header}\nstderr:\n{}",
            tr.stderr()
        );
    }
    tr
}

fn mono(v: &Value) -> u64 {
    v["mono_ns"].as_u64().unwrap()
}

#[test]
fn births_of_every_type_by_unshare_clone_and_clone3() {
    let mut tr = tracer(&["unshare", "clone"]);
    for t in NsType::ALL {
        let child = spawn(Make::Fork, unshare_type(t));
        let inum = ns_inum(child.pid, ns_file(t));
        let ev = tr.expect(&format!("birth of {}:[{inum}]", t.name()), |v| {
            is(v, "birth", t, inum) && v["pid"] == child.pid
        });
        assert_eq!(ev["via"], "unshare", "{ev}");
    }
    let child = spawn(
        Make::Clone3(NsType::Net.clone_flag() | NsType::Uts.clone_flag()),
        || 0,
    );
    for t in [NsType::Net, NsType::Uts] {
        let inum = ns_inum(child.pid, t.name());
        let ev = tr.expect(&format!("{} birth by clone3", t.name()), |v| {
            is(v, "birth", t, inum) && v["child_pid"] == child.pid
        });
        assert_eq!(ev["via"], "clone3", "{ev}");
    }
    let child = spawn(Make::Clone(NsType::Ipc.clone_flag()), || 0);
    let inum = ns_inum(child.pid, "ipc");
    let ev = tr.expect("ipc birth by clone", |v| is(v, "birth", NsType::Ipc, inum));
    assert_eq!(
        (ev["via"].as_str(), ev["child_pid"].as_i64()),
        (Some("clone"), Some(child.pid as i64))
    );
}

/// The creator's cgroup rides on its births: a child moves itself into a
/// fresh cgroup (writing 0 to cgroup.procs moves the writer), then
/// unshares; the birth's `cgroup_id` is that cgroup's inode number, read
/// in the kernel from the fentry/kprobe hook by plain loads along
/// `task->cgroups->dfl_cgrp->kn->id` (what `bpf_get_current_cgroup_id`
/// reads), which each kernel's verifier must accept. /init mounts cgroup2
/// at /sys/fs/cgroup.
#[test]
fn births_carry_the_creators_cgroup() {
    let mut tr = tracer(&["unshare"]);
    let dir = format!("/sys/fs/cgroup/nstrace-vm-{}", std::process::id());
    let (child, id) = unshare_uts_in_cgroup(&dir);
    let inum = ns_inum(child.pid, "uts");
    let ev = tr.expect("the uts birth in the new cgroup", |v| {
        is(v, "birth", NsType::Uts, inum) && v["pid"] == child.pid
    });
    assert_eq!(ev["cgroup_id"], id, "{ev}");
    drop(child);
    remove_cgroup(&dir).unwrap_or_else(|e| panic!("rmdir {dir}: {e}"));
}

#[test]
fn setns_join_is_reported() {
    let mut tr = tracer(&["setns"]);
    let owner = spawn(Make::Fork, unshare(NsType::Net.clone_flag()));
    let target = ns_inum(owner.pid, "net");
    let joiner = spawn(
        Make::Fork,
        setns_path(&format!("/proc/{}/ns/net", owner.pid), 0),
    );
    assert_eq!(ns_inum(joiner.pid, "net"), target);
    let ev = tr.expect("the join", |v| {
        is(v, "join", NsType::Net, target) && v["pid"] == joiner.pid
    });
    assert_eq!(ev["via"], "setns");
}

#[test]
fn evict_only_for_a_namespace_whose_ns_file_was_opened() {
    let mut tr = tracer(&["nsfs_evict"]);
    assert_deaths_by(tr.header(), &[NsType::Uts], &test_method());
    let quiet = spawn(Make::Fork, unshare(NsType::Uts.clone_flag()));
    let quiet_inum = readlink_inum(quiet.pid, "uts");
    let opened = spawn(Make::Fork, unshare(NsType::Uts.clone_flag()));
    let opened_inum = readlink_inum(opened.pid, "uts");
    drop(std::fs::File::open(format!("/proc/{}/ns/uts", opened.pid)).unwrap());
    tr.expect("evict after the open ns file was closed", |v| {
        is(v, "evict", NsType::Uts, opened_inum)
    });
    drop(quiet);
    drop(opened);
    tr.expect("death of the never-opened one", |v| {
        is(v, "death", NsType::Uts, quiet_inum)
    });
    tr.expect("death of the opened one", |v| {
        is(v, "death", NsType::Uts, opened_inum)
    });
    // Both deaths came after any evict of the quiet one would have.
    let evicts = tr.received(|v| is(v, "evict", NsType::Uts, quiet_inum));
    assert!(
        evicts.is_empty(),
        "evict for a namespace nobody opened: {evicts:?}"
    );
}

#[test]
fn net_put_then_cleanup_start_then_death_then_cleanup_end() {
    let mut tr = tracer(&["put_net", "cleanup_net"]);
    assert_deaths_by(tr.header(), &[NsType::Net], &test_method());
    let child = spawn(Make::Fork, unshare(NsType::Net.clone_flag()));
    let inum = readlink_inum(child.pid, "net");
    drop(child);
    let put = tr.expect("put", |v| is(v, "put", NsType::Net, inum));
    let in_batch = |v: &Value| {
        v["inums"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i == inum))
    };
    let start = tr.expect("cleanup_start with the net", |v| {
        v["event"] == "cleanup_start" && in_batch(v)
    });
    let death = tr.expect("death", |v| is(v, "death", NsType::Net, inum));
    let end = tr.expect("cleanup_end with the net", |v| {
        v["event"] == "cleanup_end" && in_batch(v)
    });
    assert!(
        mono(&put) <= mono(&start) && mono(&start) <= mono(&death) && mono(&death) <= mono(&end),
        "out of order: put {put}\nstart {start}\ndeath {death}\nend {end}"
    );
    assert_eq!(start["batch"], end["batch"]);
    assert!(death["lifetime_ns"].as_u64().unwrap() > 0, "{death}");
    assert!(
        start["delays_ns"].as_array().is_some_and(|d| !d.is_empty()),
        "{start}"
    );
}

#[test]
fn nets_put_together_share_one_cleanup_run() {
    let mut tr = tracer(&["put_net", "cleanup_net"]);
    assert_deaths_by(tr.header(), &[NsType::Net], &test_method());
    // One child makes three nets and holds the first two by fd: its exit
    // puts all three back to back.
    let paths: Vec<std::ffi::CString> = (0..2)
        .map(|_| std::ffi::CString::new("/proc/self/ns/net").unwrap())
        .collect();
    let child = spawn(Make::Fork, move || {
        for p in &paths {
            // SAFETY: async-signal-safe calls only.
            unsafe {
                if libc::unshare(libc::CLONE_NEWNET) != 0 {
                    return errno();
                }
                if libc::open(p.as_ptr(), libc::O_RDONLY) < 0 {
                    return errno();
                }
            }
        }
        unshare(NsType::Net.clone_flag())()
    });
    let mut inums: Vec<u32> = std::fs::read_dir(format!("/proc/{}/fd", child.pid))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let s = l.to_string_lossy().into_owned();
            s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect();
    inums.push(readlink_inum(child.pid, "net"));
    assert_eq!(
        inums.len(),
        3,
        "the child should hold three nets: {inums:?}"
    );
    drop(child);
    for &n in &inums {
        tr.expect("put", |v| is(v, "put", NsType::Net, n));
    }
    for &n in &inums {
        tr.expect("death", |v| is(v, "death", NsType::Net, n));
    }
    // The run that freed them: its end lists the nets that died in it.
    tr.expect("a cleanup_end listing two of the nets", |v| {
        v["event"] == "cleanup_end"
            && v["inums"]
                .as_array()
                .is_some_and(|a| a.iter().filter(|i| inums.iter().any(|n| *i == *n)).count() >= 2)
    });
}

#[test]
fn a_reused_inode_number_is_two_lifetimes() {
    let mut tr = tracer(&["unshare"]);
    assert_deaths_by(tr.header(), &[NsType::Uts], &test_method());
    // The IDA hands out the lowest free number, so the second uts made
    // right after the first died usually gets its number. Others may take
    // it in between; try a few times.
    for _ in 0..5 {
        let first = spawn(Make::Fork, unshare(NsType::Uts.clone_flag()));
        let n = readlink_inum(first.pid, "uts");
        drop(first);
        tr.expect("first death", |v| is(v, "death", NsType::Uts, n));
        let second = spawn(Make::Fork, unshare(NsType::Uts.clone_flag()));
        if readlink_inum(second.pid, "uts") != n {
            continue;
        }
        let death = tr.expect("death of the first", |v| is(v, "death", NsType::Uts, n));
        let gen = death["gen"].as_u64().expect("a death has a gen");
        // The second lifetime of the number is the next generation.
        tr.expect("the second birth, one generation on", |v| {
            is(v, "birth", NsType::Uts, n) && v["gen"].as_u64() == Some(gen + 1)
        });
        return;
    }
    panic!("the uts inode number was never reused in five tries");
}

#[test]
fn probe_lists_the_method_for_every_kprobe_or_fentry_hook() {
    let m = test_method();
    let v = probe_json(&["--method", &m]);
    let hooks = v["hooks"].as_array().unwrap();
    let method_of = |name: &str| {
        hooks
            .iter()
            .find(|h| h["hook"] == name)
            .unwrap_or_else(|| panic!("probe lists no hook {name}: {v}"))["method"]
            .clone()
    };
    // 6.18 and later free every type through __ns_common_free; before, each
    // type has its own hook, and the kernel has no __ns_common_free.
    let common = kernel_has_ns_common_free();
    let per_type: Vec<&str> = NsType::ALL
        .iter()
        .map(|&t| per_type_death_hook(t))
        .collect();
    for h in hooks {
        let name = h["hook"].as_str().unwrap();
        match name {
            // Only a tracepoint sees exec; forcing another method leaves it
            // missing, and probe must say so.
            "exec" => assert_eq!(h["method"], "missing"),
            // The tracepoint fallback stays out when the exact hooks work.
            "workqueue" => assert_eq!(h["method"], "not needed", "{h}"),
            "ns_common_free" if !common => assert_eq!(h["method"], "missing", "{h}"),
            _ if per_type.contains(&name) && common => {
                assert_eq!(h["method"], "not needed", "{h}")
            }
            _ => assert_eq!(h["method"], m.as_str(), "{name}: {h}"),
        }
    }
    assert_eq!(
        method_of("ns_common_free") == m.as_str(),
        common,
        "ns_common_free in use exactly when the kernel has __ns_common_free"
    );
    for d in v["deaths"].as_array().unwrap() {
        assert_eq!(d["coverage"], "exact", "{d}");
    }
}
