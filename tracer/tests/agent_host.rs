//! `nstrace agent` on this host's kernel: `why` through the socket with the
//! history of namespaces made while it runs, bad and non-root clients, a
//! storm with the socket in use, SIGHUP after a logrotate-style rename,
//! history across a restart, the systemd unit, and the metrics checked by
//! promtool and scraped by a real Prometheus. Run as root, one at a time
//! (`cargo xtask test` does).

mod agent_support;
mod discovery_support;

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    os::unix::{fs::PermissionsExt as _, net::UnixStream},
    process::Command,
    time::{Duration, Instant},
};

use agent_support::*;
use discovery_support::{check, cstr, dup_to, ns_of, open_raw, spawn_in, spawn_with, MountTarget};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(60);

/// The agent's answer once its history of `type:[inum]` satisfies `pred`.
fn why_when(
    agent: &Agent,
    ns_type: &str,
    inum: u32,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(what, LONG, || {
            last = agent.why(ns_type, inum);
            pred(&last).then(|| last.clone())
        })
    }));
    found.unwrap_or_else(|_| {
        panic!(
            "{what}: last answer {last}\nagent stderr:\n{}",
            agent.stderr()
        )
    })
}

/// Bind-mounts the net namespace of `pid` onto a file in /tmp, as `ip netns
/// add` does; unmounted when the target drops.
fn bind_netns(pid: u32, tag: &str) -> MountTarget {
    let target = MountTarget::new(tag);
    let src = cstr(&format!("/proc/{pid}/ns/net"));
    // SAFETY: NUL-terminated paths; a bind mount takes no data.
    check(unsafe {
        libc::mount(
            src.as_ptr(),
            target.c.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    })
    .expect("bind-mount the netns");
    target
}

#[test]
fn why_through_the_socket_names_the_birth_of_a_bind_mounted_and_an_fd_held_namespace() {
    let dir = TempDir::new("why");
    let agent = Agent::start(&dir.0, &["--linger-grace", "1", "--scan-interval", "0.2"]);
    let comm = thread_comm();

    // A net namespace held by a bind mount once its task is gone.
    let netns = spawn_in(libc::CLONE_NEWNET);
    let net = ns_of(netns.pid(), "net");
    let target = bind_netns(netns.pid(), "agent-why");
    // A uts namespace held by an fd of another process.
    let utsns = spawn_in(libc::CLONE_NEWUTS);
    let uts = ns_of(utsns.pid(), "uts");
    let path = cstr(&format!("/proc/{}/ns/uts", utsns.pid()));
    let keeper = spawn_with(move || dup_to(open_raw(&path)?, 5));
    let (net_pid, uts_pid) = (netns.pid(), utsns.pid());
    netns.kill();
    utsns.kill();

    for (ty, inum, pid) in [("net", net, net_pid), ("uts", uts, uts_pid)] {
        let h = why_when(&agent, ty, inum, &format!("{ty}:[{inum}] to linger"), |h| {
            !h["current"]["lingered"].is_null()
        });
        let cur = &h["current"];
        assert_eq!(cur["origin"], "born", "{h}");
        assert_eq!(cur["born_by"]["pid"], pid, "{h}");
        assert_eq!(cur["born_by"]["comm"], comm.as_str(), "{h}");
        assert_eq!(cur["born_by"]["via"], "unshare", "{h}");
        assert_eq!(cur["tasks"], 0, "{h}");
        assert!(
            cur["last_task_left"]["mono_ns"].as_u64().unwrap()
                >= cur["opened"]["mono_ns"].as_u64().unwrap()
        );
        assert!(cur["lingered"]["holders"].as_u64().unwrap() >= 1, "{h}");
    }

    // What a user sees: holders from the scan, history from the agent.
    let socket_path = agent.socket.clone();
    let socket = socket_path.to_str().unwrap();
    let out = Command::new(nstrace_bin())
        .args(["why", "--socket", socket, &target.path])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "verdict: held only by a bind mount at {}",
            target.path
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("by pid {net_pid} ({comm}) via unshare")),
        "{text}"
    );
    assert!(text.contains("lingered: reported"), "{text}");

    let spec = format!("uts:[{uts}]");
    let out = Command::new(nstrace_bin())
        .args(["why", "--json", "--socket", socket, &spec])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["holders"][0]["kind"], "fd", "{v}");
    assert_eq!(v["holders"][0]["pid"], keeper.pid());
    assert_eq!(v["history"]["current"]["born_by"]["pid"], uts_pid, "{v}");

    // Without an agent: as before, and it says there is no history.
    let out = Command::new(nstrace_bin())
        .args(["why", "--socket", "/nonexistent/nstrace.sock", &spec])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("held only by fd 5"), "{text}");
    assert!(
        text.contains("history: none available: no nstrace agent is running"),
        "{text}"
    );
    keeper.kill();
    let (status, err) = agent.stop();
    assert!(status.success(), "{err}");
    assert!(err.contains(" 0 lost"), "{err}");
    assert!(
        !std::path::Path::new(socket).exists(),
        "the socket was left behind"
    );
}

