//! The default column output: one line per event, for a terminal.

use std::fmt::Write as _;

use tracer_common::{NsType, Via};

use crate::{sanitize::Esc, schema::Record};

/// The header line matching [`line`].
pub const HEADER: &str = "TIME            EVENT          TYPE    INUM        PID     COMM             CONTAINER    DETAILS";

/// Width of the CONTAINER column; longer names are cut to it.
const CONTAINER_WIDTH: usize = 12;

/// One event as columns: time, event, type, inode, pid, comm, container,
/// details.
pub fn line(r: &Record) -> String {
    let mut out = Vec::new();
    write_line(&mut out, r);
    String::from_utf8(out).expect("columns are built from UTF-8 text")
}

/// [`line`], appended to `out` without its own allocations (the common
/// keys go straight into the buffer).
pub fn write_line(out: &mut Vec<u8>, r: &Record) {
    use std::io::Write as _;
    let start = out.len();
    // HH:MM:SS.ffffff from the RFC 3339 stamp: the date is noise on a
    // terminal, and the JSON output keeps it.
    let time = r.ts.get(11..26).unwrap_or(&r.ts);
    let container = r.container.as_ref().map_or("-", |c| {
        let name = c.short_name();
        name.char_indices()
            .nth(CONTAINER_WIDTH)
            .map_or(name, |(i, _)| &name[..i])
    });
    let _ = write!(
        out,
        "{time:<15} {:<14} {:<7} {:<11} {:<7} {:<16} {:<CONTAINER_WIDTH$}",
        r.event.name(),
        r.ns_type.map(NsType::name).unwrap_or("-"),
        Dash(r.inum),
        Dash(r.pid),
        Esc(r.comm.as_deref().unwrap_or("-")),
        Esc(container),
    );
    let mut d = String::new();
    details(&mut d, r);
    if !d.is_empty() {
        out.push(b' ');
        out.extend_from_slice(d.trim_start().as_bytes());
    }
    while out.len() > start && out.last() == Some(&b' ') {
        out.pop();
    }
}

/// A number, or `-` when absent, padded like a string.
struct Dash(Option<u32>);

impl std::fmt::Display for Dash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            // u32's Display honours width and alignment.
            Some(n) => n.fmt(f),
            None => f.pad("-"),
        }
    }
}

fn details(d: &mut String, r: &Record) {
    if let Some(via) = &r.via {
        let _ = write!(d, " via={via}");
    }
    if let (Some(flags), Some(via)) = (r.flags, r.via) {
        let names = if via == Via::Setns {
            nstype_name(flags)
        } else {
            clone_flag_names(flags)
        };
        let _ = write!(d, " flags={names}");
    }
    if let Some(c) = r.child_pid {
        let _ = write!(d, " child={c}");
    }
    if let Some(o) = r.owner {
        let _ = write!(d, " owner=user:[{o}]");
    }
    if let Some(p) = r.parent {
        let t = r.ns_type.map(NsType::name).unwrap_or("?");
        let _ = write!(d, " parent={t}:[{p}]");
    }
    if let Some(g) = r.gen {
        let _ = write!(d, " gen={g}");
    }
    if let Some(n) = &r.net_name {
        let _ = write!(d, " name={}", Esc(n));
    }
    if let (Some(p), Some(c)) = (r.init_pid, &r.init_comm) {
        let _ = write!(d, " init={p}({})", Esc(c));
    }
    if let Some(l) = r.lifetime_ns {
        let _ = write!(d, " lifetime={}", seconds(l));
    }
    if let Some(e) = r.end {
        let _ = write!(d, " end={}", e.name());
    }
    if let Some(w) = r.within_ns {
        let _ = write!(d, " within={}", seconds(w));
    }
    if let Some(inums) = &r.inums {
        let _ = write!(d, " nets={inums:?}");
    }
    if let Some(x) = r.duration_ns.or(r.running_ns) {
        let _ = write!(d, " for={}", seconds(x));
    }
    if let Some(p) = &r.program {
        let _ = write!(d, " program={}", Esc(p));
    }
    if let Some(c) = r.count {
        let _ = write!(d, " count={c} total={}", r.total.unwrap_or(c));
    }
    if let Some(h) = &r.holders {
        let shown: Vec<String> = h.iter().map(holder).collect();
        let _ = write!(d, " holders={}", shown.join(","));
    }
}

