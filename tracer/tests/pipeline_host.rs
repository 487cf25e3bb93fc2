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

use discovery_support::{check, cstr, ns_of, spawn_in, spawn_with};
use support::Tracer;

/// A scan this long spans at least two of the loop's 100 ms drain ticks:
/// a loop that keeps draining during it drains something of the storm.
const LONG_SCAN_MS: u64 = 300;

/// Children each holding this many fds (under the host's hard limit of
/// 20,000 open files): the holder scan reads every fd's link, so with
/// three of them each scan takes hundreds of milliseconds.
const FDS_PER_CHILD: usize = 18_000;

#[test]
fn a_storm_while_a_holder_scan_runs_loses_nothing() {
    let null = cstr("/dev/null");
    let fd_holders: Vec<_> = (0..3)
        .map(|_| {
            let null = null.clone();
            spawn_with(move || {
                let lim = libc::rlimit {
                    rlim_cur: FDS_PER_CHILD as u64 + 64,
                    rlim_max: FDS_PER_CHILD as u64 + 64,
                };
                // SAFETY: raw syscalls on data prepared before the fork;
                // the fds stay open across exec (no O_CLOEXEC).
                check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
                for _ in 0..FDS_PER_CHILD {
                    check(unsafe { libc::open(null.as_ptr(), libc::O_RDONLY) })?;
                }
                Ok(())
            })
        })
        .collect();
    // The loop says, at debug level, how many records it drained while
    // each holder scan ran.
    std::env::set_var("RUST_LOG", "tracer::pipeline=debug");
    let mut tr = Tracer::start(&["--linger-grace", "0.3", "--scan-interval", "0.2"]);
    std::env::remove_var("RUST_LOG");
    // A storm the debug build's reader keeps up with while a scan takes a
    // CPU of the host's two: what is tested is that the loop drains during
    // the scan, not how fast.
    let (pid, go, done) = agent_support::storm(2_000);
    // Namespaces that linger, held by our fds, one every 300 ms: each
    // asks for a holder scan while the storm goes on. Scans are paced by
    // their cost, so the first long one decides.
    let mut held: Vec<File> = Vec::new();
    let start = Instant::now();
    let overlap = loop {
        let x = spawn_in(libc::CLONE_NEWNET);
        held.push(File::open(format!("/proc/{}/ns/net", x.pid())).unwrap());
        let _ = ns_of(x.pid(), "net");
        x.kill();
        std::thread::sleep(Duration::from_millis(300));
        let err = tr.stderr();
        // (duration in ms, records drained meanwhile) of each scan.
        let scans: Vec<(u64, u64)> = err
            .lines()
            .filter_map(|l| {
                let (head, tail) = l.split_once(" ms): ")?;
                let ms = head.rsplit_once('(')?.1.parse().ok()?;
                let drained = tail
                    .split_once(" records drained meanwhile")?
                    .0
                    .parse()
                    .ok()?;
                Some((ms, drained))
            })
            .collect();
        if let Some(&(ms, drained)) = scans.iter().find(|(ms, _)| *ms >= LONG_SCAN_MS) {
            assert!(
                drained > 0,
                "the loop drained nothing during a {ms} ms holder scan: the scan blocks it; \
                 stderr:\n{err}"
            );
            break (ms, drained);
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no holder scan took {LONG_SCAN_MS} ms, though {} fds are open; scans (ms, \
             drained): {scans:?}; stderr:\n{err}",
            3 * FDS_PER_CHILD
        );
    };
    let made = agent_support::end_storm(pid, go, done);
    assert!(made > 1000, "the storm made only {made}");
    // Scans are short and paced, so the overlap may take tens of seconds
    // and the storm hundreds of thousands of records: read until they
    // stop coming, not for a fixed time.
    let is_birth =
        |v: &serde_json::Value| v["event"] == "birth" && v["type"] == "uts" && v["pid"] == pid;
    let mut births = tr.all(Duration::from_secs(3), is_birth);
    loop {
        let more = tr.all(Duration::from_secs(3), is_birth);
        if more.len() == births.len() || more.len() as u64 >= made {
            births = more;
            break;
        }
        births = more;
    }
    let (status, err) = tr.stop();
    assert!(status.success(), "{err}");
    assert!(err.contains(" 0 lost"), "{err}");
    assert_eq!(
        births.len() as u64,
        made,
        "births seen vs made; the long scan (ms, drained): {overlap:?}"
    );
    drop(held);
    drop(fd_holders);
}
