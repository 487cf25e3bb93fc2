//! The ring buffer and its loss counter.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_smp_processor_id,
        bpf_ktime_get_boot_ns,
    },
    macros::map,
    maps::{PerCpuArray, RingBuf},
};
use tracer_common::{Event, EventKind, Via};

/// Every record goes through here. The daemon sizes it at load time
/// (`--buffer-size`); this is only the compiled-in default.
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 20, 0);

/// Records the ring had no room for, per CPU. The daemon turns increases
/// into `lost` events; nothing is dropped without being counted.
#[map(name = "DROPS")]
static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Wake the reader only once this many bytes wait: a wakeup per record
/// costs more than the record itself under churn. The daemon also polls on a
/// short timer, so a quiet stream is still delivered promptly.
#[unsafe(no_mangle)]
static WAKEUP_BYTES: u64 = 64 * 1024;

/// A record for the current task, with time, ids and comm filled in.
#[inline(always)]
pub fn current_event(kind: EventKind, via: Via) -> Event {
    let mut ev = Event::zeroed();
    ev.kind = kind as u32;
    ev.via = via as u32;
    ev.ts_ns = unsafe { bpf_ktime_get_boot_ns() };
    let id = bpf_get_current_pid_tgid();
    ev.pid = (id >> 32) as u32;
    ev.tid = id as u32;
    ev.target_pid = ev.pid;
    ev.target_tid = ev.tid;
    ev.comm = bpf_get_current_comm().unwrap_or([0; 16]);
    ev.cpu = unsafe { bpf_get_smp_processor_id() };
    ev
}

/// Sends `ev`, or counts it as lost.
#[inline(always)]
pub fn send(ev: &Event) {
    let threshold = unsafe { core::ptr::read_volatile(&WAKEUP_BYTES) };
    let flags = if EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= threshold {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    if EVENTS.output::<Event>(ev, flags as u64).is_err() {
        if let Some(n) = DROPS.get_ptr_mut(0) {
            unsafe { *n += 1 };
        }
    }
}