/// `bind_mount:/run/netns/x`, `fd:1234/5`, `task:1234`: enough to act on.
fn holder(h: &crate::schema::Holder) -> String {
    match (&h.path, h.pid, h.fd) {
        (_, Some(pid), Some(fd)) => format!("{}:{pid}/{fd}", h.kind),
        (Some(path), _, _) => format!("{}:{}", h.kind, Esc(path)),
        (None, Some(pid), None) => format!("{}:{pid}", h.kind),
        (None, None, _) => h.kind.to_string(),
    }
}

fn seconds(ns: u64) -> String {
    format!("{:.3}s", ns as f64 / 1e9)
}

/// `CLONE_NEWNET|CLONE_NEWUTS` for the namespace bits of clone/unshare
/// flags, with any other bits in hex.
pub fn clone_flag_names(flags: u64) -> String {
    let mut parts = Vec::new();
    let mut rest = flags;
    for t in NsType::ALL {
        if flags & t.clone_flag() != 0 {
            parts.push(format!(
                "CLONE_NEW{}",
                t.name().to_uppercase().replace("MNT", "NS")
            ));
            rest &= !t.clone_flag();
        }
    }
    if rest != 0 || parts.is_empty() {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

/// setns' nstype: 0 (any) or one or more CLONE_NEW* flags.
fn nstype_name(nstype: u64) -> String {
    if nstype == 0 {
        "0".to_string()
    } else {
        clone_flag_names(nstype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::RecordKind;

    #[test]
    fn flag_names() {
        assert_eq!(
            clone_flag_names(0x4000_0000 | 0x0002_0000),
            "CLONE_NEWNS|CLONE_NEWNET"
        );
        assert_eq!(clone_flag_names(0x4000_0000 | 0x11), "CLONE_NEWNET|0x11");
        assert_eq!(clone_flag_names(0), "0x0");
    }

    #[test]
    fn a_birth_line() {
        let mut r = Record::new(
            RecordKind::Birth,
            1,
            "2026-11-29T00:55:52.123456789Z".into(),
        );
        r.ns_type = Some(NsType::Net);
        r.inum = Some(4026532115);
        r.pid = Some(1234);
        r.comm = Some("unshare".into());
        r.via = Some(Via::Unshare);
        r.flags = Some(0x4000_0000);
        r.owner = Some(4026531837);
        assert_eq!(
            line(&r),
            "00:55:52.123456 birth          net     4026532115  1234    unshare          -            \
             via=unshare flags=CLONE_NEWNET owner=user:[4026531837]"
        );
    }

    #[test]
    fn lost_lines_name_the_program_whose_runs_were_skipped() {
        let mut r = Record::new(RecordKind::Lost, 1, "2026-11-29T00:55:52.123456789Z".into());
        r.count = Some(3);
        r.total = Some(8);
        assert!(line(&r).ends_with(" count=3 total=8"), "{}", line(&r));
        r.program = Some("kretprobe_ksys_unshare".into());
        assert!(
            line(&r).ends_with(" program=kretprobe_ksys_unshare count=3 total=8"),
            "{}",
            line(&r)
        );
    }

    #[test]
    fn a_container_birth_line() {
        let mut r = Record::new(
            RecordKind::Birth,
            1,
            "2026-11-29T00:55:52.123456789Z".into(),
        );
        r.ns_type = Some(NsType::Pid);
        r.inum = Some(4026532251);
        r.pid = Some(24573);
        r.comm = Some("runc:[1:CHILD]".into());
        r.via = Some(Via::Unshare);
        r.gen = Some(1);
        r.init_pid = Some(24575);
        r.init_comm = Some("sleep".into());
        let mut c = crate::schema::Container::new(
            crate::schema::Runtime::Docker,
            "8c4c00752dad639582dcc7ee460a3c58bd33f8407410ae409f5b56f9b5c77304",
        );
        r.container = Some(c.clone().into());
        assert_eq!(
            line(&r),
            "00:55:52.123456 birth          pid     4026532251  24573   runc:[1:CHILD]   8c4c00752dad \
             via=unshare gen=1 init=24575(sleep)"
        );
        c.name = Some("a-rather-long-container-name".into());
        r.container = Some(c.into());
        assert!(line(&r).contains(" a-rather-lon via="), "{}", line(&r));
    }
}
