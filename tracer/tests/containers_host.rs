//! Whose namespace is it, against real runtimes on this host: runc, crun,
//! podman, docker and systemd-nspawn each start a container from a local
//! busybox-static rootfs while `nstrace trace` runs. The births must carry
//! the container's id, name and runtime, and be the namespaces the
//! container's init is in (read back from /proc); `why` and `ls` must name
//! the container; `report` must put what it created on one line. A runtime
//! this machine cannot run is skipped with the reason printed, and
//! `at_least_three_runtimes_run_here` makes sure skipping cannot hollow
//! the test out. `nstrace agent` runs the same pipeline, and its log must
//! name the container too. Run as root, under the host lock (`cargo xtask
//! test`).

mod agent_support;
#[path = "support/runtimes.rs"]
mod runtimes;
mod support;

use std::io::Write as _;
use std::time::Duration;

use runtimes::{Kind, Running};
use serde_json::Value;
use support::*;
use tracer_common::NsType;

fn nstrace(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(nstrace_bin())
        .args(args)
        .output()
        .expect("running nstrace");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Starts `kind`'s container under a tracer and checks everything nstrace
/// says about it. `false` if this machine cannot run `kind`.
fn check(kind: Kind) -> bool {
    assert!(
        root(),
        "the container tests need root: run `cargo xtask test`"
    );
    let mut tr = Tracer::start(&[]);
    let c = match runtimes::start(kind, "ctr") {
        Ok(c) => c,
        Err(why) => {
            eprintln!("skipped {}: {why}", kind.runtime());
            return false;
        }
    };
    let births = births_of(&mut tr, &c);
    check_births(&c, &births);
    check_why_and_ls(&c);
    check_report(&tr, &c);
    true
}

/// Every birth naming the container, once one of each expected type came.
fn births_of(tr: &mut Tracer, c: &Running) -> Vec<Value> {
    for t in &c.types {
        tr.expect(
            &format!("a {} birth in container {}", t.name(), c.id),
            |v| {
                v["event"] == "birth"
                    && v["type"] == t.name()
                    && v["container"]["id"] == c.id.as_str()
            },
        );
    }
    tr.all(Duration::from_millis(500), |v| {
        v["event"] == "birth" && v["container"]["id"] == c.id.as_str()
    })
}

fn check_births(c: &Running, births: &[Value]) {
    for b in births {
        let ctr = &b["container"];
        assert_eq!(ctr["runtime"], c.kind.runtime(), "{b}");
        match &c.name {
            Some(n) => assert_eq!(ctr["name"], n.as_str(), "{b}"),
            None => assert!(ctr.get("name").is_none(), "{b}"),
        }
        if let Some(image) = &c.image {
            assert_eq!(ctr["image"], image.as_str(), "{b}");
        }
    }
    // They are the namespaces the container's init is in.
    for &t in &c.types {
        let file = if t == NsType::Pid { "pid" } else { t.name() };
        let inum = readlink_inum(c.init_pid, file);
        let b = births
            .iter()
            .find(|b| b["type"] == t.name() && b["inum"] == inum)
            .unwrap_or_else(|| {
                panic!(
                    "no birth of the init's {}:[{inum}] names {}; births: {births:#?}",
                    t.name(),
                    c.id
                )
            });
        if c.helper_births {
            assert_eq!(b["comm"], "runc:[1:CHILD]", "{b}");
            assert_eq!(
                b["init_pid"], c.init_pid,
                "the helper's birth names the init: {b}"
            );
            // The init's name once it exec'd the container's command; a
            // runtime that had not started it within the resolver's wait
            // (docker on a loaded host) leaves it in runc's init stage.
            // Either way it is the init's own name, never the helper's.
            match b["init_comm"].as_str() {
                Some("sleep") => {}
                Some("runc:[2:INIT]") => eprintln!("note: {} had not exec'd yet: {b}", c.init_pid),
                _ => panic!("init_comm is neither sleep nor runc:[2:INIT]: {b}"),
            }
        }
        if t == NsType::Net {
            if let Some(dir) = c.net_dir {
                let name = b["net_name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no net_name: {b}"));
                assert!(name.starts_with(dir), "{b}");
                assert!(
                    std::fs::metadata(name).is_ok_and(|m| {
                        std::os::unix::fs::MetadataExt::ino(&m) == u64::from(inum)
                    }),
                    "{name} is not the bind mount of net:[{inum}]"
                );
            }
        }
    }
}

