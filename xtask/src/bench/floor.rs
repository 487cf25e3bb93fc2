//! The raw-tracepoint floor: empty eBPF programs (`r0 = 0; exit`) on the
//! raw `sys_enter` and `sys_exit` tracepoints, held by a child process
//! (`cargo xtask bench --raw-floor`) until SIGINT.
//!
//! bpftrace's empty programs on `syscalls:sys_enter_unshare`/`sys_exit_unshare`
//! measure what a perf-dispatched syscall tracepoint costs (the kind
//! nstrace uses on this kernel): the kernel builds a perf record of the
//! arguments for every hit before the program runs. A raw tracepoint hands
//! the program the registers instead, but runs for every syscall of every
//! task. Both floors side by side say how far a tracer can get with each
//! hook kind here, before it does any work.
//!
//! Hand-written bytecode keeps this free of an eBPF toolchain: two
//! instructions need no compiler.

use std::{ffi::CStr, io, os::fd::RawFd};

use anyhow::{bail, Context as _, Result};

/// Printed on stderr once both programs are attached.
pub const READY: &str = "raw-floor: attached";

// include/uapi/linux/bpf.h (v6.18).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
/// `BPF_ALU64 | BPF_MOV | BPF_K` to r0 with imm 0, then `BPF_JMP | BPF_EXIT`.
const RETURN_ZERO: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];

/// Loads and attaches the two programs, says so, and waits for SIGINT or
/// SIGTERM; the kernel detaches them when the process exits.
pub fn hold() -> Result<()> {
    let mut fds = Vec::new();
    for tp in [c"sys_enter", c"sys_exit"] {
        let prog = load()?;
        fds.push(attach(prog, tp).with_context(|| format!("attaching to raw tracepoint {tp:?}"))?);
        fds.push(prog);
    }
    // SAFETY: plain signal-mask calls on valid sets; blocking the signals
    // first makes sigwait the only way they arrive.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        eprintln!("{READY}");
        let mut sig = 0;
        libc::sigwait(&set, &mut sig);
    }
    for fd in fds {
        // SAFETY: our own fds, closed once.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

fn load() -> Result<RawFd> {
    let license = c"GPL";
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_RAW_TRACEPOINT.to_ne_bytes());
    attr[4..8].copy_from_slice(&(RETURN_ZERO.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(RETURN_ZERO.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    bpf(BPF_PROG_LOAD, &mut attr).context("bpf(BPF_PROG_LOAD) of an empty raw tracepoint program")
}

fn attach(prog: RawFd, tp: &CStr) -> Result<RawFd> {
    let mut attr = [0u8; 16];
    attr[0..8].copy_from_slice(&(tp.as_ptr() as u64).to_ne_bytes());
    attr[8..12].copy_from_slice(&(prog as u32).to_ne_bytes());
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut attr).context("bpf(BPF_RAW_TRACEPOINT_OPEN)")
}

/// The bpf(2) syscall. Every pointer inside `attr` must point at live
/// memory of the length the command expects.
fn bpf(cmd: libc::c_long, attr: &mut [u8]) -> Result<RawFd> {
    // SAFETY: attr is a live buffer of the length passed; the pointers in
    // it are the caller's to keep valid (see above).
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        bail!("{}", io::Error::last_os_error());
    }
    Ok(r as RawFd)
}
