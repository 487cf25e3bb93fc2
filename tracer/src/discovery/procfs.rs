//! Reading /proc: processes, their threads, namespace links and open fds.
//!
//! Processes come and go while we read, so every function here returns the
//! raw `io::Error` and callers decide, through [`is_gone`], whether it means
//! "vanished" (skip quietly) or a real problem (warn).

use std::fs;
use std::io;
use std::path::PathBuf;

use super::nsref::NsRef;

/// True when the error means the pid, thread or fd disappeared mid-scan.
pub fn is_gone(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOENT | libc::ESRCH))
}

fn numeric_entries(dir: &str) -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = match entry {
            Ok(e) => e,
            Err(e) if is_gone(&e) => continue,
            Err(e) => return Err(e),
        };
        if let Some(n) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Every process id, ascending.
pub fn pids() -> io::Result<Vec<u32>> {
    numeric_entries("/proc")
}

/// Every thread id of `pid`, ascending.
pub fn tids(pid: u32) -> io::Result<Vec<u32>> {
    numeric_entries(&format!("/proc/{pid}/task"))
}

/// The process's command name, escaped like the JSON contract asks.
pub fn comm(pid: u32) -> io::Result<String> {
    let raw = fs::read(format!("/proc/{pid}/comm"))?;
    let raw = raw.strip_suffix(b"\n").unwrap_or(&raw);
    Ok(escape(raw))
}

/// The command line, arguments joined by spaces; empty for kernel threads.
pub fn cmdline(pid: u32) -> io::Result<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline"))?;
    let parts: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(escape)
        .collect();
    Ok(parts.join(" "))
}

/// Bytes below 0x20, 0x7f and invalid UTF-8 become `\xNN` (docs/events.md).
pub fn escape(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if (c as u32) < 0x20 || c as u32 == 0x7f {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Field `n` of /proc/PID/stat as a number, counting from 1 as proc(5)
/// does (4 is the parent pid, 22 the start time). The command name, field
/// 2, may hold spaces and `)`: fields are counted after the last `)`.
pub fn stat_field(pid: u32, n: usize) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n.checked_sub(3)?)?.parse().ok()
}

/// Path of a thread's namespace link (`name` is `net`, `pid_for_children`, ...).
pub fn ns_link_path(pid: u32, tid: u32, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/task/{tid}/ns/{name}"))
}

/// The namespace a thread's link points to. readlink creates no nsfs inode,
/// so this is cheap and leaves no trace in the kernel.
pub fn ns_link(pid: u32, tid: u32, name: &str) -> io::Result<NsRef> {
    let path = ns_link_path(pid, tid, name);
    let target = fs::read_link(&path)?;
    let text = target.to_string_lossy();
    NsRef::parse_link(&text).ok_or_else(|| {
        io::Error::other(format!("{}: unexpected link text {text:?}", path.display()))
    })
}

/// Every open fd of `pid` with its link text (`net:[...]`, `socket:[...]`,
/// a path). Fds closed while we read are left out.
pub fn fds(pid: u32) -> io::Result<Vec<(i32, String)>> {
    let dir = format!("/proc/{pid}/fd");
    let mut out = Vec::new();
    for fd in numeric_entries(&dir)? {
        match fs::read_link(format!("{dir}/{fd}")) {
            Ok(t) => out.push((fd as i32, t.to_string_lossy().into_owned())),
            Err(e) if is_gone(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_and_invalid_bytes() {
        assert_eq!(escape(b"a\tb\x7f\xffc"), "a\\x09b\\x7f\\xffc");
        assert_eq!(escape("kworker/0:1".as_bytes()), "kworker/0:1");
    }

    #[test]
    fn own_process_is_listed() {
        let me = std::process::id();
        assert!(pids().unwrap().contains(&me));
        assert!(tids(me).unwrap().contains(&me));
        let own = fs::read_link("/proc/self/ns/net").unwrap();
        assert_eq!(
            ns_link(me, me, "net").unwrap().to_string(),
            own.to_str().unwrap()
        );
    }
}