#[test]
fn garbage_huge_and_slow_requests_get_errors_while_others_are_served() {
    let dir = TempDir::new("bad");
    let agent = Agent::start(&dir.0, &[]);
    let v: Value = serde_json::from_str(&agent.ask_raw(b"hello agent\n")).unwrap();
    assert_eq!(v["ok"], false);
    assert!(
        v["error"].as_str().unwrap().starts_with("not a request"),
        "{v}"
    );
    let v = agent.ask(r#"{"request":"why","type":"netns","inum":1}"#);
    assert!(v["error"].as_str().unwrap().contains("netns"), "{v}");

    // Slow clients hold their connection without a word.
    let slow: Vec<UnixStream> = (0..3)
        .map(|_| UnixStream::connect(&agent.socket).unwrap())
        .collect();
    // A huge one, sent while they wait.
    let mut huge = UnixStream::connect(&agent.socket).unwrap();
    huge.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = huge.write_all(&vec![b'x'; 200 << 10]);
    let _ = huge.shutdown(std::net::Shutdown::Write);
    let mut answer = String::new();
    huge.read_to_string(&mut answer).unwrap();
    let v: Value = serde_json::from_str(&answer).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("larger than 65536"),
        "{v}"
    );
    // Others are answered meanwhile, at once.
    let t = Instant::now();
    let v = agent.ask(r#"{"request":"status"}"#);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["agent"]["pid"], agent.pid());
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "a slow client held up another"
    );
    // The slow ones are told why they were dropped.
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .starts_with("no complete request within 5 s"),
            "{v}"
        );
    }
    // More clients than it serves at once: the rest hear that it is busy.
    let hogs: Vec<UnixStream> = (0..16)
        .map(|_| UnixStream::connect(&agent.socket).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let v: Value = serde_json::from_str(&agent.ask_raw(b"{\"request\":\"status\"}\n")).unwrap();
    assert!(v["error"].as_str().unwrap().starts_with("busy"), "{v}");
    drop(hogs);
    let v = wait_for("the agent to serve again", LONG, || {
        let v: Value = serde_json::from_str(&agent.ask_raw(b"{\"request\":\"status\"}\n")).ok()?;
        (v["ok"] == true).then_some(v)
    });
    assert_eq!(v["agent"]["pid"], agent.pid());
}

