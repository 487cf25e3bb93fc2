//! The Linux capabilities each command needs, checked before it starts
//! instead of asking for uid 0. The sets were found by running each command
//! as an unprivileged uid with capabilities added one by one until its
//! output matched root's (README, "Privileges"):
//!
//! - loading and attaching: CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on
//!   kernels before 5.8, which have neither), CAP_DAC_READ_SEARCH for
//!   tracefs (root-only directories: the tracepoint ids and the traceable
//!   functions), CAP_SYSLOG for the addresses in /proc/kallsyms (without it
//!   they read as zero, and the workqueue fallback, which tells work items
//!   apart by them, cannot attach), and CAP_SYS_ADMIN if tracefs must be
//!   mounted;
//! - scanning /proc for namespaces and their holders: CAP_SYS_PTRACE
//!   (/proc/PID/ns and fd links of other users' processes, pidfd_getfd),
//!   CAP_DAC_READ_SEARCH (their /proc/PID/fd directories), CAP_NET_ADMIN
//!   (a socket's namespace, SIOCGSKNS), CAP_SYS_ADMIN and CAP_SYS_CHROOT
//!   (setns into a mount namespace no task is in, for its bind mounts).

use std::{fmt, fs, path::Path};

use anyhow::{bail, Result};

/// A capability, numbered as in include/uapi/linux/capability.h.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cap {
    DacReadSearch = 2,
    NetAdmin = 12,
    SysChroot = 18,
    SysPtrace = 19,
    SysAdmin = 21,
    Syslog = 34,
    Perfmon = 38,
    Bpf = 39,
}

impl Cap {
    /// The name `setcap` and `setpriv` take (`cap_bpf`; setpriv without
    /// the prefix).
    pub fn lower(self) -> &'static str {
        match self {
            Cap::DacReadSearch => "cap_dac_read_search",
            Cap::NetAdmin => "cap_net_admin",
            Cap::SysChroot => "cap_sys_chroot",
            Cap::SysPtrace => "cap_sys_ptrace",
            Cap::SysAdmin => "cap_sys_admin",
            Cap::Syslog => "cap_syslog",
            Cap::Perfmon => "cap_perfmon",
            Cap::Bpf => "cap_bpf",
        }
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lower().to_ascii_uppercase())
    }
}

/// A set of capabilities and what it is for, in a user's words.
#[derive(Clone, Copy, Debug)]
pub struct Need {
    pub caps: &'static [Cap],
    pub purpose: &'static str,
}

/// Loading and attaching the programs (`trace`, `probe`).
pub const LOAD: Need = Need {
    caps: &[Cap::Bpf, Cap::Perfmon, Cap::DacReadSearch, Cap::Syslog],
    purpose: "to load and attach eBPF programs and read tracefs and kernel symbols",
};

/// Seeing every namespace and every holder (`why`, `ls`, and `trace`'s
/// scans unless `--no-scan`).
pub const SCAN: Need = Need {
    caps: &[
        Cap::SysPtrace,
        Cap::DacReadSearch,
        Cap::NetAdmin,
        Cap::SysAdmin,
        Cap::SysChroot,
    ],
    purpose: "to see every process's namespaces, fds, sockets and mounts",
};

