//! Reads of kernel memory at offsets the daemon resolved from BTF.
//!
//! Two ways to read, one per kind of pointer (see [`Mem`]): a pointer the
//! verifier knows the BTF type of (the current task from
//! bpf_get_current_task_btf, an fentry/fexit argument, and every pointer
//! loaded from those) is read with a plain load, which the verifier turns
//! into a fault-safe one; any other kernel address goes through
//! bpf_probe_read_kernel, a helper call that costs ten to thirty times more.

use aya_ebpf::{
    cty::c_void,
    helpers::generated::{bpf_get_current_task_btf, bpf_probe_read_kernel, bpf_task_pt_regs},
};
use tracer_common::KernelOffsets;

/// Filled in by the daemon before load (`EbpfLoader::set_global`); the
/// compiled-in value marks every offset absent, so an unset object reads
/// nothing rather than garbage.
#[unsafe(no_mangle)]
static OFFSETS: KernelOffsets = KernelOffsets::unset();

/// Reads one offset. The volatile read stops the compiler from folding the
/// compiled-in `unset()` value into the code: the real value arrives after
/// compilation, when the loader rewrites .rodata.
macro_rules! off {
    ($field:ident) => {
        unsafe { core::ptr::read_volatile(&$crate::kread::offsets().$field) }
    };
    ($field:ident[$i:expr]) => {
        unsafe { core::ptr::read_volatile(&$crate::kread::offsets().$field[$i]) }
    };
}
pub(crate) use off;

#[inline(always)]
pub fn offsets() -> &'static KernelOffsets {
    &OFFSETS
}

/// True once the daemon has handed over offsets for this kernel.
#[inline(always)]
pub fn ready() -> bool {
    off!(valid) != 0
}

/// Reads a `T` at `base + off`; zero for a NULL base or a faulting read.
///
/// Branch-free on purpose: bpf_probe_read_kernel zero-fills its
/// destination when the read faults, so the result needs no check, and a
/// program that reads thirty fields in a loop keeps few enough paths for the
/// verifier. A NULL `base` reads from the first page, which always faults.
/// Offsets that may be absent on some kernels must be checked first.
#[inline(always)]
pub fn read<T: Copy + Default>(base: u64, off: u32) -> T {
    let mut v = T::default();
    unsafe {
        bpf_probe_read_kernel(
            (&mut v as *mut T).cast(),
            core::mem::size_of::<T>() as u32,
            (base.wrapping_add(off as u64)) as *const c_void,
        );
    }
    v
}

/// Reads a pointer at `base + off`; 0 if NULL or unreadable.
#[inline(always)]
pub fn read_ptr(base: u64, off: u32) -> u64 {
    read::<u64>(base, off)
}

/// A way to read kernel memory.
pub trait Mem {
    /// Reads a `T` at `base + off`; zero for a NULL base or a faulting read.
    fn read<T: Copy + Default>(base: u64, off: u32) -> T;
}

/// bpf_probe_read_kernel: any address (kprobe arguments and return values,
/// raw tracepoint arguments, pointers kept in maps).
pub struct Probe;

impl Mem for Probe {
    #[inline(always)]
    fn read<T: Copy + Default>(base: u64, off: u32) -> T {
        read(base, off)
    }
}

/// A plain load, for BTF-typed pointers only: the verifier rejects the
/// program if `base` is not one. Offsets come from the read-only globals,
/// which the verifier reads as constants, so it checks each load against
/// the kernel's own struct layout, and a faulting load (a NULL or stale
/// pointer) gives 0 as bpf_probe_read_kernel would.
pub struct Direct;

impl Mem for Direct {
    #[inline(always)]
    fn read<T: Copy + Default>(base: u64, off: u32) -> T {
        // SAFETY: the verifier turns this load into a fault-safe one
        // (BPF_PROBE_MEM) after checking that base is a typed pointer and
        // that [off, off + size) is a member of its struct.
        unsafe { core::ptr::read_volatile(base.wrapping_add(off as u64) as *const T) }
    }
}

/// The current task as a BTF-typed pointer, for [`Direct`] reads.
#[inline(always)]
pub fn current_task() -> u64 {
    // SAFETY: a helper without arguments.
    unsafe { bpf_get_current_task_btf() as u64 }
}

/// The current task's saved user registers (`task_pt_regs`), a BTF-typed
/// pointer: in a syscall, `di` and `si` are its first two arguments and
/// `orig_ax` its number.
#[inline(always)]
pub fn current_regs() -> u64 {
    task_regs(current_task())
}

/// [`current_regs`] for `task`, the typed pointer [`current_task`] gave.
#[inline(always)]
pub fn task_regs(task: u64) -> u64 {
    // SAFETY: the helper takes a typed task pointer, which the verifier
    // checks.
    unsafe { bpf_task_pt_regs(task as *mut _) as u64 }
}
