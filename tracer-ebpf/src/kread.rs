//! Reads of kernel memory at offsets the daemon resolved from BTF.

use aya_ebpf::helpers::bpf_probe_read_kernel;
use tracer_common::{KernelOffsets, OFFSET_ABSENT};

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

/// Reads a `T` at `base + off`; `None` for a NULL base, an absent offset or
/// a faulting read.
#[inline(always)]
pub fn read<T>(base: u64, off: u32) -> Option<T> {
    if base == 0 || off == OFFSET_ABSENT {
        return None;
    }
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const T).ok() }
}

/// Reads a pointer at `base + off`; `None` if it is NULL.
#[inline(always)]
pub fn read_ptr(base: u64, off: u32) -> Option<u64> {
    read::<u64>(base, off).filter(|p| *p != 0)
}
