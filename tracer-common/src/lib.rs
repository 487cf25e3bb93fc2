//! Types shared by the kernel programs (`tracer-ebpf`) and the daemon (`tracer`).
//!
//! Everything that crosses the ring buffer or is handed to the programs as a
//! global lives here. The layouts are part of a contract between two
//! compilers for two targets, so every type is `#[repr(C)]`, made of
//! fixed-width integers, with padding written out as named fields, and
//! pinned by a size/offset test at the bottom of this file.
#![no_std]

pub mod event;
pub mod ns_type;
pub mod offsets;

pub use event::{
    Event, EventKind, Via, CLEANUP_WALK_PARTIAL, COMM_LEN, DEATH_ANON_MNT, DEATH_LATE,
};
pub use ns_type::NsType;
pub use offsets::{KernelOffsets, WorkFunctions, NS_TYPE_COUNT, OFFSET_ABSENT};

/// Names of the globals the programs read; the loader sets them by these names.
pub mod globals {
    /// [`crate::KernelOffsets`] resolved from the running kernel's BTF.
    pub const OFFSETS: &str = "OFFSETS";
    /// Ring buffer size in bytes; the programs use it to decide when to wake
    /// the reader (see `tracer-ebpf/src/emit.rs`).
    pub const WAKEUP_BYTES: &str = "WAKEUP_BYTES";
}

/// Names of the maps the daemon opens.
pub mod maps {
    /// The ring buffer every event goes through.
    pub const EVENTS: &str = "EVENTS";
    /// Per-CPU count of records the ring buffer had no room for.
    pub const DROPS: &str = "DROPS";
    /// One [`crate::WorkFunctions`] from /proc/kallsyms, written by the
    /// loader only when it attaches the workqueue programs (a map, not a
    /// global: a global is fixed before the loader knows whether it will).
    pub const WORK_FUNCTIONS: &str = "WORK_FUNCTIONS";
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all three are #[repr(C)], made only of integers and integer
    // arrays, with every padding byte an explicit field, so any bit pattern is
    // a valid value and there are no uninitialised bytes.
    unsafe impl aya::Pod for crate::Event {}
    unsafe impl aya::Pod for crate::KernelOffsets {}
    unsafe impl aya::Pod for crate::WorkFunctions {}
}
