//! A record as one JSON line, byte for byte what `serde_json` writes for
//! [`Record`], without serde's per-key machinery: the reader encodes one
//! record per event, and serde_json's escaping and map entries took a
//! third of its time. Keys known to hold plain text (times, names of
//! kinds, types and vias) are copied without an escape scan.
//!
//! The record is destructured field by field, so a key added to
//! [`Record`] does not compile until it is encoded here too; the tests
//! compare the output with serde_json's.

use std::collections::BTreeMap;

use crate::schema::{Holder, Record};

/// Appends `r` as JSON (no newline) to `out`.
pub fn record(out: &mut Vec<u8>, r: &Record) {
    let Record {
        ts,
        mono_ns,
        event,
        ns_type,
        inum,
        gen,
        ns_id,
        pid,
        tid,
        comm,
        via,
        flags,
        child_pid,
        child_tid,
        owner,
        parent,
        cookie,
        batch,
        inums,
        delays_ns,
        duration_ns,
        running_ns,
        walk_partial,
        lifetime_ns,
        exact,
        end,
        within_ns,
        since_last_task_ns,
        holders,
        tasks,
        count,
        total,
        version,
        kernel,
        methods,
        start,
        boot_offset_ns,
    } = r;
    let mut o = Obj::start(out);
    o.key("ts");
    o.string(ts);
    o.key("mono_ns");
    o.uint(*mono_ns);
    o.key("event");
    o.plain(event.name());
    if let Some(t) = ns_type {
        o.key("type");
        o.plain(t.name());
    }
    o.opt_uint("inum", inum.map(u64::from));
    o.opt_uint("gen", gen.map(u64::from));
    o.opt_uint("ns_id", *ns_id);
    o.opt_uint("pid", pid.map(u64::from));
    o.opt_uint("tid", tid.map(u64::from));
    o.opt_string("comm", comm.as_deref());
    if let Some(v) = via {
        o.key("via");
        o.plain(v.name());
    }
    o.opt_uint("flags", *flags);
    o.opt_uint("child_pid", child_pid.map(u64::from));
    o.opt_uint("child_tid", child_tid.map(u64::from));
    o.opt_uint("owner", owner.map(u64::from));
    o.opt_uint("parent", parent.map(u64::from));
    o.opt_uint("cookie", *cookie);
    o.opt_uint("batch", *batch);
    if let Some(v) = inums {
        o.key("inums");
        o.uints(v.iter().map(|&i| u64::from(i)));
    }
    if let Some(v) = delays_ns {
        o.key("delays_ns");
        o.uints(v.iter().copied());
    }
    o.opt_uint("duration_ns", *duration_ns);
    o.opt_uint("running_ns", *running_ns);
    o.opt_bool("walk_partial", *walk_partial);
    o.opt_uint("lifetime_ns", *lifetime_ns);
    o.opt_bool("exact", *exact);
    if let Some(e) = end {
        o.key("end");
        o.plain(e.name());
    }
    o.opt_uint("within_ns", *within_ns);
    o.opt_uint("since_last_task_ns", *since_last_task_ns);
    if let Some(hs) = holders {
        o.key("holders");
        o.out.push(b'[');
        for (i, h) in hs.iter().enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            holder(o.out, h);
        }
        o.out.push(b']');
    }
    o.opt_uint("tasks", tasks.map(u64::from));
    o.opt_uint("count", *count);
    o.opt_uint("total", *total);
    o.opt_string("version", version.as_deref());
    o.opt_string("kernel", kernel.as_deref());
    if let Some(m) = methods {
        o.key("methods");
        map(o.out, m);
    }
    o.opt_string("start", start.as_deref());
    if let Some(v) = boot_offset_ns {
        o.key("boot_offset_ns");
        o.out
            .extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
    }
    o.end();
}

fn holder(out: &mut Vec<u8>, h: &Holder) {
    let Holder {
        kind,
        pid,
        comm,
        fd,
        path,
        detail,
        mount_points,
    } = h;
    let mut o = Obj::start(out);
    o.key("kind");
    o.plain(kind.name());
    o.opt_uint("pid", pid.map(u64::from));
    o.opt_string("comm", comm.as_deref());
    if let Some(fd) = fd {
        o.key("fd");
        o.out
            .extend_from_slice(itoa::Buffer::new().format(*fd).as_bytes());
    }
    o.opt_string("path", path.as_deref());
    o.opt_string("detail", detail.as_deref());
    if let Some(points) = mount_points {
        o.key("mount_points");
        o.out.push(b'[');
        for (i, p) in points.iter().enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            string(o.out, p);
        }
        o.out.push(b']');
    }
    o.end();
}

