//! A record as one JSON line, byte for byte what `serde_json` writes for
//! [`Record`], without serde's per-key machinery: the reader encodes one
//! record per event, and serde_json's escaping and map entries took a
//! third of its time. Keys known to hold plain text (names of kinds, types
//! and vias) are copied without an escape scan.
//!
//! `ts`, `mono_ns` and `event` are always there, so every later key starts
//! with a comma: each is written as one constant (`,"inum":`), which the
//! compiler copies inline.
//!
//! The record is destructured field by field, so a key added to
//! [`Record`] does not compile until it is encoded here too; the tests
//! compare the output with serde_json's.

use std::collections::BTreeMap;

use bytes::BytesMut;

use crate::schema::{Container, Holder, Record};

/// Where a record is encoded: standard output's `Vec`, or the log's
/// `BytesMut`.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
    fn reserve_more(&mut self, n: usize);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    #[inline]
    fn reserve_more(&mut self, n: usize) {
        self.reserve(n);
    }
}

impl Sink for BytesMut {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    #[inline]
    fn reserve_more(&mut self, n: usize) {
        self.reserve(n);
    }
}

/// Room for a record's keys and numbers, reserved once per record so that
/// the writes after it do not grow the buffer one by one.
const ROOM: usize = 1024;

/// Appends `r` as JSON (no newline) to `out`.
pub fn record(out: &mut impl Sink, r: &Record) {
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
        cgroup_id,
        // Never written out (see its docs).
        cgroup1_id: _,
        container,
        net_name,
        init_pid,
        init_comm,
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
        program,
        count,
        total,
        version,
        kernel,
        methods,
        start,
        boot_offset_ns,
    } = r;
    out.reserve_more(ROOM);
    out.put(b"{\"ts\":");
    string(out, ts);
    out.put(b",\"mono_ns\":");
    uint(out, *mono_ns);
    out.put(b",\"event\":");
    plain(out, event.name());
    if let Some(t) = ns_type {
        out.put(b",\"type\":");
        plain(out, t.name());
    }
    opt_u32(out, b",\"inum\":", *inum);
    opt_u32(out, b",\"gen\":", *gen);
    opt_u64(out, b",\"ns_id\":", *ns_id);
    opt_u32(out, b",\"pid\":", *pid);
    opt_u32(out, b",\"tid\":", *tid);
    if let Some(c) = comm {
        out.put(b",\"comm\":");
        string(out, c);
    }
    if let Some(v) = via {
        out.put(b",\"via\":");
        plain(out, v.name());
    }
    opt_u64(out, b",\"flags\":", *flags);
    opt_u32(out, b",\"child_pid\":", *child_pid);
    opt_u32(out, b",\"child_tid\":", *child_tid);
    opt_u32(out, b",\"owner\":", *owner);
    opt_u32(out, b",\"parent\":", *parent);
    opt_u64(out, b",\"cookie\":", *cookie);
    opt_u64(out, b",\"cgroup_id\":", *cgroup_id);
    if let Some(c) = container {
        out.put(b",\"container\":");
        self::container(out, c);
    }
    opt_string(out, b",\"net_name\":", net_name.as_deref());
    opt_u32(out, b",\"init_pid\":", *init_pid);
    opt_string(out, b",\"init_comm\":", init_comm.as_deref());
    opt_u64(out, b",\"batch\":", *batch);
    if let Some(v) = inums {
        out.put(b",\"inums\":");
        uints(out, v.iter().map(|&i| u64::from(i)));
    }
    if let Some(v) = delays_ns {
        out.put(b",\"delays_ns\":");
        uints(out, v.iter().copied());
    }
    opt_u64(out, b",\"duration_ns\":", *duration_ns);
    opt_u64(out, b",\"running_ns\":", *running_ns);
    opt_bool(out, b",\"walk_partial\":", *walk_partial);
    opt_u64(out, b",\"lifetime_ns\":", *lifetime_ns);
    opt_bool(out, b",\"exact\":", *exact);
    if let Some(e) = end {
        out.put(b",\"end\":");
        plain(out, e.name());
    }
    opt_u64(out, b",\"within_ns\":", *within_ns);
    opt_u64(out, b",\"since_last_task_ns\":", *since_last_task_ns);
    if let Some(hs) = holders {
        out.put(b",\"holders\":");
        list(out, hs, holder);
    }
    opt_u32(out, b",\"tasks\":", *tasks);
    opt_string(out, b",\"program\":", program.as_deref());
    opt_u64(out, b",\"count\":", *count);
    opt_u64(out, b",\"total\":", *total);
    opt_string(out, b",\"version\":", version.as_deref());
    opt_string(out, b",\"kernel\":", kernel.as_deref());
    if let Some(m) = methods {
        out.put(b",\"methods\":");
        map(out, m);
    }
    opt_string(out, b",\"start\":", start.as_deref());
    if let Some(v) = boot_offset_ns {
        out.put(b",\"boot_offset_ns\":");
        out.put(itoa::Buffer::new().format(*v).as_bytes());
    }
    out.put(b"}");
}

