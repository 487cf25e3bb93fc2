//! Reads of kernel memory at offsets the daemon resolved from BTF.

use aya_ebpf::{cty::c_void, helpers::generated::bpf_probe_read_kernel};
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
