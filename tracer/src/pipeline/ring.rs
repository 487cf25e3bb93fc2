//! The EVENTS ring buffer and the DROPS counter the programs bump when it
//! is full.

use anyhow::{Context as _, Result};
use aya::maps::{MapData, PerCpuArray, RingBuf};
use tokio::io::{unix::AsyncFd, Interest};
use tracer_common::maps;

use super::Pipeline;
use crate::loader::Session;

pub struct Ring {
    ring: AsyncFd<RingBuf<MapData>>,
    drops: PerCpuArray<MapData, u64>,
}

impl Ring {
    /// Takes both maps from the session. Must run inside a tokio runtime
    /// (the ring's fd is registered with its epoll).
    pub fn open(session: &mut Session) -> Result<Ring> {
        let ring = RingBuf::try_from(
            session
                .ebpf
                .take_map(maps::EVENTS)
                .context("the eBPF object has no EVENTS map")?,
        )
        .context("opening the EVENTS ring buffer")?;
        let drops = PerCpuArray::try_from(
            session
                .ebpf
                .take_map(maps::DROPS)
                .context("the eBPF object has no DROPS map")?,
        )
        .context("opening the DROPS counter")?;
        // SAFETY: the RingBuf owns its map fd and keeps it open, unchanged,
        // for as long as it lives, and the AsyncFd owns the RingBuf.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| anyhow::anyhow!("registering the ring buffer with epoll: {e}"))?;
        Ok(Ring { ring, drops })
    }

    /// Waits until the kernel says records are there, then drains them.
    pub async fn drain_when_ready(&mut self, p: &mut Pipeline) -> Result<usize> {
        let mut guard = self
            .ring
            .readable_mut()
            .await
            .context("waiting on the ring buffer")?;
        let n = drain(guard.get_inner_mut(), p);
        guard.clear_ready();
        Ok(n)
    }

    /// Drains whatever is there now.
    pub fn drain(&mut self, p: &mut Pipeline) -> usize {
        drain(self.ring.get_mut(), p)
    }

    /// Records the programs could not deliver, since they were loaded.
    pub fn lost_total(&self) -> Result<u64> {
        Ok(self
            .drops
            .get(&0, 0)
            .context("reading the DROPS counter")?
            .iter()
            .sum())
    }
}

fn drain(ring: &mut RingBuf<MapData>, p: &mut Pipeline) -> usize {
    let mut n = 0;
    while let Some(item) = ring.next() {
        p.push_bytes(&item);
        n += 1;
    }
    n
}
