//! Run time of each eBPF program a tracer holds, from the kernel's own
//! accounting: while BPF_ENABLE_STATS is on, every program run adds its
//! duration and one run to the program's info (aya's `enable_stats` and
//! `loaded_programs`). This separates what the programs cost from what merely
//! having a syscall tracepoint attached costs (the syscall slow path and
//! the perf-event dispatch), which no user-space clock can tell apart.

use std::{collections::BTreeMap, fs, os::fd::OwnedFd};

use anyhow::{Context as _, Result};
use aya::{
    programs::{loaded_programs, ProgramInfo},
    sys::{enable_stats, Stats},
};

/// Run-time statistics are on while this lives: the kernel turns them off
/// when the last such fd closes, so a crashed bench leaves them off too
/// (unlike writing /proc/sys/kernel/bpf_stats_enabled).
pub struct StatsOn {
    _fd: OwnedFd,
}

impl StatsOn {
    pub fn new() -> Result<StatsOn> {
        let fd = enable_stats(Stats::RunTime).context("bpf(BPF_ENABLE_STATS)")?;
        Ok(StatsOn { _fd: fd })
    }
}

#[derive(Clone, Debug)]
pub struct ProgStat {
    /// The kernel's id: names are cut to 15 bytes and may repeat.
    pub id: u32,
    pub name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
}

/// Every eBPF program process `pid` holds an fd of, by program id.
pub fn of_process(pid: u32) -> Result<Vec<ProgStat>> {
    let ids = of_process_ids(pid)?;
    let mut progs: BTreeMap<u32, ProgStat> = BTreeMap::new();
    // A program may be unloaded while we look: skip what fails.
    for info in loaded_programs().filter_map(Result::ok) {
        if ids.contains(&info.id()) {
            progs.insert(
                info.id(),
                ProgStat {
                    id: info.id(),
                    name: name(&info),
                    run_cnt: info.run_count(),
                    run_time_ns: u64::try_from(info.run_time().as_nanos()).unwrap_or(u64::MAX),
                },
            );
        }
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
    // A program may be unloaded while we look: skip what fails.
    for info in loaded_programs().filter_map(Result::ok) {
        let name = name(&info);
        if !mine.contains(&info.id()) && name.contains("unsha") {
            names.push(name);
        }
    }
    Ok(names)
}

/// The program's name as loaded (at most 15 bytes: the kernel cuts it).
fn name(info: &ProgramInfo) -> String {
    String::from_utf8_lossy(info.name()).into_owned()
}

/// Ids of the programs process `pid` holds an fd of, from its fdinfo.
fn of_process_ids(pid: u32) -> Result<Vec<u32>> {
    let dir = format!("/proc/{pid}/fdinfo");
    let mut ids = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        // An fd may close while we look: skip it.
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