fn check_why_and_ls(c: &Running) {
    let pid_ns = readlink_inum(c.init_pid, "pid");
    let (code, out, err) = nstrace(&["why", &format!("pid:[{pid_ns}]")]);
    assert_eq!(code, 0, "why: {err}");
    let said = format!("pid {} (sleep) container {}", c.init_pid, c.label());
    assert!(out.contains(&said), "why does not say {said:?}:\n{out}");
    let (code, out, err) = nstrace(&["ls", "--json", "-t", "pid"]);
    assert_eq!(code, 0, "ls: {err}");
    let v: Value = serde_json::from_str(out.trim()).expect("ls --json is JSON");
    let row = v["namespaces"]
        .as_array()
        .expect("ls --json has namespaces")
        .iter()
        .find(|r| r["inum"] == pid_ns)
        .unwrap_or_else(|| panic!("ls has no pid:[{pid_ns}]: {out}"));
    assert_eq!(row["container"]["id"], c.id.as_str(), "{row}");
}

/// The trace so far as a log file, through `report`.
fn check_report(tr: &Tracer, c: &Running) {
    let path = std::env::temp_dir().join(format!(
        "nstrace-containers-{}-{}.jsonl",
        c.kind.runtime(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "{}", tr.header()).unwrap();
    for v in tr.seen() {
        writeln!(f, "{v}").unwrap();
    }
    drop(f);
    let p = path.to_str().unwrap();
    let (_, out, err) = nstrace(&["report", p]);
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{}:", c.label())))
        .unwrap_or_else(|| panic!("report has no line for {}:\n{out}\n{err}", c.label()));
    for t in &c.types {
        assert!(
            line.split([' ', ',', ':'])
                .any(|w| w == t.name() || w.starts_with(&format!("{}×", t.name()))),
            "{line}"
        );
    }
    let (_, only, _) = nstrace(&["report", "--container", &c.id[..c.id.len().min(12)], p]);
    let lines: Vec<&str> = only
        .lines()
        .skip_while(|l| !l.starts_with("Namespaces by container"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert_eq!(
        lines,
        [line],
        "report --container keeps only {}:\n{only}",
        c.id
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn runc_containers_are_named() {
    check(Kind::Runc);
}

#[test]
fn crun_containers_are_named() {
    check(Kind::Crun);
}

#[test]
fn podman_containers_are_named() {
    check(Kind::Podman);
}

#[test]
fn docker_containers_are_named() {
    check(Kind::Docker);
}

#[test]
fn nspawn_machines_are_named() {
    check(Kind::Nspawn);
}

/// Skipping a runtime must not let this file pass with almost nothing
/// checked: on this project's hosts at least three run.
#[test]
fn at_least_three_runtimes_run_here() {
    assert!(
        root(),
        "the container tests need root: run `cargo xtask test`"
    );
    let mut ran = Vec::new();
    for kind in Kind::ALL {
        match runtimes::start(kind, "count") {
            Ok(c) => {
                assert!(
                    std::path::Path::new(&format!("/proc/{}", c.init_pid)).exists(),
                    "{} reported init {} that does not exist",
                    kind.runtime(),
                    c.init_pid
                );
                ran.push(kind.runtime());
            }
            Err(why) => eprintln!("{} cannot run here: {why}", kind.runtime()),
        }
    }
    eprintln!("runtimes that ran: {ran:?}");
    assert!(ran.len() >= 3, "only {ran:?} ran; at least three must");
}

/// bubblewrap makes namespaces without a cgroup of its own or any state a
/// runtime keeps: nstrace must not invent a container for them.
#[test]
fn bubblewrap_sandboxes_claim_no_container() {
    assert!(
        root(),
        "the container tests need root: run `cargo xtask test`"
    );
    if runtimes::run("bwrap", &["--version"]).is_err() {
        eprintln!("skipped bubblewrap: bwrap is not installed");
        return;
    }
    let mut tr = Tracer::start(&[]);
    let child = spawn_then_exec(
        || 0,
        &[
            "/usr/bin/bwrap",
            "--unshare-all",
            "--dev-bind",
            "/",
            "/",
            "sleep",
            "1000",
        ],
    );
    let bwrap = child.pid;
    let b = tr.expect("a uts birth by bwrap", |v| {
        v["event"] == "birth" && v["type"] == "uts" && v["pid"] == bwrap
    });
    assert!(b.get("container").is_none(), "{b}");
    assert!(b["cgroup_id"].as_u64().is_some_and(|c| c > 0), "{b}");
    drop(child);
}

/// A v1-only host: the container's cgroup exists only on the v1
/// hierarchies (cgroup2 has everyone in the root). The record's v1 cgroup
/// id must still name it, and `why` too.
#[test]
fn a_v1_cgroup_names_the_container() {
    assert!(
        root(),
        "the container tests need root: run `cargo xtask test`"
    );
    let cg = match runtimes::V1OnlyCgroup::new() {
        Ok(cg) => cg,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let mut tr = Tracer::start(&[]);
    let script = format!(
        "echo $$ > '{}' && exec unshare -u sleep 1000",
        cg.procs.display()
    );
    let child = spawn_then_exec(|| 0, &["/bin/sh", "-c", &script]);
    let b = tr.expect("a uts birth in the v1-only cgroup", |v| {
        v["event"] == "birth" && v["type"] == "uts" && v["pid"] == child.pid
    });
    assert_eq!(b["container"]["id"], cg.id.as_str(), "{b}");
    assert_eq!(b["container"]["runtime"], "docker", "{b}");
    let uts = b["inum"].as_u64().unwrap();
    let (code, out, err) = nstrace(&["why", &format!("uts:[{uts}]")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("container {} (docker)", &cg.id[..12])),
        "{out}"
    );
    drop(child);
}

/// `ip netns add`: the birth carries the name once the bind mount exists.
#[test]
fn a_named_net_carries_its_name() {
    assert!(
        root(),
        "the container tests need root: run `cargo xtask test`"
    );
    let name = format!("nstrace-named-{}", std::process::id());
    let mut tr = Tracer::start(&[]);
    runtimes::run("ip", &["netns", "add", &name]).unwrap();
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = runtimes::run("ip", &["netns", "del", &self.0]);
        }
    }
    let _del = Del(name.clone());
    let path = format!("/run/netns/{name}");
    let inum = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
    let b = tr.expect("the birth of the named net", |v| {
        v["event"] == "birth" && v["type"] == "net" && v["inum"] == inum
    });
    assert_eq!(b["net_name"], path.as_str(), "{b}");
    assert_eq!(b["comm"], "ip", "{b}");
    assert!(b.get("container").is_none(), "{b}");
}

/// The agent runs the same pipeline as `trace`: the births in its log name
/// the container, and a runtime helper's the container's init.
#[test]
fn the_agents_log_names_the_container() {
    assert!(
        root(),
        "the container tests need root: run `cargo xtask test`"
    );
    let dir = agent_support::TempDir::new("containers-agent");
    let agent = agent_support::Agent::start(&dir.0, &[]);
    let c = Kind::ALL
        .into_iter()
        .find_map(|k| {
            runtimes::start(k, "agent")
                .map_err(|why| eprintln!("{} cannot run here: {why}", k.runtime()))
                .ok()
        })
        .expect("no container runtime runs here");
    let pid_ns = readlink_inum(c.init_pid, "pid");
    let birth = agent_support::wait_for(
        &format!("the agent's log to have the birth of pid:[{pid_ns}]"),
        Duration::from_secs(60),
        || {
            std::fs::read_to_string(&agent.log)
                .ok()?
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|v| v["event"] == "birth" && v["type"] == "pid" && v["inum"] == pid_ns)
        },
    );
    assert_eq!(birth["container"]["id"], c.id.as_str(), "{birth}");
    assert_eq!(birth["container"]["runtime"], c.kind.runtime(), "{birth}");
    if let Some(n) = &c.name {
        assert_eq!(birth["container"]["name"], n.as_str(), "{birth}");
    }
    if c.helper_births {
        assert_eq!(birth["init_pid"], c.init_pid, "{birth}");
    }
    drop(c);
    let (status, err) = agent.stop();
    assert!(status.success(), "{err}");
}