#[test]
fn a_non_root_client_cannot_ask() {
    let dir = TempDir::new("nonroot");
    let agent = Agent::start(&dir.0, &[]);
    let socket = agent.socket.to_str().unwrap().to_string();
    let as_nobody = |socket: &str| {
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                nstrace_bin(),
                "why",
                "--socket",
                socket,
                "1",
            ])
            .output()
            .expect("setpriv (util-linux)");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // The socket's mode keeps nobody out.
    let err = as_nobody(&socket);
    assert!(
        err.contains("Permission denied") && err.contains("only root may ask the agent"),
        "{err}"
    );
    // With the modes opened up, SO_PEERCRED still does.
    std::fs::set_permissions(dir.0.join("run"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&agent.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = as_nobody(&socket);
    assert!(
        err.contains("permission denied: only root may ask the agent (you are uid 65534)"),
        "{err}"
    );
    // Root still can.
    assert_eq!(agent.ask(r#"{"request":"status"}"#)["ok"], true);
}

#[test]
fn the_agent_survives_a_storm_with_the_socket_in_use() {
    let dir = TempDir::new("storm");
    let agent = Agent::start(&dir.0, &[]);
    // Thousands a second, a rate the debug build's reader keeps up with
    // on a loaded two-CPU host: the reader's speed is the bench's to
    // measure (`cargo xtask bench agent`), not this test's.
    let (pid, go, done) = storm(8_000);
    let t = Instant::now();
    let mut answered = 0;
    while t.elapsed() < Duration::from_secs(4) {
        let v = agent.ask(r#"{"request":"status"}"#);
        assert_eq!(v["ok"], true, "{v}");
        let v = agent.ask(r#"{"request":"why","inum":4026531838}"#);
        assert_eq!(v["ok"], true, "{v}");
        answered += 2;
    }
    let made = end_storm(pid, go, done);
    assert!(made > 8_000, "the storm made only {made}");
    let v = wait_for("the storm's births in the agent's count", LONG, || {
        let v = agent.ask(r#"{"request":"status"}"#);
        (v["agent"]["records"].as_u64()? >= made).then_some(v)
    });
    assert_eq!(v["agent"]["lost"], 0, "{v}");
    assert!(answered > 10, "{answered} answers in 4 s");
    let (status, err) = agent.stop();
    assert!(status.success(), "{err}");
    let births = std::fs::read_to_string(dir.0.join("ns.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event\":\"birth\"") && l.contains(&format!("\"pid\":{pid},")))
        .count() as u64;
    assert_eq!(births, made, "births logged vs made");
}

#[test]
fn sighup_reopens_the_log_after_a_logrotate_style_rename() {
    let dir = TempDir::new("hup");
    let agent = Agent::start(&dir.0, &[]);
    let rotated = dir.0.join("ns.jsonl.old");
    std::fs::rename(&agent.log, &rotated).unwrap();
    agent.signal(libc::SIGHUP);
    wait_for("a new log file", LONG, || agent.log.exists().then_some(()));
    let x = spawn_in(libc::CLONE_NEWUTS);
    let inum = ns_of(x.pid(), "uts");
    let born = format!("\"event\":\"birth\",\"type\":\"uts\",\"inum\":{inum},");
    let log = wait_for("the birth in the new log", LONG, || {
        let text = std::fs::read_to_string(&agent.log).ok()?;
        text.contains(&born).then_some(text)
    });
    let first: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "header", "{log}");
    assert!(!std::fs::read_to_string(&rotated).unwrap().contains(&born));
    assert_eq!(
        agent.ask(r#"{"request":"status"}"#)["ok"],
        true,
        "SIGHUP ended it"
    );
    x.kill();
    let (status, err) = agent.stop();
    assert!(status.success(), "{err}");
}

#[test]
fn history_survives_a_restart() {
    let dir = TempDir::new("restart");
    let comm = thread_comm();
    let agent = Agent::start(&dir.0, &[]);
    // Kept alive across the restart by a bind mount.
    let kept = spawn_in(libc::CLONE_NEWNET);
    let net = ns_of(kept.pid(), "net");
    let _target = bind_netns(kept.pid(), "agent-restart");
    // Gone while no agent runs: held by a child killed after the stop.
    let gone = spawn_in(libc::CLONE_NEWIPC);
    let ipc = ns_of(gone.pid(), "ipc");
    let (kept_pid, gone_pid) = (kept.pid(), gone.pid());
    kept.kill();
    why_when(&agent, "net", net, "the net birth", |h| {
        h["current"]["born_by"]["pid"] == kept_pid
    });
    why_when(&agent, "ipc", ipc, "the ipc birth", |h| {
        h["current"]["born_by"]["pid"] == gone_pid
    });
    let (status, err) = agent.stop();
    assert!(status.success(), "{err}");
    gone.kill();
    discovery_support::assert_no_task_in("ipc", ipc);

    let agent = Agent::start(&dir.0, &[]);
    assert!(
        agent.stderr().contains("nstrace: history: "),
        "{}",
        agent.stderr()
    );
    let h = agent.why("net", net);
    let cur = &h["current"];
    assert_eq!(cur["carried_over"], true, "{h}");
    assert_eq!(cur["born_by"]["pid"], kept_pid, "{h}");
    assert_eq!(cur["born_by"]["comm"], comm.as_str(), "{h}");
    let h = why_when(&agent, "ipc", ipc, "the ipc namespace to be closed", |h| {
        h["current"].is_null()
    });
    let e = &h["earlier"][0];
    assert_eq!(e["born_by"]["pid"], gone_pid, "{h}");
    assert_eq!(e["ended"]["how"], "while_not_recording", "{h}");
    let v = agent.ask(r#"{"request":"status"}"#);
    assert_eq!(v["agent"]["runs"], 2, "{v}");
}

#[test]
fn the_systemd_unit_verifies_and_its_command_runs_and_stops() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dist/nstrace.service"
    ))
    .unwrap();
    let dir = TempDir::new("unit");
    let bin = nstrace_bin();
    let path = dir.0.join("nstrace.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/nstrace", bin)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze");
    assert!(
        out.status.success(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for needed in [
        "CapabilityBoundingSet=CAP_BPF CAP_PERFMON",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/log/nstrace",
        "RuntimeDirectory=nstrace",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed}");
    }
    // What ExecStart runs, with the log and socket moved to a temporary
    // directory (systemd is not PID 1 here).
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let socket = dir.0.join("run/nstrace.sock");
    let log = dir.0.join("log/nstrace.jsonl");
    let exec = exec
        .replace("/usr/local/bin/nstrace", bin)
        .replace("/var/log/nstrace/nstrace.jsonl", log.to_str().unwrap())
        .replace("/run/nstrace/nstrace.sock", socket.to_str().unwrap());
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let mut words = exec.split_whitespace();
    let mut cmd = Command::new(words.next().unwrap());
    cmd.args(words);
    let agent = Agent::spawn(cmd, socket.clone(), log.clone());
    assert_eq!(agent.ask(r#"{"request":"status"}"#)["ok"], true);
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(dir.0.join("run"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    agent.signal(libc::SIGHUP);
    assert_eq!(
        agent.ask(r#"{"request":"status"}"#)["ok"],
        true,
        "ExecReload ended it"
    );
    let (status, err) = agent.stop();
    assert!(status.success(), "{err}");
    assert!(err.contains("events in"), "no summary: {err}");
    assert!(!socket.exists());
}

/// GET /metrics with a plain socket.
fn scrape(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn metrics_pass_promtool_and_count_what_a_workload_did() {
    let dir = TempDir::new("metrics");
    let addr = format!("127.0.0.1:{}", free_port());
    let agent = Agent::start(&dir.0, &["--metrics", &addr]);
    let births = |text: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(r#"nstrace_events_total{kind="birth",type="uts"} "#))
            .map_or(0.0, |v| v.parse().unwrap())
    };
    let before = births(&scrape(&addr));
    for _ in 0..5 {
        spawn_in(libc::CLONE_NEWUTS).kill();
    }
    let text = wait_for("5 uts births in the metrics", LONG, || {
        let t = scrape(&addr);
        (births(&t) >= before + 5.0).then_some(t)
    });
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; `cargo xtask test` installs it)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "nstrace_lost_events_total 0",
        "nstrace_namespaces_live{type=\"uts\"}",
        "nstrace_namespaces_limit{type=\"uts\"}",
        "nstrace_hook_method{hook=\"unshare\",method=\"tracepoint\"} 1",
        "# TYPE nstrace_namespace_lifetime_seconds histogram",
    ] {
        assert!(text.contains(name), "no {name} in:\n{text}");
    }
    // Anything but GET /metrics is refused, and the agent goes on.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"POST /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"\x16\x03\x01 not http\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(births(&scrape(&addr)) >= before + 5.0);
    let (status, err) = agent.stop();
    assert!(status.success(), "{err}");
}

#[test]
fn a_prometheus_server_scrapes_the_agent() {
    let Ok(version) = Command::new("prometheus").arg("--version").output() else {
        println!("skipped: no prometheus binary (Debian package prometheus; `cargo xtask test` installs it)");
        return;
    };
    assert!(version.status.success());
    let dir = TempDir::new("prom");
    let agent_addr = format!("127.0.0.1:{}", free_port());
    let agent = Agent::start(&dir.0, &["--metrics", &agent_addr]);
    let prom_addr = format!("127.0.0.1:{}", free_port());
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: nstrace\n    static_configs:\n      - targets: ['{agent_addr}']\n"
        ),
    )
    .unwrap();
    let mut prom = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address={prom_addr}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.0.join("tsdb").display()
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let prom = Kill(&mut prom);
    let query = |q: &str| -> Option<f64> {
        let mut s = TcpStream::connect(&prom_addr).ok()?;
        let q: String = q
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'_' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        s.write_all(
            format!("GET /api/v1/query?query={q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let body = out.split_once("\r\n\r\n")?.1;
        // The body may be chunked; the JSON object is its one line that
        // starts with a brace.
        let json = body.lines().find(|l| l.starts_with('{'))?;
        let v: Value = serde_json::from_str(json).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    let metric = r#"nstrace_events_total{kind="birth",type="uts"}"#;
    let up = r#"up{job="nstrace"}"#;
    wait_for(
        "Prometheus to scrape the agent",
        Duration::from_secs(120),
        || (query(up)? == 1.0).then_some(()),
    );
    let before = query(metric).unwrap_or(0.0);
    for _ in 0..7 {
        spawn_in(libc::CLONE_NEWUTS).kill();
    }
    let after = wait_for(
        "Prometheus to see the 7 births",
        Duration::from_secs(120),
        || query(metric).filter(|v| *v >= before + 7.0),
    );
    assert!(after >= before + 7.0);
    drop(prom);
    drop(agent);
}
