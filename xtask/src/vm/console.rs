//! Reads a guest's serial console line by line: the `nstrace-vm: ` lines
//! /init (init.sh) prints, libtest's result lines, and kernel messages that
//! mean the guest is lost (panic, oops, BUG, soft lockup).

use std::time::{Duration, Instant};

const MARKER: &str = "nstrace-vm: ";

/// One test binary run under one hook method.
#[derive(Debug)]
pub struct Run {
    pub test: String,
    pub method: String,
    started: Instant,
    pub elapsed: Option<Duration>,
    /// The binary's exit status, once /init has reported it.
    pub status: Option<i32>,
    /// From libtest's `test result:` line; None if it never printed one
    /// (the binary crashed or the guest died).
    pub counts: Option<Counts>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub passed: u32,
    pub failed: u32,
    pub ignored: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Success,
    Failure,
}

/// What the host should do after a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// The kernel is in trouble: let it print its report for a moment, then
    /// stop QEMU.
    StopSoon,
    /// Stop QEMU now: the kernel's report is complete.
    StopNow,
    /// /init printed its verdict and is powering off.
    PoweringOff,
}

#[derive(Debug)]
pub struct Transcript {
    started: Instant,
    /// From QEMU's start to /init's first line.
    pub boot: Option<Duration>,
    pub release: Option<String>,
    pub runs: Vec<Run>,
    pub verdict: Option<Verdict>,
    /// Problems seen on the console: init errors, kernel trouble, protocol
    /// violations. Any entry fails the kernel even with a success verdict.
    pub problems: Vec<String>,
    /// What follows `nstrace-vm: bench ` on each line the in-guest
    /// benchmark printed (xtask/src/bench/guest.rs), in order.
    pub bench: Vec<String>,
    in_trouble: bool,
}

impl Transcript {
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            boot: None,
            release: None,
            runs: Vec::new(),
            verdict: None,
            problems: Vec::new(),
            bench: Vec::new(),
            in_trouble: false,
        }
    }

    pub fn feed(&mut self, line: &str, now: Instant) -> Next {
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(rest) = line.strip_prefix(MARKER) {
            return self.marker(rest, now);
        }
        if let Some(counts) = parse_test_result(line) {
            match self.runs.last_mut() {
                Some(run) if run.status.is_none() => run.counts = Some(counts),
                _ => self
                    .problems
                    .push(format!("libtest result outside any test run: {line}")),
            }
            return Next::Continue;
        }
        if let Some(what) = kernel_trouble(line) {
            // Only the first report counts: the rest is its consequence.
            if !self.in_trouble {
                self.in_trouble = true;
                self.problems.push(format!("kernel: {what}"));
            }
            return Next::StopSoon;
        }
        if self.in_trouble && line.contains("---[ end ") {
            return Next::StopNow;
        }
        Next::Continue
    }

    fn marker(&mut self, rest: &str, now: Instant) -> Next {
        let words: Vec<&str> = rest.split_whitespace().collect();
        match words.as_slice() {
            ["kernel", release] => {
                self.boot = Some(now - self.started);
                self.release = Some((*release).to_string());
            }
            ["begin", test, method] => self.runs.push(Run {
                test: (*test).to_string(),
                method: (*method).to_string(),
                started: now,
                elapsed: None,
                status: None,
                counts: None,
            }),
            ["end", test, method, status] => match self.runs.last_mut() {
                Some(run) if run.test == *test && run.method == *method && run.status.is_none() => {
                    run.elapsed = Some(now - run.started);
                    // The shell reports 128+N for a signal; anything
                    // unparsable is a failure all the same.
                    run.status = Some(status.parse().unwrap_or(-1));
                }
                _ => self
                    .problems
                    .push(format!("unmatched end of {test} ({method})")),
            },
            ["success"] | ["failure"] => {
                let verdict = if words[0] == "success" {
                    Verdict::Success
                } else {
                    Verdict::Failure
                };
                if self.verdict.replace(verdict).is_some() {
                    self.problems.push("more than one verdict line".to_string());
                }
                return Next::PoweringOff;
            }
            ["bench", ..] => self.bench.push(rest["bench".len()..].trim().to_string()),
            // For whoever reads the console: init.sh's note after each run.
            ["memory", "after", ..] => {}
            ["error:", ..] => self
                .problems
                .push(format!("init: {}", rest["error:".len()..].trim())),
            _ => self.problems.push(format!("unexpected init line: {rest}")),
        }
        Next::Continue
    }

    /// Everything that fails this kernel, given the runs it should have
    /// made; empty means it passed.
    pub fn failures(&self, expected: &[(String, String)]) -> Vec<String> {
        let mut out = self.problems.clone();
        match self.verdict {
            Some(Verdict::Success) => {}
            Some(Verdict::Failure) => out.push("/init reported failure".to_string()),
            None => out.push("/init printed no verdict".to_string()),
        }
        for (test, method) in expected {
            match self
                .runs
                .iter()
                .find(|r| &r.test == test && &r.method == method)
            {
                None => out.push(format!("{test} ({method}) never ran")),
                Some(Run { status: None, .. }) => {
                    out.push(format!("{test} ({method}) did not finish"));
                }
                Some(Run {
                    status: Some(s), ..
                }) if *s != 0 => out.push(format!("{test} ({method}) exited with {s}")),
                Some(Run { counts: None, .. }) => {
                    out.push(format!("{test} ({method}) printed no test result"));
                }
                // A binary whose tests were all filtered out or compiled
                // away passes libtest; it proves nothing here.
                Some(Run {
                    counts: Some(c), ..
                }) if c.passed == 0 => {
                    out.push(format!("{test} ({method}) ran no test (0 passed)"));
                }
                Some(_) => {}
            }
        }
        out
    }
}

