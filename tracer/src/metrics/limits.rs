//! The kernel's per-user-namespace limits on namespaces of each type.

use tracer_common::NsType;

/// `/proc/sys/user/max_<type>_namespaces` for each type (`max_mnt_...`),
/// `None` where the file is missing or unreadable.
pub fn read() -> [Option<i64>; 8] {
    let mut out = [None; 8];
    for t in NsType::ALL {
        let path = format!("/proc/sys/user/max_{}_namespaces", t.name());
        out[t as usize] = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok());
    }
    out
}
