//! The floor of a set of hooks: empty eBPF programs (`r0 = 0; exit`) on
//! exactly the places a tracer attaches to, held by a child process
//! (`cargo xtask bench --floor TARGET,...`) until SIGINT or SIGTERM.
//!
//! What a workload loses under the floor is what those hooks cost before
//! any program does any work: the kernel's dispatch to the program (a
//! trampoline for fentry, an int3 or ftrace call for a kprobe, a perf
//! record of the syscall's arguments for a syscall tracepoint, and the
//! slow syscall path every task takes once any syscall tracepoint is on).
//! A tracer can only get down to its floor, so the bench reports nstrace
//! against it, measured in the same run.
//!
//! Targets are written as `nstrace probe --json` lists them in `attached`:
//! `tracepoint:CAT:NAME`, `raw_tracepoint:NAME`, `fentry:FUNC`,
//! `fexit:FUNC`, `kprobe:FUNC`, `kretprobe:FUNC`. Hand-written bytecode
//! and raw bpf(2)/perf_event_open(2) calls keep this free of an eBPF
//! toolchain: two instructions need no compiler, and the same static
//! binary runs in the QEMU guests.

use std::{
    ffi::{CStr, CString},
    fs, io,
    os::fd::RawFd,
};

use anyhow::{bail, Context as _, Result};
use aya::Btf;
use aya_obj::btf::BtfKind;

/// Printed on stderr once every program is attached.
pub const READY: &str = "floor: attached";

// include/uapi/linux/bpf.h (v6.1 to v6.18).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const BPF_PROG_TYPE_KPROBE: u32 = 2;
const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_FENTRY: u32 = 24;
const BPF_TRACE_FEXIT: u32 = 25;
/// `BPF_ALU64 | BPF_MOV | BPF_K` to r0 with imm 0, then `BPF_JMP | BPF_EXIT`.
const RETURN_ZERO: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];

// include/uapi/linux/perf_event.h.
const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_EVENT_IOC_ENABLE: libc::Ioctl = 0x2400;
const PERF_EVENT_IOC_SET_BPF: libc::Ioctl = 0x4004_2408;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;

/// One place to attach an empty program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Tracepoint { category: String, name: String },
    Raw { name: String },
    Fentry { func: String },
    Fexit { func: String },
    Kprobe { func: String },
    Kretprobe { func: String },
}

impl Target {
    pub fn parse(s: &str) -> Result<Target> {
        let (kind, rest) = s
            .split_once(':')
            .with_context(|| format!("floor target {s:?} has no kind: prefix"))?;
        let owned = || rest.to_string();
        Ok(match kind {
            "tracepoint" => {
                let (category, name) = rest
                    .split_once(':')
                    .with_context(|| format!("floor target {s:?}: want tracepoint:CAT:NAME"))?;
                Target::Tracepoint {
                    category: category.into(),
                    name: name.into(),
                }
            }
            "raw_tracepoint" => Target::Raw { name: owned() },
            "fentry" => Target::Fentry { func: owned() },
            "fexit" => Target::Fexit { func: owned() },
            "kprobe" => Target::Kprobe { func: owned() },
            "kretprobe" => Target::Kretprobe { func: owned() },
            other => bail!("floor target {s:?}: unknown kind {other:?}"),
        })
    }
}

