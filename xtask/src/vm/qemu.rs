//! Boots one kernel with the test initramfs in QEMU, streams its console with
//! a per-kernel prefix, and stops it on kernel trouble or a timeout. QEMU's
//! exit status says nothing about the tests; the transcript does.

use std::{
    io::{BufRead, BufReader, Read},
    os::unix::process::CommandExt as _,
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};

use super::console::{Next, Transcript};

pub struct Options {
    pub timeout: Duration,
    /// The whole boot log instead of warnings and worse.
    pub kernel_log: bool,
    /// Virtual CPUs. The benchmarks use one, so that the workload's own
    /// CPU time is all it is charged (the tracer's reader waits its turn).
    pub cpus: u32,
}

/// How long a kernel in trouble may go on printing its report.
const TROUBLE_GRACE: Duration = Duration::from_secs(5);
/// How long `poweroff -f` may take once /init has printed its verdict.
const POWEROFF_GRACE: Duration = Duration::from_secs(30);

/// `init_env` is appended to the kernel's command line as `name=value`
/// words: the kernel hands what it does not know (no dot in the name) to
/// /init as environment variables.
pub fn boot(
    label: &str,
    vmlinuz: &Path,
    initrd: &Path,
    init_env: &[(&str, &str)],
    opts: &Options,
) -> Result<Transcript> {
    // console_loglevel 5 prints warnings, errors and worse, and the oops,
    // BUG and panic reports (those use KERN_DEFAULT, level 4, for their call
    // traces), while leaving out the boot chatter that slows a serial
    // console under TCG.
    let loglevel = if opts.kernel_log { 7 } else { 5 };
    let mut cmd = Command::new("qemu-system-x86_64");
    // KVM guests hang at boot on these machines (no nested VMX): TCG only.
    // Single-threaded TCG: with one host thread per vCPU, a 6.12 guest died
    // once in 19 boots on an int3 Oops while the kernel patched its own text
    // (code patching is what kprobes and fentry do all day); single-threaded
    // TCG was clean in 15 of 15 boots and no slower on a 2-core host.
    // 2 GiB: the initramfs (static, unstripped test binaries, about 340 MB)
    // is unpacked into the rootfs beside itself; at 1 GiB the unpacking ran
    // out of room ("Initramfs unpacking failed: write error") and the
    // binaries last in the archive were cut short. TCG allocates guest
    // memory as it is touched.
    cmd.args(["-accel", "tcg,thread=single", "-m", "2G", "-smp"])
        .arg(opts.cpus.to_string())
        .args([
            "-nographic",
            "-no-reboot",
            "-nodefaults",
            "-serial",
            "stdio",
        ])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        // panic=-1 reboots at once on a panic, and -no-reboot turns that
        // reboot into QEMU's exit.
        .arg(
            std::iter::once(format!("console=ttyS0 panic=-1 loglevel={loglevel}"))
                .chain(init_env.iter().map(|(k, v)| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(" "),
        )
        // A terminal on stdin would be put in raw mode and read by QEMU's
        // monitor; the guest needs no input.
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            // If xtask is killed, QEMU must not run on to its own end (or
            // forever, with a hung guest): the spawning thread's death kills it.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    eprintln!("xtask: vm: {label}: running {cmd:?}");

    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    let (tx, rx) = mpsc::channel();
    let readers = [
        forward_lines(child.stdout.take().expect("stdout is piped"), tx.clone()),
        forward_lines(child.stderr.take().expect("stderr is piped"), tx),
    ];

    let mut transcript = Transcript::new(started);
    let deadline = started + opts.timeout;
    let mut stop_at = deadline;
    let mut finished = false;
    loop {
        let now = Instant::now();
        let Some(wait) = stop_at.checked_duration_since(now).filter(|d| !d.is_zero()) else {
            break;
        };
        match rx.recv_timeout(wait) {
            Ok(line) => {
                println!("{label:>13} | {line}");
                match transcript.feed(&line, Instant::now()) {
                    Next::Continue => {}
                    Next::StopSoon => stop_at = stop_at.min(Instant::now() + TROUBLE_GRACE),
                    Next::StopNow => break,
                    Next::PoweringOff => {
                        stop_at = stop_at.min(Instant::now() + POWEROFF_GRACE);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Both pipes closed: QEMU has exited.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                finished = true;
                break;
            }
        }
    }
    if !finished {
        if Instant::now() >= deadline && transcript.verdict.is_none() {
            transcript.problems.push(format!(
                "timed out after {} s (raise it with --timeout)",
                opts.timeout.as_secs()
            ));
        }
        stop(&mut child, label);
    }
    let status = child
        .wait()
        .with_context(|| format!("failed to wait for {cmd:?}"))?;
    for reader in readers {
        let _ = reader.join();
    }
    if transcript.verdict.is_none() && finished {
        eprintln!("xtask: vm: {label}: QEMU exited with {status} before /init's verdict");
    }
    Ok(transcript)
}

/// Sends each line of `pipe` to `tx`, lossily decoded: a guest in trouble
/// may print anything.
fn forward_lines(
    pipe: impl Read + Send + 'static,
    tx: mpsc::Sender<String>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(printable(&String::from_utf8_lossy(&buf))).is_err() {
                        break;
                    }
                }
            }
        }
    })
}

/// `line` without terminal control: SeaBIOS clears the screen with escape
/// sequences that would garble the host's terminal and the CI log.
fn printable(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // CSI: ESC [ parameters, ended by a byte in '@'..='~'.
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // Any other escape is two characters (ESC c resets the terminal).
            '\x1b' => {
                chars.next();
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn stop(child: &mut Child, label: &str) {
    eprintln!("xtask: vm: {label}: stopping QEMU (pid {})", child.id());
    // Ignored: QEMU may have exited between the last line and now.
    let _ = child.kill();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_drops_terminal_control() {
        assert_eq!(
            printable("\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16)\r\n"),
            "SeaBIOS (version 1.16)"
        );
        assert_eq!(printable("a\tb"), "a\tb");
    }
}
