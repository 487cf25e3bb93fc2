//! The ring buffer and its loss counter.
//!
//! Records are filled in place in reserved ring memory, field by field: a
//! record built on the stack and copied, or a zero-initialised array, makes
//! LLVM call a byte-wise memset/memcpy that the verifier walks one byte at a
//! time, and eight of those per program exceed its instruction budget.

//!
//! Each helper call costs 20 ns or more on hosts whose CPUs need return
//! thunks (and 60 for the clock): the task's ids and comm are read with
//! plain loads from the BTF-typed current task instead of through
//! bpf_get_current_pid_tgid and bpf_get_current_comm.

use core::ptr::addr_of_mut;

use aya_ebpf::{
    bindings::{BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{
        bpf_get_smp_processor_id, bpf_ktime_get_boot_ns, generated::bpf_get_current_cgroup_id,
    },
    macros::map,
    maps::{ring_buf::RingBufEntry, PerCpuArray, RingBuf},
};
use tracer_common::{Event, EventKind, Via};

use crate::kread::{self, off, Direct, Mem};

use crate::nsread;

/// Every record goes through here. The daemon sizes it at load time
/// (`--buffer-kib`); this is only the compiled-in default.
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 20, 0);

/// Records the ring had no room for, per CPU. The daemon turns increases
/// into `lost` events; nothing is dropped without being counted.
#[map(name = "DROPS")]
static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Wake the reader once a CPU has added this many bytes since its last
/// wakeup: a wakeup per record costs more than the record itself under
/// churn. The daemon sets it to its wanted backlog divided by the number of
/// CPUs, and also drains on a short timer, so a quiet stream is still
/// delivered promptly.
#[unsafe(no_mangle)]
static WAKEUP_BYTES: u64 = 64 * 1024;

/// Slots of [`SINCE_WAKEUP`]: CPUs beyond share slots, which only makes
/// their wakeups a little early or late.
const CPU_SLOTS: usize = 1024;

/// Bytes each CPU has added since it last woke the reader. A global
/// (.bss) array, read and written with plain loads and stores: a per-CPU
/// map or bpf_ringbuf_query would each cost a helper call per record.
/// Programs on one CPU run one at a time except when one interrupts
/// another, which at worst loses an increment.
#[unsafe(no_mangle)]
static mut SINCE_WAKEUP: [u64; CPU_SLOTS] = [0; CPU_SLOTS];

/// A reserved record, every field already written.
pub struct Draft {
    entry: RingBufEntry<Event>,
    /// The CPU the record was made on, for [`SINCE_WAKEUP`]: a program
    /// runs with migration disabled, so it is the CPU at the submit too,
    /// and a second `bpf_get_smp_processor_id` would be a second helper
    /// call on kernels before 6.10, which do not inline it.
    cpu: u32,
}

/// Writes one field of the record behind a raw pointer. Volatile, so that
/// LLVM cannot merge the zeroing of neighbouring fields into a memset,
/// which the BPF backend makes a call to a byte-by-byte loop: two of those
/// per record cost more than the rest of the record.
macro_rules! set {
    ($ev:expr, $field:ident, $value:expr) => {{
        let value = $value;
        // SAFETY: $ev points at a reserved ring-buffer record (or a stack
        // Event), valid for writes of the whole record.
        unsafe { core::ptr::addr_of_mut!((*$ev).$field).write_volatile(value) }
    }};
}
pub(crate) use set;

impl Draft {
    /// The record, to set kind-specific fields with [`set!`].
    #[inline(always)]
    pub fn ev(&mut self) -> *mut Event {
        self.entry.as_mut_ptr()
    }

