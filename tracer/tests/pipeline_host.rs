//! The pipeline on this host's kernel: the ring is drained while a holder
//! scan runs, so a storm during one loses nothing. Run as root (`cargo
//! xtask test` does).

mod agent_support;
mod discovery_support;
mod support;

use std::{
    fs::File,
    time::{Duration, Instant},
};

use discovery_support::{ns_of, spawn_in};
use support::Tracer;

#[test]
fn a_storm_while_a_holder_scan_runs_loses_nothing() {
    // The loop says, at debug level, how many records it drained while
    // each holder scan ran.
    std::env::set_var("RUST_LOG", "tracer::pipeline=debug");
    let mut tr = Tracer::start(&["--linger-grace", "0.3", "--scan-interval", "0.2"]);
    std::env::remove_var("RUST_LOG");
    let (pid, go, done) = agent_support::storm(20_000);
    // Namespaces that linger, held by our fds, one every 300 ms: each
    // asks for a holder scan while the storm goes on.
    let mut held: Vec<File> = Vec::new();
    let start = Instant::now();
    let overlap = loop {
        let x = spawn_in(libc::CLONE_NEWNET);
        held.push(File::open(format!("/proc/{}/ns/net", x.pid())).unwrap());
        let _ = ns_of(x.pid(), "net");
        x.kill();
        std::thread::sleep(Duration::from_millis(300));
        let err = tr.stderr();
        let drained: Vec<u64> = err
            .lines()
            .filter_map(|l| {
                l.split_once("ms): ")?
                    .1
                    .split_once(" records drained meanwhile")
            })
            .filter_map(|(n, _)| n.parse().ok())
            .collect();
        if drained.iter().any(|&n| n > 0) {
            break drained;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no holder scan ran while records were drained; stderr:\n{err}"
        );
    };
    let made = agent_support::end_storm(pid, go, done);
    assert!(made > 1000, "the storm made only {made}");
    let births = tr.all(Duration::from_secs(3), |v| {
        v["event"] == "birth" && v["type"] == "uts" && v["pid"] == pid
    });
    let (status, err) = tr.stop();
    assert!(status.success(), "{err}");
    assert!(err.contains(" 0 lost"), "{err}");
    assert_eq!(
        births.len() as u64,
        made,
        "births seen vs made; scans drained {overlap:?}"
    );
    drop(held);
}
