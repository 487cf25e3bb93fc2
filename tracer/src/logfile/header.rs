//! The `header` record that starts every log file.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::decode::Clock;
use crate::schema::{Record, RecordKind};

/// A header for a trace that began at `started_ns` (boot clock): this
/// nstrace's version, the running kernel's release, how each hook is
/// attached (`methods`: hook → `fentry`/`kprobe`/`tracepoint`/`missing`)
/// and the wall-clock start. `started_ns` must be taken before the first
/// program is attached: a program records from its attach on, and a record
/// older than its log's header reads as time running backwards.
pub fn header_record(
    methods: BTreeMap<String, String>,
    clock: &Clock,
    started_ns: u64,
) -> anyhow::Result<Record> {
    let ts = clock.rfc3339(started_ns);
    let mut r = Record::new(RecordKind::Header, started_ns, ts.clone());
    r.version = Some(super::OUR_VERSION.to_string());
    r.kernel = Some(kernel_release()?);
    r.methods = Some(methods);
    r.start = Some(ts);
    r.boot_offset_ns = Some(clock.boot_offset_ns);
    Ok(r)
}

fn kernel_release() -> anyhow::Result<String> {
    // SAFETY: utsname is plain bytes; uname(2) fills it and cannot fail with
    // a valid pointer, but the result is checked anyway.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } != 0 {
        return Err(std::io::Error::last_os_error()).context("uname(2) failed");
    }
    let bytes: Vec<u8> = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
