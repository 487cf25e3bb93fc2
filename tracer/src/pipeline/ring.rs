//! The EVENTS ring buffer and the DROPS counter the programs bump when it
//! is full.

use anyhow::{Context as _, Result};
use aya::maps::{Map, MapData, PerCpuArray};
use tokio::io::{unix::AsyncFd, Interest};
use tracer_common::maps;

use super::{ring_reader::RingReader, Pipeline};
use crate::loader::Session;

/// Records taken per turn of the event loop (a few milliseconds of the
/// reader's work). A storm the reader cannot keep up with would otherwise
/// hold the loop in one drain, and ticks, queries and signals would wait
/// until it ended.
const PER_TURN: usize = 4096;

pub struct Ring {
    ring: AsyncFd<RingReader>,
    drops: PerCpuArray<MapData, u64>,
    /// The last drain stopped at [`PER_TURN`]: records are waiting, and
    /// the kernel may not wake us for them.
    backlog: bool,
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
        Ok(Ring {
            ring,
            drops,
            backlog: false,
        })
    }

    /// Waits until the kernel says records are there, or at once (after
    /// giving the runtime its turn, so that timers and signals are seen)
    /// when the last drain left some, then drains up to [`PER_TURN`].
    pub async fn drain_when_ready(&mut self, p: &mut Pipeline) -> Result<usize> {
        if self.backlog {
            tokio::task::yield_now().await;
        } else {
            // Cleared before draining, so that a wakeup during the drain is
            // plainly for the next wait (tokio's readiness tick would keep
            // it anyway).
            self.ring
                .readable_mut()
                .await
                .context("waiting on the ring buffer")?
                .clear_ready();
        }
        Ok(self.drain(p))
    }

    /// Drains up to [`PER_TURN`] of what is there now.
    pub fn drain(&mut self, p: &mut Pipeline) -> usize {
        let n = self.ring.get_mut().drain(PER_TURN, |r| p.push_bytes(r));
        self.backlog = n == PER_TURN;
        n
    }

    /// Drains what was committed before the call (and at most a turn's
    /// worth after): at the end of a run, records that arrived before the
    /// stop count, and a storm still going cannot keep the daemon from
    /// stopping.
    pub fn drain_to_now(&mut self, p: &mut Pipeline) -> usize {
        let ring = self.ring.get_mut();
        let end = ring.producer_pos();
        let mut n = 0;
        while ring.before(end) {
            match ring.drain(PER_TURN, |r| p.push_bytes(r)) {
                // The next record is still being written.
                0 => break,
                got => n += got,
            }
        }
        n
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
