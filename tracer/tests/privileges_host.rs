//! `nstrace trace` run as an unprivileged uid with only the capabilities
//! nstrace asks for (tracer::privileges, README "Privileges"): a real event
//! must still arrive, so the documented set is enough. Root (to hand the
//! capabilities over with setpriv); one test thread.

mod support;

use support::*;
use tracer::privileges::{LOAD, SCAN};
use tracer_common::NsType;

#[test]
fn trace_with_only_the_load_capabilities_reports_a_birth() {
    let copy = UnprivilegedCopy::new();
    let mut tr = Tracer::start_wrapped(&copy.as_nobody_with(&[LOAD]), &["--no-scan"]);
    let child = spawn(Make::Fork, unshare(NsType::Uts.clone_flag()));
    let inum = readlink_inum(child.pid, "uts");
    let ev = tr.expect("the uts birth", |v| {
        is(v, "birth", NsType::Uts, inum) && v["pid"] == child.pid
    });
    assert_eq!(ev["via"], "unshare");
    let (status, stderr) = tr.stop();
    assert!(status.success(), "{status}: {stderr}");
}

/// With the scan's capabilities too, the scan at start sees root's tasks:
/// the namespaces this (root) test runs in are `present` with more tasks
/// than nobody's own.
#[test]
fn trace_with_the_scan_capabilities_sees_other_users_tasks() {
    let copy = UnprivilegedCopy::new();
    let mut tr = Tracer::start_wrapped(&copy.as_nobody_with(&[LOAD, SCAN]), &[]);
    let ours = readlink_inum(std::process::id() as i32, "uts");
    let present = tr.expect("our uts namespace, present at start", |v| {
        is(v, "present", NsType::Uts, ours)
    });
    // This test's threads alone are more than the tracer's one process.
    assert!(
        present["tasks"].as_u64().unwrap() > 2,
        "the scan saw only its own tasks: {present}"
    );
    let child = spawn(Make::Fork, unshare(NsType::Uts.clone_flag()));
    let inum = readlink_inum(child.pid, "uts");
    tr.expect("the uts birth", |v| is(v, "birth", NsType::Uts, inum));
}

#[test]
fn trace_without_a_capability_names_it_and_the_fix() {
    let copy = UnprivilegedCopy::new();
    // Everything but CAP_SYSLOG, whose absence would silently zero the
    // kernel addresses the workqueue fallback needs.
    let mut argv = copy.as_nobody_with(&[LOAD]);
    for a in argv.iter_mut().filter(|a| a.contains("-caps=")) {
        *a = a.replace(",+syslog", "");
    }
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .args(["trace", "--no-scan"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("it lacks CAP_SYSLOG. Run it as root (sudo), or give the binary these capabilities: sudo setcap cap_bpf,cap_perfmon,cap_dac_read_search,cap_syslog+ep"),
        "{stderr}"
    );
}