    /// Hands the record to the reader, waking it once this CPU has added
    /// [`WAKEUP_BYTES`] since its last wakeup. Waking on every record past
    /// a backlog would send an interrupt per record for as long as the
    /// reader is behind, which under churn cost more than the record
    /// itself.
    #[inline(always)]
    pub fn send(self) {
        let threshold = unsafe { core::ptr::read_volatile(&WAKEUP_BYTES) };
        let cpu = self.cpu as usize % CPU_SLOTS;
        // SAFETY: cpu < CPU_SLOTS; see SINCE_WAKEUP for the races.
        let slot = unsafe { core::ptr::addr_of_mut!(SINCE_WAKEUP[cpu]) };
        let added = unsafe { slot.read_volatile() } + RECORD_BYTES;
        let flags = if added >= threshold {
            unsafe { slot.write_volatile(0) };
            BPF_RB_FORCE_WAKEUP
        } else {
            unsafe { slot.write_volatile(added) };
            BPF_RB_NO_WAKEUP
        };
        self.entry.submit(flags as u64);
    }
}

/// What one record takes in the ring: the record and the ring's 8-byte
/// header, rounded up to 8 bytes.
const RECORD_BYTES: u64 = (core::mem::size_of::<Event>() as u64 + 8 + 7) & !7;

/// Reserves a record for the current task with time, ids and comm filled in
/// (and, for births and joins, its cgroups) and every other field zero.
/// `None` (counted as a drop) if the ring is full.
#[inline(always)]
pub fn begin(kind: EventKind, via: Via) -> Option<Draft> {
    begin_task(kread::current_task(), kind, via)
}

/// [`begin`] for a caller that already holds the current task's BTF-typed
/// pointer ([`kread::current_task`]), which saves a helper call.
#[inline(always)]
pub fn begin_task(task: u64, kind: EventKind, via: Via) -> Option<Draft> {
    let Some(mut entry) = EVENTS.reserve::<Event>(0) else {
        if let Some(n) = DROPS.get_ptr_mut(0) {
            unsafe { *n += 1 };
        }
        return None;
    };
    let ev = entry.as_mut_ptr();
    let pid = Direct::read::<u32>(task, off!(task_tgid));
    let tid = Direct::read::<u32>(task, off!(task_pid));
    set!(ev, kind, kind as u32);
    set!(ev, ns_type, u32::MAX);
    set!(ev, ts_ns, unsafe { bpf_ktime_get_boot_ns() });
    set!(ev, pid, pid);
    set!(ev, tid, tid);
    // task->comm, as two words: the kernel keeps it NUL-padded
    // (__set_task_comm uses strscpy_pad), which is what
    // bpf_get_current_comm would copy, for 70 ns less.
    let comm = unsafe { addr_of_mut!((*ev).comm) }.cast::<u64>();
    let comm_off = off!(task_comm);
    unsafe {
        comm.write_volatile(Direct::read::<u64>(task, comm_off));
        comm.add(1)
            .write_volatile(Direct::read::<u64>(task, comm_off.wrapping_add(8)));
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
    let cpu = unsafe { bpf_get_smp_processor_id() };
    set!(ev, cpu, cpu);
    set!(ev, _pad, 0);
    // Only a birth or join runs in the task that made it happen; the other
    // kinds run in whatever task dropped the last reference, often a kworker.
    let (cgroup_id, cgroup1_id) = if matches!(kind, EventKind::Birth | EventKind::Join) {
        // Unified hierarchy: plain loads, as for v1 below; the helper (every
        // tracing program type has it) only if the BTF lacked the chain. A
        // helper call costs 20 ns or more where CPUs need return thunks.
        let v2 = nsread::task_cgroup2_id::<Direct>(task)
            .unwrap_or_else(|| unsafe { bpf_get_current_cgroup_id() });
        // v1 (read only when a v1 hierarchy is mounted): plain loads from
        // the typed task. Through bpf_probe_read_kernel these four reads
        // cost about 100 ns of the unshare program's run on this project's
        // hybrid-cgroup host (386 -> 287 ns, BENCHMARKS.md, "eBPF program
        // time"). The VM guests mount a v1 hierarchy
        // (xtask/src/vm/init.sh) so that 6.1, 6.12 and the newest kernel's
        // verifiers check this walk too.
        (v2, nsread::task_cgroup1_id::<Direct>(task))
    } else {
        (0, 0)
    };
    set!(ev, cgroup_id, cgroup_id);
    set!(ev, cgroup1_id, cgroup1_id);
    Some(Draft { entry, cpu })
}