/// libtest's summary: `test result: ok. 1 passed; 0 failed; 0 ignored; ...`.
fn parse_test_result(line: &str) -> Option<Counts> {
    let rest = line.strip_prefix("test result: ")?;
    let mut counts = Counts::default();
    for part in rest.split(['.', ';']) {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(n) = n.parse() else { continue };
        match what {
            "passed" => counts.passed = n,
            "failed" => counts.failed = n,
            "ignored" => counts.ignored = n,
            _ => {}
        }
    }
    Some(counts)
}

/// Kernel messages after which the guest cannot be trusted to finish.
fn kernel_trouble(line: &str) -> Option<&str> {
    const FATAL: &[&str] = &[
        "Kernel panic - not syncing",
        "BUG: ",
        "watchdog: BUG: soft lockup",
        "Oops: ",
        "general protection fault",
        "rcu: INFO: rcu_sched detected stalls",
        "rcu: INFO: rcu_preempt detected stalls",
        // The rootfs ran out of room: the binaries unpacked last are cut
        // short and fail at exec (SIGSEGV past exec's point of no return,
        // or 127), which looks like anything but this.
        "Initramfs unpacking failed",
    ];
    // Kernel messages also land in the middle of a test's line
    // (`test foo ... [   12.3] BUG: ...`), so every printk timestamp starts a
    // candidate, as does the line itself (printk.time=0).
    std::iter::once(line)
        .chain(line.match_indices('[').filter_map(|(i, _)| {
            let (stamp, msg) = line[i + 1..].split_once("] ")?;
            stamp
                .chars()
                .all(|c| c == ' ' || c == '.' || c.is_ascii_digit())
                .then_some(msg)
        }))
        .find(|msg| FATAL.iter().any(|f| msg.starts_with(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(lines: &[&str]) -> Transcript {
        let t0 = Instant::now();
        let mut t = Transcript::new(t0);
        for (i, line) in lines.iter().enumerate() {
            t.feed(line, t0 + Duration::from_millis(100 * i as u64));
        }
        t
    }

    fn expected() -> Vec<(String, String)> {
        vec![
            ("vm_smoke".into(), "fentry".into()),
            ("vm_smoke".into(), "kprobe".into()),
        ]
    }

    #[test]
    fn a_clean_run_passes() {
        let t = feed_all(&[
            "[    0.000000] Linux version 6.1.0",
            "nstrace-vm: kernel 6.1.0-44-cloud-amd64\r",
            "nstrace-vm: begin vm_smoke fentry",
            "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "nstrace-vm: end vm_smoke fentry 0",
            "nstrace-vm: begin vm_smoke kprobe",
            "test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "nstrace-vm: end vm_smoke kprobe 0",
            "nstrace-vm: success",
        ]);
        assert_eq!(t.release.as_deref(), Some("6.1.0-44-cloud-amd64"));
        assert_eq!(t.boot, Some(Duration::from_millis(100)));
        assert_eq!(
            t.runs[1].counts,
            Some(Counts {
                passed: 2,
                failed: 0,
                ignored: 1
            })
        );
        assert_eq!(t.failures(&expected()), Vec::<String>::new());
    }

    #[test]
    fn a_binary_that_ran_no_test_fails() {
        let t = feed_all(&[
            "nstrace-vm: kernel 6.1",
            "nstrace-vm: begin vm_smoke fentry",
            "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "nstrace-vm: end vm_smoke fentry 0",
            "nstrace-vm: begin vm_smoke kprobe",
            "test result: ok. 0 passed; 0 failed; 2 ignored; 0 measured; 3 filtered out; finished in 0.00s",
            "nstrace-vm: end vm_smoke kprobe 0",
            "nstrace-vm: success",
        ]);
        assert_eq!(
            t.failures(&expected()),
            ["vm_smoke (kprobe) ran no test (0 passed)"]
        );
    }

    #[test]
    fn success_without_every_run_fails() {
        let t = feed_all(&[
            "nstrace-vm: kernel 6.1",
            "nstrace-vm: begin vm_smoke fentry",
            "nstrace-vm: end vm_smoke fentry 0",
            "nstrace-vm: success",
        ]);
        assert_eq!(
            t.failures(&expected()),
            [
                "vm_smoke (fentry) printed no test result",
                "vm_smoke (kprobe) never ran"
            ]
        );
    }

    #[test]
    fn kernel_bug_stops_the_guest_after_its_report() {
        let t0 = Instant::now();
        let mut t = Transcript::new(t0);
        assert_eq!(
            t.feed("nstrace-vm: begin vm_smoke fentry", t0),
            Next::Continue
        );
        assert_eq!(
            t.feed(
                "[   12.5] BUG: kernel NULL pointer dereference, address: 0",
                t0
            ),
            Next::StopSoon
        );
        assert_eq!(t.feed("[   12.6] Call Trace:", t0), Next::Continue);
        assert_eq!(
            t.feed("[   12.7] ---[ end trace 0000000000000000 ]---", t0),
            Next::StopNow
        );
        let failures = t.failures(&expected());
        assert_eq!(
            failures[0],
            "kernel: BUG: kernel NULL pointer dereference, address: 0"
        );
        assert!(failures.contains(&"/init printed no verdict".to_string()));
    }

    #[test]
    fn kernel_trouble_mid_line_is_seen() {
        assert_eq!(
            kernel_trouble("test crash ... [    3.48] Kernel panic - not syncing: sysrq"),
            Some("Kernel panic - not syncing: sysrq")
        );
        assert_eq!(
            kernel_trouble("Oops: 0002 [#1] SMP"),
            Some("Oops: 0002 [#1] SMP")
        );
        assert_eq!(kernel_trouble("[#1] BUG: not a timestamp"), None);
    }

    #[test]
    fn a_cut_short_initramfs_is_named() {
        assert_eq!(
            kernel_trouble("[    2.641354] Initramfs unpacking failed: write error"),
            Some("Initramfs unpacking failed: write error")
        );
        let mut t = Transcript::new(Instant::now());
        let line = "nstrace-vm: memory after vm_smoke fentry: MemAvailable: 539288 kB";
        assert_eq!(t.feed(line, Instant::now()), Next::Continue);
        assert!(t.problems.is_empty(), "{:?}", t.problems);
    }

    #[test]
    fn test_output_mentioning_bug_mid_line_is_not_trouble() {
        let mut t = Transcript::new(Instant::now());
        assert_eq!(
            t.feed("thread panicked: no BUG: here", Instant::now()),
            Next::Continue
        );
    }
}