/// The effective set, from /proc/self/status.
pub fn effective() -> Result<u64> {
    let status = fs::read_to_string("/proc/self/status")
        .map_err(|e| anyhow::anyhow!("reading /proc/self/status for capabilities: {e}"))?;
    parse_cap_eff(&status)
        .ok_or_else(|| anyhow::anyhow!("/proc/self/status has no readable CapEff line"))
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// The capabilities `need` asks for on this kernel: before 5.8 there is no
/// CAP_BPF or CAP_PERFMON, and CAP_SYS_ADMIN stands for both.
fn on_this_kernel(need: &[Cap], last_cap: u32) -> Vec<Cap> {
    let mut out = Vec::new();
    for &c in need {
        let c = if (c as u32) > last_cap {
            Cap::SysAdmin
        } else {
            c
        };
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

fn last_cap() -> u32 {
    fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(Cap::Bpf as u32)
}

/// The capabilities of `need` that this process lacks.
pub fn missing(need: &Need) -> Result<Vec<Cap>> {
    let eff = effective()?;
    Ok(missing_from(need, eff, last_cap()))
}

fn missing_from(need: &Need, eff: u64, last_cap: u32) -> Vec<Cap> {
    on_this_kernel(need.caps, last_cap)
        .into_iter()
        .filter(|&c| eff & (1u64 << (c as u32)) == 0)
        .collect()
}

/// Fails with what `command` needs, what is missing and how to grant it,
/// unless the process has every capability of `needs`. `tracefs` is
/// mounted when it is not, which takes CAP_SYS_ADMIN too.
pub fn require(command: &str, needs: &[Need]) -> Result<()> {
    let eff = effective()?;
    let last = last_cap();
    let mut needs: Vec<Need> = needs.to_vec();
    // Only "not found" means unmounted: a mounted tracefs is root-only, so
    // an unprivileged look at it fails with EACCES.
    let unmounted = matches!(
        fs::metadata(Path::new(crate::capabilities::TRACEFS).join("events")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound
    );
    if unmounted && needs.iter().any(|n| n.caps == LOAD.caps) {
        needs.push(Need {
            caps: &[Cap::SysAdmin],
            purpose: "to mount tracefs, which is not mounted",
        });
    }
    let message = check(command, &needs, eff, last, &current_exe());
    match message {
        Some(m) => bail!("{m}"),
        None => Ok(()),
    }
}

/// The check of `trace` and `agent` (`command`): loading, and the scans
/// unless `--no-scan`.
pub fn require_for_trace(command: &str, no_scan: bool) -> Result<()> {
    if no_scan {
        require(command, &[LOAD])
    } else {
        require(command, &[LOAD, SCAN]).map_err(|e| {
            anyhow::anyhow!(
                "{e}; or pass --no-scan, which needs only the first set (and writes no \
                 linger records)"
            )
        })
    }
}

fn current_exe() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "nstrace".into())
}

/// The error for `needs` given the effective set `eff`, or None if
/// nothing is missing.
fn check(command: &str, needs: &[Need], eff: u64, last_cap: u32, exe: &str) -> Option<String> {
    let mut all: Vec<Cap> = Vec::new();
    let mut lacking: Vec<Cap> = Vec::new();
    let mut parts = Vec::new();
    for need in needs {
        let caps = on_this_kernel(need.caps, last_cap);
        parts.push(format!("{} {}", join(&caps), need.purpose));
        for c in caps {
            if !all.contains(&c) {
                all.push(c);
            }
        }
        for c in missing_from(need, eff, last_cap) {
            if !lacking.contains(&c) {
                lacking.push(c);
            }
        }
    }
    if lacking.is_empty() {
        return None;
    }
    let grant: Vec<&str> = all.iter().map(|c| c.lower()).collect();
    Some(format!(
        "{command} needs {}; it lacks {}. Run it as root (sudo), or give the binary \
         these capabilities: sudo setcap {}+ep {exe}",
        parts.join(", and "),
        join(&lacking),
        grant.join(",")
    ))
}

fn join(caps: &[Cap]) -> String {
    let names: Vec<String> = caps.iter().map(Cap::to_string).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(caps: &[Cap]) -> u64 {
        caps.iter().fold(0, |m, &c| m | 1u64 << (c as u32))
    }

    #[test]
    fn reads_cap_eff() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000000c000000000\n";
        assert_eq!(parse_cap_eff(status), Some(set(&[Cap::Bpf, Cap::Perfmon])));
        assert_eq!(parse_cap_eff("CapEff:\tzz\n"), None);
        // This process's own line parses, whoever runs the test.
        effective().unwrap();
    }

    #[test]
    fn names_what_is_missing_and_the_fix() {
        let eff = set(&[Cap::Bpf, Cap::DacReadSearch]);
        let msg = check("nstrace trace", &[LOAD], eff, 40, "/usr/bin/nstrace").unwrap();
        assert_eq!(
            msg,
            "nstrace trace needs CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH and CAP_SYSLOG to \
             load and attach eBPF programs and read tracefs and kernel symbols; it lacks \
             CAP_PERFMON and CAP_SYSLOG. Run it as root (sudo), or give the binary these \
             capabilities: sudo setcap cap_bpf,cap_perfmon,cap_dac_read_search,cap_syslog+ep \
             /usr/bin/nstrace"
        );
        let everything = set(&[
            Cap::Bpf,
            Cap::Perfmon,
            Cap::DacReadSearch,
            Cap::Syslog,
            Cap::SysPtrace,
            Cap::NetAdmin,
            Cap::SysAdmin,
            Cap::SysChroot,
        ]);
        assert_eq!(check("x", &[LOAD, SCAN], everything, 40, "x"), None);
    }

    #[test]
    fn before_cap_bpf_sys_admin_stands_in() {
        // Linux 5.7: cap_last_cap is 37 (CAP_AUDIT_READ); CAP_PERFMON (38)
        // and CAP_BPF (39) came in 5.8.
        let need = on_this_kernel(LOAD.caps, 37);
        assert_eq!(need, vec![Cap::SysAdmin, Cap::DacReadSearch, Cap::Syslog]);
        let eff = set(&[Cap::SysAdmin, Cap::DacReadSearch, Cap::Syslog]);
        assert_eq!(missing_from(&LOAD, eff, 37), vec![]);
    }
}
