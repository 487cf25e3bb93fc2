//! Run time of each eBPF program a tracer holds, from the kernel's own
//! accounting: while BPF_ENABLE_STATS is on, every program run adds its
//! duration to `run_time_ns` and one to `run_cnt` in the fdinfo of the
//! program's fd. This separates what the programs cost from what merely
//! having a syscall tracepoint attached costs (the syscall slow path and
//! the perf-event dispatch), which no user-space clock can tell apart.

use std::{collections::BTreeMap, fs, io, os::fd::RawFd};

use anyhow::{bail, Context as _, Result};

// include/uapi/linux/bpf.h (v6.18): enum bpf_cmd and enum bpf_stats_type.
const BPF_PROG_GET_NEXT_ID: libc::c_long = 11;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_ENABLE_STATS: libc::c_long = 32;
const BPF_STATS_RUN_TIME: u32 = 0;
/// `struct bpf_prog_info`: `name[16]` follows 64 bytes of earlier fields.
const PROG_INFO_NAME_OFFSET: usize = 64;
const BPF_OBJ_NAME_LEN: usize = 16;

/// Run-time statistics are on while this lives: the kernel turns them off
/// when the last such fd closes, so a crashed bench leaves them off too
/// (unlike writing /proc/sys/kernel/bpf_stats_enabled).
pub struct StatsOn {
    fd: RawFd,
}

impl StatsOn {
    pub fn new() -> Result<StatsOn> {
        let mut attr = [0u8; 16];
        attr[..4].copy_from_slice(&BPF_STATS_RUN_TIME.to_ne_bytes());
        let fd = bpf(BPF_ENABLE_STATS, &mut attr).context("bpf(BPF_ENABLE_STATS)")?;
        Ok(StatsOn { fd })
    }
}

impl Drop for StatsOn {
    fn drop(&mut self) {
        // SAFETY: our own fd, closed once.
        unsafe { libc::close(self.fd) };
    }
}

#[derive(Clone, Debug)]
pub struct ProgStat {
    pub name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
}

/// Every eBPF program process `pid` holds an fd of, by program id.
pub fn of_process(pid: u32) -> Result<Vec<ProgStat>> {
    let dir = format!("/proc/{pid}/fdinfo");
    let mut progs: BTreeMap<u32, ProgStat> = BTreeMap::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let path = entry?.path();
        // An fd may close while we look: skip it.
        let Ok(info) = fs::read_to_string(&path) else {
            continue;
        };
        let field = |key: &str| -> Option<u64> {
            info.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse().ok())
        };
        let Some(id) = field("prog_id:") else {
            continue;
        };
        let id = u32::try_from(id).context("prog_id out of range")?;
        progs.entry(id).or_insert(ProgStat {
            name: prog_name(id).unwrap_or_else(|e| format!("id {id} ({e:#})")),
            run_cnt: field("run_cnt:").unwrap_or(0),
            run_time_ns: field("run_time_ns:").unwrap_or(0),
        });
    }
    Ok(progs.into_values().collect())
}

/// Names of the eBPF programs loaded on the machine whose name says they
/// hook unshare (nstrace's and bpftrace's both do), other than those of
/// `ours`. Another user's tracer on the same tracepoints makes a "bare"
/// run pay for it too.
pub fn unshare_programs_except(ours: &[u32]) -> Result<Vec<String>> {
    let mine: Vec<u32> = ours
        .iter()
        .filter_map(|pid| of_process_ids(*pid).ok())
        .flatten()
        .collect();
    let mut names = Vec::new();
    let mut id = 0u32;
    loop {
        let mut attr = [0u8; 16];
        attr[..4].copy_from_slice(&id.to_ne_bytes());
        if bpf(BPF_PROG_GET_NEXT_ID, &mut attr).is_err() {
            // ENOENT: no program after `id`.
            break;
        }
        id = u32::from_ne_bytes(attr[4..8].try_into().expect("4 bytes"));
        if mine.contains(&id) {
            continue;
        }
        // A program may be unloaded while we look.
        if let Ok(name) = prog_name(id) {
            if name.contains("unsha") {
                names.push(name);
            }
        }
    }
    Ok(names)
}

fn of_process_ids(pid: u32) -> Result<Vec<u32>> {
    let dir = format!("/proc/{pid}/fdinfo");
    let mut ids = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let Ok(info) = fs::read_to_string(entry?.path()) else {
            continue;
        };
        if let Some(id) = info
            .lines()
            .find_map(|l| l.strip_prefix("prog_id:"))
            .and_then(|v| v.trim().parse().ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The program's name as loaded (at most 15 bytes: the kernel cuts it).
fn prog_name(id: u32) -> Result<String> {
    let mut attr = [0u8; 24];
    attr[..4].copy_from_slice(&id.to_ne_bytes());
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).context("bpf(BPF_PROG_GET_FD_BY_ID)")?;
    let mut info = [0u8; PROG_INFO_NAME_OFFSET + BPF_OBJ_NAME_LEN];
    let mut attr = [0u8; 16];
    attr[..4].copy_from_slice(&(fd as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(info.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(info.as_mut_ptr() as u64).to_ne_bytes());
    let r = bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr);
    // SAFETY: the fd the kernel just gave us, closed once.
    unsafe { libc::close(fd) };
    r.context("bpf(BPF_OBJ_GET_INFO_BY_FD)")?;
    let name = &info[PROG_INFO_NAME_OFFSET..];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(String::from_utf8_lossy(&name[..end]).into_owned())
}

/// The bpf(2) syscall. Every pointer inside `attr` must point at live
/// memory of the length the command expects.
pub fn bpf(cmd: libc::c_long, attr: &mut [u8]) -> Result<RawFd> {
    // SAFETY: attr is a live buffer of the length passed; the pointers in
    // it are the caller's to keep valid (see above).
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        bail!("{}", io::Error::last_os_error());
    }
    Ok(r as RawFd)
}
