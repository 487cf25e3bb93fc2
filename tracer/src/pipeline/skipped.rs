//! Runs of our programs that the kernel skipped. The kernel does not run a
//! tracing program that would nest on a CPU where one is already running
//! (fentry/fexit and raw tracepoints: the same program; kprobes: any kprobe
//! or tracepoint program), and a kretprobe whose instances are all in use
//! misses the return. Nothing reaches the ring from such a run, so the
//! records it would have written are lost as surely as those the ring had
//! no room for; the pipeline reports them the same way (a `lost` record,
//! here naming the program).
//!
//! Read once per poll, one or two `bpf(2)` calls per program, never per
//! event. What the kernel counts, by version:
//! - `bpf_prog_info.recursion_misses`: fentry/fexit since 5.12, raw
//!   tracepoints by 6.2 (`bpf_trace_run*`), kprobes and perf tracepoints
//!   since 6.7 (`trace_call_bpf` counts the runs its `bpf_prog_active`
//!   check skips). Before that a skipped kprobe run is counted nowhere.
//! - `bpf_link_info.perf_event.kprobe.missed` (6.7 and later): the kprobe's
//!   own misses (`trace_kprobe_missed()`: a hit while another kprobe's
//!   handler ran on that CPU, and for a kretprobe the returns missed
//!   because every instance was in use).
//!   https://github.com/torvalds/linux/blob/v6.7/kernel/trace/bpf_trace.c
//!   (`bpf_perf_link_fill_kprobe`)
//!
//! Seen in the VM tests (vm_skipped.rs): on Debian 6.12 and 7.2, 40
//! unshares in flight at once under kprobes gave 18 and 10 births and 22
//! and 30 skipped runs of `kretprobe_ksys_unshare`, which add up.

use std::{
    fs,
    os::fd::{AsFd as _, AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd},
};

use anyhow::{Context as _, Result};
use aya_obj::generated::{
    bpf_cmd, bpf_link_info, bpf_link_type, bpf_perf_event_type, bpf_prog_info,
};

use crate::{hooks::Attach, loader::Session};

/// One attached program and where the kernel counts its skipped runs.
struct Watched {
    name: &'static str,
    prog: OwnedFd,
    /// The perf link of a kprobe or kretprobe, when it has one (kernels
    /// with BPF perf links, 5.15+; aya attaches with the older ioctl
    /// before).
    link: Option<OwnedFd>,
}

/// Every attached program's count of skipped runs.
pub struct Skipped {
    watched: Vec<Watched>,
    /// The latest totals, in the order of `watched`.
    totals: Vec<(&'static str, u64)>,
}

impl Skipped {
    /// Holds a descriptor of each program the session attached (and of
    /// each kprobe's link), so the counts stay readable whatever aya does
    /// with its own.
    pub fn open(session: &Session) -> Result<Skipped> {
        let mut links = perf_links_by_prog_id();
        let mut watched = Vec::new();
        for a in session.attached() {
            let name = a.prog();
            let prog = session
                .ebpf
                .program(name)
                .with_context(|| format!("program {name} is not in the eBPF object"))?
                .fd()
                .with_context(|| format!("program {name} has no descriptor"))?
                .as_fd()
                .try_clone_to_owned()
                .with_context(|| format!("duplicating the descriptor of program {name}"))?;
            let link = match a {
                Attach::Kprobe { .. } | Attach::Kretprobe { .. } => {
                    let id = prog_info(prog.as_fd())
                        .with_context(|| format!("reading the info of program {name}"))?
                        .id;
                    links.remove(&id)
                }
                _ => None,
            };
            watched.push(Watched { name, prog, link });
        }
        let totals = watched.iter().map(|w| (w.name, 0)).collect();
        Ok(Skipped { watched, totals })
    }