fn holder(out: &mut impl Sink, h: &Holder) {
    let Holder {
        kind,
        pid,
        comm,
        fd,
        path,
        detail,
        container,
        mount_points,
    } = h;
    out.reserve_more(ROOM);
    out.put(b"{\"kind\":");
    plain(out, kind.name());
    opt_u32(out, b",\"pid\":", *pid);
    opt_string(out, b",\"comm\":", comm.as_deref());
    if let Some(fd) = fd {
        out.put(b",\"fd\":");
        out.put(itoa::Buffer::new().format(*fd).as_bytes());
    }
    opt_string(out, b",\"path\":", path.as_deref());
    opt_string(out, b",\"detail\":", detail.as_deref());
    if let Some(c) = container {
        out.put(b",\"container\":");
        self::container(out, c);
    }
    if let Some(points) = mount_points {
        out.put(b",\"mount_points\":");
        list(out, points, |out, p| string(out, p));
    }
    out.put(b"}");
}

/// A JSON array of `items`, each written by `one`.
fn list<S: Sink, T>(out: &mut S, items: &[T], mut one: impl FnMut(&mut S, &T)) {
    out.put(b"[");
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.put(b",");
        }
        one(out, x);
    }
    out.put(b"]");
}

fn container(out: &mut impl Sink, c: &Container) {
    let Container {
        id,
        name,
        runtime,
        image,
        pod,
        pod_namespace,
        pod_uid,
    } = c;
    out.put(b"{\"id\":");
    string(out, id);
    opt_string(out, b",\"name\":", name.as_deref());
    out.put(b",\"runtime\":");
    plain(out, runtime.name());
    opt_string(out, b",\"image\":", image.as_deref());
    opt_string(out, b",\"pod\":", pod.as_deref());
    opt_string(out, b",\"pod_namespace\":", pod_namespace.as_deref());
    opt_string(out, b",\"pod_uid\":", pod_uid.as_deref());
    out.put(b"}");
}

fn map(out: &mut impl Sink, m: &BTreeMap<String, String>) {
    out.put(b"{");
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.put(b",");
        }
        string(out, k);
        out.put(b":");
        string(out, v);
    }
    out.put(b"}");
}

#[inline]
fn uint(out: &mut impl Sink, v: u64) {
    out.put(itoa::Buffer::new().format(v).as_bytes());
}

#[inline]
fn opt_u64(out: &mut impl Sink, key: &[u8], v: Option<u64>) {
    if let Some(v) = v {
        out.put(key);
        uint(out, v);
    }
}

#[inline]
fn opt_bool(out: &mut impl Sink, key: &[u8], v: Option<bool>) {
    if let Some(b) = v {
        out.put(key);
        out.put(if b { b"true" } else { b"false" });
    }
}

#[inline]
fn opt_u32(out: &mut impl Sink, key: &[u8], v: Option<u32>) {
    if let Some(v) = v {
        out.put(key);
        out.put(itoa::Buffer::new().format(v).as_bytes());
    }
}

fn uints(out: &mut impl Sink, v: impl Iterator<Item = u64>) {
    out.put(b"[");
    for (i, x) in v.enumerate() {
        if i > 0 {
            out.put(b",");
        }
        out.reserve_more(24);
        uint(out, x);
    }
    out.put(b"]");
}

