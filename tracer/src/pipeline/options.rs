//! What `trace` and `agent` share: how to load, how the engine judges,
//! how the loop scans. Each command's arguments convert into this.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context as _, Result};

use super::LoopOptions;
use crate::{
    hooks::Method,
    lifecycle::EngineConfig,
    loader::{LoadOptions, Session},
};

/// How often the reader drains the ring without a wakeup: the programs only
/// wake it once a batch has built up, so this bounds the latency of a quiet
/// stream.
pub const DRAIN_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Clone, Debug)]
pub struct Options {
    pub btf: PathBuf,
    pub method: Option<Method>,
    pub buffer_kib: u32,
    pub linger_grace: f64,
    pub slow_cleanup: f64,
    pub scan_interval: f64,
    pub no_scan: bool,
    pub duration: Option<f64>,
    /// Drain less often when nothing comes (see [`LoopOptions`]).
    pub idle_interval: Option<Duration>,
}

impl Options {
    pub fn load_options(&self) -> Result<LoadOptions> {
        let bytes = self
            .buffer_kib
            .checked_mul(1024)
            .filter(|b| b.is_power_of_two() && *b >= 4096)
            .with_context(|| {
                format!(
                    "--buffer-kib {}: the ring buffer must be a power of two of at least 4 KiB",
                    self.buffer_kib
                )
            })?;
        Ok(LoadOptions {
            btf_path: self.btf.clone(),
            method: self.method,
            ring_bytes: bytes,
            // Wake the reader when a quarter of the ring is full: enough
            // slack that a burst does not fill it before the reader runs.
            wakeup_bytes: u64::from(bytes / 4),
        })
    }

    pub fn engine_config(&self, session: &Session) -> EngineConfig {
        EngineConfig {
            linger_grace_ns: (self.linger_grace * 1e9) as u64,
            slow_cleanup_ns: (self.slow_cleanup * 1e9) as u64,
            deaths_visible: session.deaths_visible(),
            ..EngineConfig::default()
        }
    }

    pub fn loop_options(&self) -> LoopOptions {
        LoopOptions {
            duration: self.duration.map(|s| Duration::from_secs_f64(s.max(0.0))),
            scan: !self.no_scan,
            scan_interval: Duration::from_secs_f64(self.scan_interval.max(0.1)),
            drain_interval: DRAIN_INTERVAL,
            idle_interval: self.idle_interval,
        }
    }
}