    /// Runs the kernel skipped, per program, since it was loaded.
    pub fn read(&mut self) -> Result<&[(&'static str, u64)]> {
        for (w, t) in self.watched.iter_mut().zip(&mut self.totals) {
            let recursion = prog_info(w.prog.as_fd())
                .with_context(|| format!("reading the run counts of program {}", w.name))?
                .recursion_misses;
            let kprobe = match w.link.as_ref().map(|l| kprobe_missed(l.as_fd())) {
                Some(Ok(n)) => n,
                Some(Err(e)) => {
                    // The program's own count still stands; only this
                    // kernel's link info is unreadable.
                    log::warn!(
                        "reading the kprobe link of program {}: {e}; its kprobe misses are not counted",
                        w.name
                    );
                    w.link = None;
                    0
                }
                None => 0,
            };
            t.1 = recursion.saturating_add(kprobe);
        }
        Ok(&self.totals)
    }
}

/// `BPF_OBJ_GET_INFO_BY_FD` into a zeroed `T`: the kernel fills what it
/// knows of it and leaves the rest zero (a newer struct than the kernel's
/// is accepted while its tail is zero).
fn obj_info<T>(fd: BorrowedFd<'_>) -> std::io::Result<T> {
    #[repr(C)]
    struct InfoAttr {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    // SAFETY: T is one of aya-obj's bindgen structs of the uapi, for which
    // all zero bytes is a valid value.
    let mut info: T = unsafe { std::mem::zeroed() };
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: size_of::<T>() as u32,
        info: (&raw mut info) as u64,
    };
    // SAFETY: attr is the `info` member of union bpf_attr, valid for the
    // call, and points at `info_len` writable bytes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            bpf_cmd::BPF_OBJ_GET_INFO_BY_FD as libc::c_long,
            &raw mut attr,
            size_of::<InfoAttr>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(info)
}

fn prog_info(fd: BorrowedFd<'_>) -> std::io::Result<bpf_prog_info> {
    obj_info(fd)
}

/// The kprobe's own missed count, 0 before 6.7 (no `missed` there) and
/// for a link that is not a kprobe's.
fn kprobe_missed(fd: BorrowedFd<'_>) -> std::io::Result<u64> {
    let info: bpf_link_info = obj_info(fd)?;
    if info.type_ != bpf_link_type::BPF_LINK_TYPE_PERF_EVENT as u32 {
        return Ok(0);
    }
    // SAFETY: a perf_event link's info fills the perf_event member; the
    // kprobe member is read only when its type says it is one.
    let perf = unsafe { info.__bindgen_anon_1.perf_event };
    let kprobe = [
        bpf_perf_event_type::BPF_PERF_EVENT_KPROBE as u32,
        bpf_perf_event_type::BPF_PERF_EVENT_KRETPROBE as u32,
    ];
    if !kprobe.contains(&perf.type_) {
        return Ok(0);
    }
    // SAFETY: as above.
    Ok(unsafe { perf.__bindgen_anon_1.kprobe.missed })
}

/// Duplicates of this process's BPF perf links, by the id of the program
/// each runs. aya 0.14 keeps a link's descriptor to itself, so it is found
/// in /proc/self/fdinfo (`link_type: perf` and `prog_id: N`, tab-separated),
/// read once at start.
fn perf_links_by_prog_id() -> std::collections::HashMap<u32, OwnedFd> {
    let mut links = std::collections::HashMap::new();
    let Ok(dir) = fs::read_dir("/proc/self/fdinfo") else {
        return links;
    };
    for entry in dir.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(text) = fs::read_to_string(entry.path()) else {
            continue;
        };
        let Some(prog_id) = perf_link_prog(&text) else {
            continue;
        };
        // SAFETY: F_DUPFD_CLOEXEC on a descriptor number only makes a new
        // descriptor (or fails, if it was closed since the listing).
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup >= 0 {
            // SAFETY: dup is a new descriptor that nothing else owns.
            links.insert(prog_id, unsafe { OwnedFd::from_raw_fd(dup) });
        }
    }
    links
}

/// The program id of a BPF perf link's fdinfo, None for any other file.
fn perf_link_prog(fdinfo: &str) -> Option<u32> {
    let field = |key: &str| {
        fdinfo
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
    };
    if field("link_type")? != "perf" {
        return None;
    }
    field("prog_id")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_perf_links_fdinfo_names_a_program() {
        let link = "pos:\t0\nflags:\t02000002\nmnt_id:\t16\nino:\t1057\nlink_type:\tperf\n\
                    link_id:\t3\nprog_tag:\t2f9b4bd8a8b2e3b1\nprog_id:\t42\n";
        assert_eq!(perf_link_prog(link), Some(42));
        let tracing = link.replace("link_type:\tperf", "link_type:\ttracing");
        assert_eq!(perf_link_prog(&tracing), None);
        let prog = "pos:\t0\nflags:\t02000002\nprog_type:\t2\nprog_jited:\t1\nprog_id:\t42\n";
        assert_eq!(perf_link_prog(prog), None, "a program's own fd is no link");
        assert_eq!(perf_link_prog("pos:\t0\nflags:\t0\n"), None);
    }
}