/// Loads and attaches an empty program on each target, says so, and waits
/// for SIGINT or SIGTERM; the kernel detaches them when the process exits.
pub fn hold(targets: &[String]) -> Result<()> {
    let mut btf = None;
    let mut fds = Vec::new();
    for t in targets {
        let target = Target::parse(t)?;
        fds.extend(attach(&target, &mut btf).with_context(|| format!("floor: attaching to {t}"))?);
    }
    // Only needed to find the targets' ids: give its memory back.
    drop(btf);
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

/// The fds that keep the program attached (program, then link or event).
fn attach(target: &Target, btf: &mut Option<Btf>) -> Result<Vec<RawFd>> {
    let mut kernel_btf = |name: &str, kind: BtfKind| -> Result<u32> {
        if btf.is_none() {
            *btf = Some(Btf::from_sys_fs().context("reading /sys/kernel/btf/vmlinux")?);
        }
        let btf = btf.as_ref().expect("set above");
        btf.id_by_type_name_kind(name, kind)
            .with_context(|| format!("{name} is not in the kernel's BTF"))
    };
    Ok(match target {
        Target::Tracepoint { category, name } => {
            let prog = load(BPF_PROG_TYPE_TRACEPOINT, 0, 0)?;
            let id = tracepoint_id(category, name)?;
            vec![prog, perf_attach(PERF_TYPE_TRACEPOINT, id, 0, prog)?]
        }
        Target::Raw { name } => {
            let prog = load(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0)?;
            let name = CString::new(name.as_str())?;
            vec![prog, raw_tracepoint_open(Some(&name), prog)?]
        }
        Target::Fentry { func } | Target::Fexit { func } => {
            let attach_type = if matches!(target, Target::Fentry { .. }) {
                BPF_TRACE_FENTRY
            } else {
                BPF_TRACE_FEXIT
            };
            let id = kernel_btf(func, BtfKind::Func)?;
            let prog = load(BPF_PROG_TYPE_TRACING, attach_type, id)?;
            vec![prog, raw_tracepoint_open(None, prog)?]
        }
        Target::Kprobe { func } | Target::Kretprobe { func } => {
            let prog = load(BPF_PROG_TYPE_KPROBE, 0, 0)?;
            let pmu = read_number("/sys/bus/event_source/devices/kprobe/type")?;
            let ret = matches!(target, Target::Kretprobe { .. });
            let config = if ret { 1u64 << retprobe_bit()? } else { 0 };
            let func = CString::new(func.as_str())?;
            let fd = perf_kprobe(pmu as u32, config, &func, prog)?;
            vec![prog, fd]
        }
    })
}

fn load(prog_type: u32, attach_type: u32, attach_btf_id: u32) -> Result<RawFd> {
    let license = c"GPL";
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&prog_type.to_ne_bytes());
    attr[4..8].copy_from_slice(&(RETURN_ZERO.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(RETURN_ZERO.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[48..53].copy_from_slice(b"floor");
    attr[68..72].copy_from_slice(&attach_type.to_ne_bytes());
    attr[108..112].copy_from_slice(&attach_btf_id.to_ne_bytes());
    bpf(BPF_PROG_LOAD, &mut attr)
        .with_context(|| format!("bpf(BPF_PROG_LOAD) of an empty program of type {prog_type}"))
}

/// Attaches a raw tracepoint program by name, or a BTF-attached one
/// (fentry, fexit) with no name.
fn raw_tracepoint_open(name: Option<&CStr>, prog: RawFd) -> Result<RawFd> {
    let mut attr = [0u8; 16];
    let name = name.map_or(0, |n| n.as_ptr() as u64);
    attr[0..8].copy_from_slice(&name.to_ne_bytes());
    attr[8..12].copy_from_slice(&(prog as u32).to_ne_bytes());
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut attr).context("bpf(BPF_RAW_TRACEPOINT_OPEN)")
}

/// A perf event of `typ`/`config` on CPU 0 with the program attached: a
/// program on a tracepoint or kprobe event runs on every CPU.
fn perf_attach(typ: u32, config: u64, config1: u64, prog: RawFd) -> Result<RawFd> {
    // struct perf_event_attr, PERF_ATTR_SIZE_VER5 (112 bytes): type,
    // size, config, sample_period, ..., wakeup_events @48, config1 @56.
    let mut attr = [0u8; 112];
    attr[0..4].copy_from_slice(&typ.to_ne_bytes());
    attr[4..8].copy_from_slice(&112u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&config.to_ne_bytes());
    attr[16..24].copy_from_slice(&1u64.to_ne_bytes());
    attr[48..52].copy_from_slice(&1u32.to_ne_bytes());
    attr[56..64].copy_from_slice(&config1.to_ne_bytes());
    // SAFETY: attr is a live perf_event_attr of the size it declares; any
    // pointer in it (config1) is the caller's to keep valid.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            -1 as libc::pid_t,
            0 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        bail!("perf_event_open: {}", io::Error::last_os_error());
    }
    let fd = fd as RawFd;
    // SAFETY: ioctls on our own perf event fd with an int argument.
    unsafe {
        if libc::ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog) != 0 {
            bail!("PERF_EVENT_IOC_SET_BPF: {}", io::Error::last_os_error());
        }
        if libc::ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0 {
            bail!("PERF_EVENT_IOC_ENABLE: {}", io::Error::last_os_error());
        }
    }
    Ok(fd)
}

fn perf_kprobe(pmu: u32, config: u64, func: &CStr, prog: RawFd) -> Result<RawFd> {
    // config1 is kprobe_func, a pointer to the function's name.
    perf_attach(pmu, config, func.as_ptr() as u64, prog)
}

/// The bit of `config` that makes a kprobe PMU event a kretprobe
/// (`config:0` in the PMU's format directory).
fn retprobe_bit() -> Result<u32> {
    let path = "/sys/bus/event_source/devices/kprobe/format/retprobe";
    let s = fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    s.trim()
        .strip_prefix("config:")
        .and_then(|b| b.parse().ok())
        .with_context(|| format!("{path}: unexpected {s:?}"))
}

fn tracepoint_id(category: &str, name: &str) -> Result<u64> {
    for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        let path = format!("{root}/events/{category}/{name}/id");
        if let Ok(id) = read_number(&path) {
            return Ok(id);
        }
    }
    bail!("no tracepoint {category}:{name} under /sys/kernel/tracing/events (is tracefs mounted?)")
}

fn read_number(path: &str) -> Result<u64> {
    let s = fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    s.trim()
        .parse()
        .with_context(|| format!("{path}: not a number: {s:?}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_probe_prints_them() {
        assert_eq!(
            Target::parse("tracepoint:syscalls:sys_exit_unshare").unwrap(),
            Target::Tracepoint {
                category: "syscalls".into(),
                name: "sys_exit_unshare".into()
            }
        );
        assert_eq!(
            Target::parse("kretprobe:ksys_unshare").unwrap(),
            Target::Kretprobe {
                func: "ksys_unshare".into()
            }
        );
        assert!(Target::parse("uprobe:x").is_err());
        assert!(Target::parse("tracepoint:nocolon").is_err());
    }
}
