//! The kernel side's aya-log diagnostics cost nothing when off: with the
//! log level at 0 (the default) the verifier removes the logging branches,
//! so the loaded unshare program is smaller than with
//! RUST_LOG=tracer_ebpf=debug, where they stay. Root; one test thread.

mod support;

use support::*;

/// Translated size of the tracer's `sys_exit_unshare` program, in bytes.
fn sys_exit_unshare_size(tr: &Tracer) -> u32 {
    let ids = bpf_prog_ids(tr.child_id());
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| ids.contains(&p.id()))
        // The kernel keeps 15 bytes of a program's name.
        .find(|p| p.name_as_str() == Some("sys_exit_unshar"))
        .and_then(|p| p.size_translated())
        .unwrap_or_else(|| panic!("no loaded sys_exit_unshare among {ids:?}"))
}

#[test]
fn kernel_logging_is_removed_by_the_verifier_when_off() {
    let bin = nstrace_bin();
    let off = Tracer::start_wrapped(
        &["env".into(), "RUST_LOG=warn".into(), bin.clone()],
        &["--no-scan"],
    );
    let off_size = sys_exit_unshare_size(&off);
    drop(off);
    let on = Tracer::start_wrapped(
        &["env".into(), "RUST_LOG=tracer_ebpf=debug".into(), bin],
        &["--no-scan"],
    );
    let on_size = sys_exit_unshare_size(&on);
    eprintln!("sys_exit_unshare: {off_size} bytes with kernel logging off, {on_size} on");
    assert!(
        off_size < on_size,
        "with logging off the program is {off_size} bytes, on {on_size}: the log branch was not removed"
    );
}
