//! nstrace's kernel programs.
//!
//! Each file under `hooks/` holds the programs for one kernel hook and is
//! named after it. The programs only read and report: every decision about
//! what an event means is left to the daemon, where it can be tested.
#![no_std]
#![no_main]

mod chain;
mod emit;
mod hooks;
mod kread;
mod netlist;
mod nsread;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier proves no panic path is reachable; this never runs.
    loop {}
}

/// The kernel only loads programs that declare a GPL-compatible licence when
/// they call GPL-only helpers such as bpf_probe_read_kernel.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
