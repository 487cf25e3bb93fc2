//! Runs inside the QEMU guest only (feature `vm-tests`): checks that the
//! guest kernel offers what the other VM tests rely on, so a missing
//! facility fails here by name instead of as a silent non-event elsewhere.

use std::path::Path;

#[test]
fn guest_kernel_has_btf_and_kprobes() {
    assert!(
        Path::new("/sys/kernel/btf/vmlinux").exists(),
        "guest kernel has no /sys/kernel/btf/vmlinux"
    );
    assert!(
        Path::new("/sys/bus/event_source/devices/kprobe").exists(),
        "guest kernel has no kprobe PMU (CONFIG_KPROBES)"
    );
}