fn map(out: &mut Vec<u8>, m: &BTreeMap<String, String>) {
    let mut o = Obj::start(out);
    for (k, v) in m {
        o.comma();
        string(o.out, k);
        o.out.push(b':');
        string(o.out, v);
    }
    o.end();
}

/// An object being written: commas between keys.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn start(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    fn comma(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    /// `"key":` for a key that needs no escaping (ours are identifiers).
    fn key(&mut self, k: &str) {
        self.comma();
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn opt_bool(&mut self, k: &str, v: Option<bool>) {
        if let Some(b) = v {
            self.key(k);
            self.out
                .extend_from_slice(if b { b"true" } else { b"false" });
        }
    }

    fn uint(&mut self, v: u64) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    fn uints(&mut self, v: impl Iterator<Item = u64>) {
        self.out.push(b'[');
        for (i, x) in v.enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.uint(x);
        }
        self.out.push(b']');
    }

    fn opt_uint(&mut self, k: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.key(k);
            self.uint(v);
        }
    }

    /// A value known to need no escaping: a name of ours.
    fn plain(&mut self, s: &str) {
        debug_assert!(!s.bytes().any(needs_escape), "{s:?}");
        self.out.push(b'"');
        self.out.extend_from_slice(s.as_bytes());
        self.out.push(b'"');
    }

    fn string(&mut self, s: &str) {
        string(self.out, s);
    }

    fn opt_string(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.key(k);
            self.string(v);
        }
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// A JSON string, escaped as serde_json does: `\"`, `\\`, the short forms
/// of \b \t \n \f \r, and `\u00XX` (lower-case hex) for other control bytes.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[from..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tracer_common::{NsType, Via};

    use super::*;
    use crate::schema::{HolderKind, RecordKind};

    fn ours(r: &Record) -> String {
        let mut out = Vec::new();
        record(&mut out, r);
        String::from_utf8(out).unwrap()
    }

    /// Every key set, with text that needs every kind of escape.
    fn full() -> Record {
        let mut r = Record::new(
            RecordKind::Linger,
            u64::MAX,
            "2026-11-29T00:55:52.123456789Z".into(),
        );
        r.ns_type = Some(NsType::Net);
        r.inum = Some(u32::MAX);
        r.gen = Some(7);
        r.ns_id = Some(1 << 40);
        r.pid = Some(1);
        r.tid = Some(2);
        r.comm = Some("a\"b\\c\u{1}\u{1f}\n\t\r\u{8}\u{c}\u{7f}é".into());
        r.via = Some(Via::Clone3);
        r.flags = Some(0x4000_0000);
        r.child_pid = Some(3);
        r.child_tid = Some(4);
        r.owner = Some(5);
        r.parent = Some(6);
        r.cookie = Some(7);
        r.batch = Some(8);
        r.inums = Some(vec![1, 2, 3]);
        r.delays_ns = Some(vec![]);
        r.duration_ns = Some(9);
        r.running_ns = Some(10);
        r.walk_partial = Some(true);
        r.lifetime_ns = Some(0);
        r.exact = Some(false);
        r.end = Some(crate::schema::DeathEnd::Unidentified);
        r.within_ns = Some(15);
        r.since_last_task_ns = Some(11);
        r.holders = Some(vec![
            Holder {
                kind: HolderKind::Fd,
                pid: Some(12),
                comm: Some("sleep".into()),
                fd: Some(-3),
                path: Some("/proc/12/fd/3".into()),
                detail: Some("x\"y".into()),
                mount_points: Some(vec!["/a\"b".into(), "/c".into()]),
            },
            Holder::default(),
        ]);
        r.tasks = Some(0);
        r.count = Some(13);
        r.total = Some(14);
        r.version = Some("0.1.0".into());
        r.kernel = Some("6.18.44".into());
        r.methods = Some(
            [("clone".to_string(), "tracepoint".to_string())]
                .into_iter()
                .collect(),
        );
        r.start = Some("2026-11-29T00:00:00Z".into());
        r.boot_offset_ns = Some(-42);
        r
    }

    #[test]
    fn every_key_as_serde_json_writes_it() {
        let r = full();
        assert_eq!(ours(&r), serde_json::to_string(&r).unwrap());
        let mut sparse = Record::new(RecordKind::Lost, 0, String::new());
        sparse.exact = Some(true);
        assert_eq!(ours(&sparse), serde_json::to_string(&sparse).unwrap());
        sparse.methods = Some(BTreeMap::new());
        assert_eq!(ours(&sparse), serde_json::to_string(&sparse).unwrap());
    }

    proptest! {
        #[test]
        fn any_text_is_escaped_as_serde_json_does(s in any::<String>(), t in "[\\x00-\\x7f]{0,40}") {
            let mut r = full();
            r.comm = Some(s);
            r.ts = t;
            prop_assert_eq!(ours(&r), serde_json::to_string(&r).unwrap());
        }
    }
}
