//! The ring buffer and its loss counter.
//!
//! Records are filled in place in reserved ring memory, field by field: a
//! record built on the stack and copied, or a zero-initialised array, makes
//! LLVM call a byte-wise memset/memcpy that the verifier walks one byte at a
//! time, and eight of those per program exceed its instruction budget.

use core::ptr::addr_of_mut;

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{
        bpf_get_current_pid_tgid, bpf_get_current_task, bpf_get_smp_processor_id,
        bpf_ktime_get_boot_ns,
        generated::{bpf_get_current_cgroup_id, bpf_get_current_comm},
    },
    macros::map,
    maps::{ring_buf::RingBufEntry, PerCpuArray, RingBuf},
};
use tracer_common::{Event, EventKind, Via, COMM_LEN};

use crate::nsread;

/// Every record goes through here. The daemon sizes it at load time
/// (`--buffer-kib`); this is only the compiled-in default.
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 20, 0);

/// Records the ring had no room for, per CPU. The daemon turns increases
/// into `lost` events; nothing is dropped without being counted.
#[map(name = "DROPS")]
static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Wake the reader only once this many bytes wait: a wakeup per record
/// costs more than the record itself under churn. The daemon also drains on
/// a short timer, so a quiet stream is still delivered promptly.
#[unsafe(no_mangle)]
static WAKEUP_BYTES: u64 = 64 * 1024;

/// A reserved record, every field already written.
pub struct Draft {
    entry: RingBufEntry<Event>,
}

/// Writes one field of the record behind a raw pointer.
macro_rules! set {
    ($ev:expr, $field:ident, $value:expr) => {{
        let value = $value;
        // SAFETY: $ev points at a reserved ring-buffer record (or a stack
        // Event), valid for writes of the whole record.
        unsafe { core::ptr::addr_of_mut!((*$ev).$field).write(value) }
    }};
}
pub(crate) use set;

impl Draft {
    /// The record, to set kind-specific fields with [`set!`].
    #[inline(always)]
    pub fn ev(&mut self) -> *mut Event {
        self.entry.as_mut_ptr()
    }

    /// Hands the record to the reader, waking it only past the threshold.
    #[inline(always)]
    pub fn send(self) {
        let threshold = unsafe { core::ptr::read_volatile(&WAKEUP_BYTES) };
        let flags = if EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= threshold {
            BPF_RB_FORCE_WAKEUP
        } else {
            BPF_RB_NO_WAKEUP
        };
        self.entry.submit(flags as u64);
    }
}

/// Reserves a record for the current task with time, ids and comm filled in
/// (and, for births and joins, its cgroups) and every other field zero.
/// `None` (counted as a drop) if the ring is full.
#[inline(always)]
pub fn begin(kind: EventKind, via: Via) -> Option<Draft> {
    let Some(mut entry) = EVENTS.reserve::<Event>(0) else {
        if let Some(n) = DROPS.get_ptr_mut(0) {
            unsafe { *n += 1 };
        }
        return None;
    };
    let ev = entry.as_mut_ptr();
    let id = bpf_get_current_pid_tgid();
    let pid = (id >> 32) as u32;
    let tid = id as u32;
    set!(ev, kind, kind as u32);
    set!(ev, ns_type, u32::MAX);
    set!(ev, ts_ns, unsafe { bpf_ktime_get_boot_ns() });
    set!(ev, pid, pid);
    set!(ev, tid, tid);
    // The helper pads with NULs (strscpy_pad), so all 16 bytes are written.
    let ret = unsafe { bpf_get_current_comm(addr_of_mut!((*ev).comm).cast(), COMM_LEN as u32) };
    if ret != 0 {
        // Two word stores: an array literal here would become a memset call.
        let comm = unsafe { addr_of_mut!((*ev).comm) }.cast::<u64>();
        unsafe {
            comm.write_unaligned(0);
            comm.add(1).write_unaligned(0);
        }
    }
    set!(ev, inum, 0);
    set!(ev, owner_inum, 0);
    set!(ev, parent_inum, 0);
    set!(ev, via, via as u32);
    set!(ev, flags, 0);
    set!(ev, ns_id, 0);
    set!(ev, target_pid, pid);
    set!(ev, target_tid, tid);
    set!(ev, aux, 0);
    set!(ev, ptr, 0);
    set!(ev, cpu, unsafe { bpf_get_smp_processor_id() });
    set!(ev, _pad, 0);
    // Only a birth or join runs in the task that made it happen; the other
    // kinds run in whatever task dropped the last reference, often a kworker.
    let (cgroup_id, cgroup1_id) = if matches!(kind, EventKind::Birth | EventKind::Join) {
        // Unified hierarchy: the helper (every tracing program type has it).
        let v2 = unsafe { bpf_get_current_cgroup_id() };
        (
            v2,
            nsread::task_cgroup1_id(unsafe { bpf_get_current_task() }),
        )
    } else {
        (0, 0)
    };
    set!(ev, cgroup_id, cgroup_id);
    set!(ev, cgroup1_id, cgroup1_id);
    Some(Draft { entry })
}