/// A value known to need no escaping: a name of ours.
#[inline]
fn plain(out: &mut impl Sink, s: &str) {
    debug_assert!(!s.bytes().any(needs_escape), "{s:?}");
    out.put(b"\"");
    out.put(s.as_bytes());
    out.put(b"\"");
}

#[inline]
fn opt_string(out: &mut impl Sink, key: &[u8], v: Option<&str>) {
    if let Some(v) = v {
        out.put(key);
        string(out, v);
    }
}

#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether no byte of `bytes` needs an escape. Eight at a time: a word
/// has a byte below 0x20 when subtracting 0x20 from each byte borrows into
/// a high bit that was clear, and a byte equal to `"` or `\\` when XOR with
/// it leaves a zero byte (the same test against 1).
fn plain_text(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    let mut hit = 0;
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().expect("chunks of 8"));
        hit |= below(x, 0x20) | below(x ^ (ONES * 0x22), 1) | below(x ^ (ONES * 0x5c), 1);
    }
    hit == 0 && !chunks.remainder().iter().any(|&b| needs_escape(b))
}

/// A JSON string, escaped as serde_json does: `\"`, `\\`, the short forms
/// of \b \t \n \f \r, and `\u00XX` (lower-case hex) for other control bytes.
pub fn string(out: &mut impl Sink, s: &str) {
    let bytes = s.as_bytes();
    // Nearly every string needs no escape: checked eight bytes at a time,
    // then copied at once.
    if plain_text(bytes) {
        out.reserve_more(bytes.len() + 2);
        out.put(b"\"");
        out.put(bytes);
        out.put(b"\"");
        return;
    }
    out.put(b"\"");
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.put(&bytes[from..i]);
        match b {
            b'"' => out.put(b"\\\""),
            b'\\' => out.put(b"\\\\"),
            0x08 => out.put(b"\\b"),
            0x09 => out.put(b"\\t"),
            0x0a => out.put(b"\\n"),
            0x0c => out.put(b"\\f"),
            0x0d => out.put(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.put(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
            }
        }
        from = i + 1;
    }
    out.put(&bytes[from..]);
    out.put(b"\"");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tracer_common::{NsType, Via};

    use super::*;
    use crate::schema::{HolderKind, RecordKind, Runtime};

    fn ours(r: &Record) -> String {
        let mut out = Vec::new();
        record(&mut out, r);
        String::from_utf8(out).unwrap()
    }

    fn web() -> Container {
        Container {
            id: "a".repeat(64),
            name: Some("web\"1".into()),
            runtime: Runtime::CriO,
            image: Some("docker.io/library/nginx:1.27".into()),
            pod: Some("nginx-7c5d".into()),
            pod_namespace: Some("shop".into()),
            pod_uid: Some("0b6d6c1e-1f5a-4c3e-9a55-2f9d1e0c7a10".into()),
        }
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
        r.cgroup_id = Some(1 << 33);
        // Not written: serde skips it too.
        r.cgroup1_id = Some(99);
        r.container = Some(web().into());
        r.net_name = Some("/run/netns/a\"b".into());
        r.init_pid = Some(16);
        r.init_comm = Some("sh\n".into());
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
                container: Some(web().into()),
                mount_points: Some(vec!["/a\"b".into(), "/c".into()]),
            },
            Holder::default(),
        ]);
        r.tasks = Some(0);
        r.program = Some("kretprobe_ksys_unshare".into());
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
        // Only the container keys that are known.
        sparse.container = Some(Container::new(Runtime::Runc, "ctr-1").into());
        assert_eq!(ours(&sparse), serde_json::to_string(&sparse).unwrap());
    }

    #[test]
    fn every_byte_is_judged_at_every_offset() {
        for b in 0..=255u8 {
            for at in 0..17 {
                let mut bytes = vec![b'a'; 17];
                bytes[at] = b;
                assert_eq!(plain_text(&bytes), !needs_escape(b), "{b:#x} at {at}");
            }
        }
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
