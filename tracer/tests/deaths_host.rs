//! Deaths on this host's kernel, which has tracepoints only: what `probe`
//! claims per type is what `trace` delivers. On a kernel with kprobes or
//! fentry every type is exact (the VM tests cover that); here net, user and
//! (6.18+) pid deaths are seen late through workqueue and kmem tracepoints,
//! and the rest not at all.

mod support;

use std::{collections::HashMap, time::Duration};

use support::*;
use tracer_common::NsType;

/// Type → coverage, from `nstrace probe --json`.
fn coverage() -> HashMap<String, String> {
    let v = probe_json(&[]);
    v["deaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["type"].as_str().unwrap().to_string(),
                d["coverage"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has_symbol(name: &str) -> bool {
    std::fs::read_to_string("/proc/kallsyms")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some(name))
}

#[test]
fn probe_states_death_coverage_for_every_type() {
    let cov = coverage();
    assert_eq!(cov.len(), 8, "{cov:?}");
    if cov.values().all(|c| c == "exact") {
        return; // a kernel with kprobes or fentry: the VM tests cover it
    }
    assert_eq!(cov["net"], "late");
    assert_eq!(cov["user"], "late");
    let pid = if has_symbol("destroy_pid_namespace_work") {
        "late"
    } else {
        "not visible"
    };
    assert_eq!(cov["pid"], pid);
    for t in ["mnt", "uts", "ipc", "cgroup", "time"] {
        assert_eq!(cov[t], "not visible", "{t}");
    }
}

fn expect_late_death(t: NsType) {
    if coverage()[t.name()] != "late" {
        return; // exact here: covered by the VM tests
    }
    let mut tr = Tracer::start(&["--no-scan"]);
    let child = spawn(Make::Fork, unshare_type(t));
    let inum = readlink_inum(child.pid, ns_file(t));
    drop(child);
    let d = tr.expect(&format!("late death of {}:[{inum}]", t.name()), |v| {
        is(v, "death", t, inum)
    });
    assert_eq!(d["exact"], false, "a death seen late must say so: {d}");
    assert_eq!(d["gen"], 1, "{d}");
}

#[test]
fn user_death_is_seen_late() {
    expect_late_death(NsType::User);
}

#[test]
fn pid_death_is_seen_late_where_the_kernel_frees_it_from_a_work_item() {
    expect_late_death(NsType::Pid);
}

#[test]
fn net_death_is_seen_late_and_cleanup_runs_are_bracketed() {
    if coverage()["net"] != "late" {
        return;
    }
    let mut tr = Tracer::start(&["--no-scan"]);
    let first = spawn(Make::Fork, unshare(NsType::Net.clone_flag()));
    let inum = readlink_inum(first.pid, "net");
    drop(first);
    // The struct is freed in a cleanup run, sometimes a later one: make
    // more nets die until it shows.
    let mut death = None;
    for _ in 0..10 {
        let found = tr.all(Duration::from_millis(700), |v| {
            is(v, "death", NsType::Net, inum)
        });
        if let Some(d) = found.into_iter().next() {
            death = Some(d);
            break;
        }
        drop(spawn(Make::Fork, unshare(NsType::Net.clone_flag())));
    }
    let death =
        death.unwrap_or_else(|| panic!("no death for net:[{inum}]; stderr: {}", tr.stderr()));
    assert_eq!(death["exact"], false, "{death}");
    let start = tr.expect("a cleanup run start", |v| v["event"] == "cleanup_start");
    let end = tr.expect("the end of that run", |v| {
        v["event"] == "cleanup_end" && v["batch"] == start["batch"]
    });
    assert!(end["duration_ns"].as_u64().is_some(), "{end}");
}
