//! Turns ring-buffer records into JSON Lines records: names for numbers,
//! wall-clock time for boot time, and escaped command names.

use std::fmt::Write as _;

use tracer_common::{Event, EventKind, NsType, Via, COMM_LEN};

use crate::schema::{Record, RecordKind};

/// Converts the kernel's CLOCK_BOOTTIME to wall-clock time. The offset is
/// taken once at start: stepping the wall clock later does not reorder
/// events, which keep `mono_ns` for that.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// CLOCK_REALTIME minus CLOCK_BOOTTIME, in ns.
    pub boot_offset_ns: i64,
}

impl Clock {
    /// Reads both clocks now.
    pub fn now() -> Clock {
        let real = clock_ns(libc::CLOCK_REALTIME);
        let boot = clock_ns(libc::CLOCK_BOOTTIME);
        Clock {
            boot_offset_ns: real - boot,
        }
    }

    /// CLOCK_BOOTTIME now, in ns: the same clock as `Event::ts_ns`.
    pub fn boot_ns() -> u64 {
        clock_ns(libc::CLOCK_BOOTTIME) as u64
    }

    /// RFC 3339 UTC with nanoseconds for a CLOCK_BOOTTIME instant.
    pub fn rfc3339(&self, mono_ns: u64) -> String {
        rfc3339_utc(mono_ns as i64 + self.boot_offset_ns)
    }
}

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write to; both clocks exist on every
    // kernel nstrace can load on (CLOCK_BOOTTIME since 2.6.39).
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Formats ns since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`,
/// always with nine fraction digits so the log's timestamps sort as text.
///
/// jiff does the calendar; the reader formats one stamp per record, so the
/// whole-second part is kept from the previous call (records arrive in
/// time order, many per second) and only the nine digits are written anew.
pub fn rfc3339_utc(epoch_ns: i64) -> String {
    thread_local! {
        static LAST: std::cell::Cell<(i64, [u8; 19])> = const { std::cell::Cell::new((i64::MIN, [0; 19])) };
    }
    let secs = epoch_ns.div_euclid(1_000_000_000);
    let nanos = epoch_ns.rem_euclid(1_000_000_000) as u64;
    let (cached, mut prefix) = LAST.get();
    if cached != secs {
        prefix = whole_second(secs);
        LAST.set((secs, prefix));
    }
    let mut b = Vec::with_capacity(30);
    b.extend_from_slice(&prefix);
    b.push(b'.');
    let mut digits = [0u8; 9];
    put_digits(&mut digits, nanos);
    b.extend_from_slice(&digits);
    b.push(b'Z');
    debug_assert!(b.is_ascii());
    // SAFETY: every byte is an ASCII digit or one of jiff's ASCII
    // separators; checking that again cost a tenth of the reader's time
    // per record.
    unsafe { String::from_utf8_unchecked(b) }
}

/// `YYYY-MM-DDTHH:MM:SS` for a second since the epoch, by jiff.
fn whole_second(secs: i64) -> [u8; 19] {
    // Every i64 of nanoseconds (years 1677 to 2262) is inside jiff's range.
    let ts = jiff::Timestamp::from_second(secs).expect("i64 nanoseconds are within jiff's range");
    let text = jiff::fmt::temporal::DateTimePrinter::new()
        .precision(Some(0))
        .timestamp_to_string(&ts);
    let mut out = [0u8; 19];
    out.copy_from_slice(&text.as_bytes()[..19]);
    out
}

/// Writes `v` into `out` as decimal, zero-padded to its length.
fn put_digits(out: &mut [u8], mut v: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// A task's comm as text a terminal and a JSON reader can take: up to the
/// first NUL, with control bytes, DEL, backslash and bytes that are not UTF-8
/// written as `\xNN`. A process can name itself with terminal escapes.
pub fn escape_comm(comm: &[u8; COMM_LEN]) -> String {
    let len = comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
    let bytes = &comm[..len];
    // Nearly every comm is printable ASCII: copy it as it is.
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        // SAFETY: printable ASCII, checked just above.
        return unsafe { String::from_utf8_unchecked(bytes.to_vec()) };
    }
    let mut out = String::with_capacity(len);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' {
                for b in c.to_string().bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// The record for one kernel event, before the lifecycle engine adds
/// generation and lifetime. `None` for a record whose kind this version does
/// not know (a newer eBPF object than daemon cannot happen: both are built
/// together, so this only guards against corruption).
pub fn record_from_event(ev: &Event, clock: &Clock) -> Option<Record> {
    let kind = EventKind::from_u32(ev.kind)?;
    let rkind = match kind {
        EventKind::Birth => RecordKind::Birth,
        EventKind::Join => RecordKind::Join,
        EventKind::Evict => RecordKind::Evict,
        EventKind::Put => RecordKind::Put,
        EventKind::CleanupStart => RecordKind::CleanupStart,
        EventKind::CleanupEnd => RecordKind::CleanupEnd,
        EventKind::Death => RecordKind::Death,
    };
    let mut r = Record::new(rkind, ev.ts_ns, clock.rfc3339(ev.ts_ns));
    let ns_type = NsType::from_u32(ev.ns_type);
    r.ns_type = ns_type;
    if ns_type.is_some() {
        r.inum = Some(ev.inum);
    }
    if ev.ns_id != 0 {
        r.ns_id = Some(ev.ns_id);
    }
    let via = Via::from_u32(ev.via).unwrap_or(Via::None);
    if matches!(kind, EventKind::Birth | EventKind::Join) {
        r.pid = Some(ev.pid);
        r.tid = Some(ev.tid);
        r.comm = Some(escape_comm(&ev.comm));
        r.via = Some(via);
        r.flags = Some(ev.flags);
        if matches!(via, Via::Clone | Via::Clone3 | Via::Fork) {
            r.child_pid = Some(ev.target_pid);
            r.child_tid = Some(ev.target_tid);
        }
        if ev.owner_inum != 0 {
            r.owner = Some(ev.owner_inum);
        }
        if kind == EventKind::Birth
            && matches!(ns_type, Some(NsType::Pid | NsType::User))
            && ev.parent_inum != 0
        {
            r.parent = Some(ev.parent_inum);
        }
        r.cgroup_id = (ev.cgroup_id != 0).then_some(ev.cgroup_id);
        r.cgroup1_id = (ev.cgroup1_id != 0).then_some(ev.cgroup1_id);
    } else if ev.pid != 0 {
        // Puts, evictions and deaths happen in some task's context, often a
        // kworker; useful when asking what finally released a namespace.
        r.pid = Some(ev.pid);
        r.tid = Some(ev.tid);
        r.comm = Some(escape_comm(&ev.comm));
    }
    if ns_type == Some(NsType::Net) && ev.aux != 0 && kind == EventKind::Put {
        r.cookie = Some(ev.aux);
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339_utc(1_795_913_752_123_456_789),
            "2026-11-29T00:55:52.123456789Z"
        );
        // A leap day and a negative instant.
        assert_eq!(
            rfc3339_utc(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(rfc3339_utc(i64::MAX), "2262-04-11T23:47:16.854775807Z");
    }

    #[test]
    fn rfc3339_matches_jiff_whatever_the_order() {
        let by_jiff = |epoch_ns: i64| {
            let ts = jiff::Timestamp::from_nanosecond(i128::from(epoch_ns)).unwrap();
            jiff::fmt::temporal::DateTimePrinter::new()
                .precision(Some(9))
                .timestamp_to_string(&ts)
        };
        let mut t = i64::MIN;
        // Steps that visit every digit position, both signs and the ends,
        // and each instant again one second back: the cached second must
        // never leak into another.
        for _ in 0..20_000 {
            assert_eq!(rfc3339_utc(t), by_jiff(t), "{t}");
            let back = t.saturating_sub(1_000_000_000);
            assert_eq!(rfc3339_utc(back), by_jiff(back), "{back}");
            t = t.saturating_add(922_337_203_685_477 + 7_919);
        }
        assert_eq!(rfc3339_utc(i64::MAX), by_jiff(i64::MAX));
    }

    #[test]
    fn comm_escapes_terminal_control() {
        let mut comm = [0u8; COMM_LEN];
        comm[..11].copy_from_slice(b"\x1b[31mred\\\xff\x7f");
        assert_eq!(escape_comm(&comm), "\\x1b[31mred\\x5c\\xff\\x7f");
        let full = *b"0123456789abcdef";
        assert_eq!(escape_comm(&full), "0123456789abcdef");
    }

    #[test]
    fn birth_by_clone_names_the_child() {
        let mut ev = Event::zeroed();
        ev.kind = EventKind::Birth as u32;
        ev.ns_type = NsType::Pid as u32;
        ev.inum = 4026532200;
        ev.owner_inum = 4026531837;
        ev.parent_inum = 4026531836;
        ev.via = Via::Clone3 as u32;
        ev.flags = NsType::Pid.clone_flag();
        ev.pid = 10;
        ev.tid = 11;
        ev.target_pid = 12;
        ev.target_tid = 12;
        ev.comm[..2].copy_from_slice(b"sh");
        let clock = Clock { boot_offset_ns: 0 };
        let r = record_from_event(&ev, &clock).unwrap();
        assert_eq!(r.event, RecordKind::Birth);
        assert_eq!(r.ns_type, Some(NsType::Pid));
        assert_eq!(r.via, Some(Via::Clone3));
        assert_eq!((r.pid, r.child_pid), (Some(10), Some(12)));
        assert_eq!(r.parent, Some(4026531836));
        assert_eq!(r.owner, Some(4026531837));
        assert_eq!((r.cgroup_id, r.cgroup1_id), (None, None));

        ev.cgroup_id = 0x25;
        ev.cgroup1_id = 0x77;
        let r = record_from_event(&ev, &clock).unwrap();
        assert_eq!((r.cgroup_id, r.cgroup1_id), (Some(0x25), Some(0x77)));

        ev.kind = 99;
        assert!(record_from_event(&ev, &clock).is_none());
    }
}
