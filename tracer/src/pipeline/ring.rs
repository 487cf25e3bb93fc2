//! The EVENTS ring buffer and the DROPS counter the programs bump when it
//! is full.

use anyhow::{Context as _, Result};
use aya::maps::{Map, MapData, PerCpuArray};
use tokio::io::{unix::AsyncFd, Interest};
use tracer_common::maps;

use super::{ring_reader::RingReader, Pipeline};
use crate::loader::Session;

pub struct Ring {
    ring: AsyncFd<RingReader>,
    drops: PerCpuArray<MapData, u64>,
}

impl Ring {
    /// Takes both maps from the session. Must run inside a tokio runtime
    /// (the ring's fd is registered with its epoll).
    pub fn open(session: &mut Session) -> Result<Ring> {
        let ring = match session
            .ebpf
            .take_map(maps::EVENTS)
            .context("the eBPF object has no EVENTS map")?
        {
            Map::RingBuf(data) => {
                RingReader::new(data).context("opening the EVENTS ring buffer")?
            }
            other => anyhow::bail!("the EVENTS map is a {other:?}, not a ring buffer"),
        };
        let drops = PerCpuArray::try_from(
            session
                .ebpf
                .take_map(maps::DROPS)
                .context("the eBPF object has no DROPS map")?,
        )
        .context("opening the DROPS counter")?;
        // SAFETY: the RingReader owns its map fd and keeps it open,
        // unchanged, for as long as it lives, and the AsyncFd owns it.
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
        // Before draining, so that a wakeup during the drain is plainly
        // for the next wait (tokio's readiness tick would keep it anyway).
        guard.clear_ready();
        Ok(drain(guard.get_inner_mut(), p))
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

fn drain(ring: &mut RingReader, p: &mut Pipeline) -> usize {
    ring.drain(|record| p.push_bytes(record))
}
