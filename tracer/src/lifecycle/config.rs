//! The engine's thresholds, all in CLOCK_BOOTTIME nanoseconds.

use tracer_common::NsType;

/// Thresholds for derived records and event ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// How long a namespace may outlive its last task before a `linger`.
    pub linger_grace_ns: u64,
    /// How long a `cleanup_net` run may take before a `cleanup_slow`.
    pub slow_cleanup_ns: u64,
    /// How long an event waits for earlier events from other CPUs before it
    /// is released. Records from different CPUs reach the reader out of
    /// order by well under 100 ms in practice.
    pub reorder_window_ns: u64,
    /// Types whose deaths the kernel side can see, as a mask of
    /// [`NsType::bit`]. With tracepoints alone, deaths of uts, cgroup, time,
    /// mnt and pid are invisible on 6.1/6.12: for those a namespace with no
    /// task and no holder found is more likely dead than lingering, so the
    /// engine does not call it a linger.
    pub deaths_visible: u8,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            linger_grace_ns: 5_000_000_000,
            slow_cleanup_ns: 10_000_000_000,
            reorder_window_ns: 100_000_000,
            deaths_visible: u8::MAX,
        }
    }
}

impl EngineConfig {
    pub(super) fn death_visible(&self, ty: NsType) -> bool {
        self.deaths_visible & ty.bit() != 0
    }
}
