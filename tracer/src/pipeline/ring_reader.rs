//! Reads a BPF ring buffer through one mapping of its data pages.
//!
//! aya's `RingBuf`, like libbpf, maps the data pages twice in a row, as the
//! kernel does for itself, so that a record wrapping around the end reads
//! as one slice. The kernel inserts every page of a ring mapping when it is
//! made (`remap_vmalloc_range` in `ringbuf_map_mmap_kern`, 6.1 to 7.2), so
//! the second copy is resident from the start whatever the traffic: 4 MiB
//! of VmRSS for the default 4 MiB ring, an eighth of the agent's budget.
//! Mapped once, a record that wraps is copied into a small buffer. (Every
//! record nstrace writes is 128 bytes with its header, which divides every
//! ring size, so none wraps today; the unit tests below cover the join.)
//!
//! The protocol is the kernel's (`kernel/bpf/ringbuf.c`): an 8-byte header
//! per record whose length word carries a busy bit until the producer
//! commits and a discard bit if it gave the space back; records start on
//! 8-byte boundaries; the consumer publishes its position. (A commit
//! without flags wakes the reader only when that position is the record
//! committed; nstrace's programs pass `BPF_RB_NO_WAKEUP` or
//! `BPF_RB_FORCE_WAKEUP`, emit.rs, and the event loop also drains on a
//! timer.)

use std::{
    io,
    os::fd::{AsFd as _, AsRawFd, RawFd},
    ptr::NonNull,
    sync::atomic::{fence, AtomicU32, AtomicUsize, Ordering},
};

use anyhow::{ensure, Context as _, Result};
use aya::maps::MapData;

/// `BPF_RINGBUF_HDR_SZ`.
const HEADER: usize = 8;
/// `BPF_RINGBUF_BUSY_BIT`: reserved, not yet committed.
const BUSY: u32 = 1 << 31;
/// `BPF_RINGBUF_DISCARD_BIT`: the producer gave the space back.
const DISCARD: u32 = 1 << 30;

/// One `mmap` of the map's fd, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(fd: RawFd, len: usize, prot: libc::c_int, offset: usize) -> io::Result<Mapping> {
        Mapping::with_flags(fd, len, prot, libc::MAP_SHARED, offset)
    }

    fn with_flags(
        fd: RawFd,
        len: usize,
        prot: libc::c_int,
        flags: libc::c_int,
        offset: usize,
    ) -> io::Result<Mapping> {
        let offset = libc::off_t::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: a fresh shared mapping of a file the caller keeps open;
        // nothing else in the process refers to the address range.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, offset) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(io::ErrorKind::Other)?;
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the range was mapped by `Mapping::new` and nothing
        // borrowed from it outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

pub struct RingReader {
    /// The consumer page, the only one user space may write.
    consumer: Mapping,
    /// The producer page, then the data pages once.
    producer: Mapping,
    page: usize,
    /// Bytes of data; a power of two.
    size: usize,
    /// The consumer position: bytes consumed since the ring was made.
    pos: usize,
    /// Whether `pos` was published since the last full fence (see
    /// [`RingReader::settled`]).
    published: bool,
    /// The producer position last read: the kernel writes it on every
    /// reservation, from any CPU, so it is read again only once the
    /// records before it are consumed, not once per record.
    produced: usize,
    /// A record that wraps around the end, put back together.
    joined: Vec<u8>,
    /// Last, so that its fd closes after the pages are unmapped. None
    /// only in tests, whose ring is anonymous memory.
    map: Option<MapData>,
}

// SAFETY: the mappings are plain shared memory owned by this value; every
// access goes through atomics or reads of committed records.
unsafe impl Send for RingReader {}

impl AsRawFd for RingReader {
    fn as_raw_fd(&self) -> RawFd {
        self.map.as_ref().map_or(-1, |m| m.fd().as_fd().as_raw_fd())
    }
}

/// The page size, None if sysconf cannot say.
fn page_size() -> Option<usize> {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
        .ok()
        .filter(|&n| n > 0)
}

impl RingReader {
    pub fn new(map: MapData) -> Result<RingReader> {
        let size = map
            .info()
            .context("reading the ring buffer's size")?
            .max_entries() as usize;
        let page = page_size().context("reading the page size")?;
        ensure!(
            size.is_power_of_two() && size >= page,
            "the ring buffer's size {size} is not a power of two pages"
        );
        let fd = map.fd().as_fd().as_raw_fd();
        let consumer = Mapping::new(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)
            .context("mapping the ring buffer's consumer page")?;
        let producer = Mapping::new(fd, page + size, libc::PROT_READ, page)
            .context("mapping the ring buffer's data pages")?;
        Ok(RingReader::over(consumer, producer, page, size, Some(map)))
    }

    fn over(
        consumer: Mapping,
        producer: Mapping,
        page: usize,
        size: usize,
        map: Option<MapData>,
    ) -> RingReader {
        let mut ring = RingReader {
            consumer,
            producer,
            page,
            size,
            pos: 0,
            published: false,
            produced: 0,
            joined: Vec::new(),
            map,
        };
        ring.pos = ring.consumer_pos().load(Ordering::Acquire);
        ring.produced = ring.pos;
        ring
    }

    fn consumer_pos(&self) -> &AtomicUsize {
        // SAFETY: the consumer page is mapped, page-aligned, and starts
        // with the kernel's `unsigned long consumer_pos`.
        unsafe { self.consumer.ptr.cast::<AtomicUsize>().as_ref() }
    }

    /// The position up to which the kernel has reserved records.
    pub fn producer_pos(&self) -> usize {
        // SAFETY: as for the consumer page. The kernel stores it with
        // release after writing the header it covers.
        unsafe { self.producer.ptr.cast::<AtomicUsize>().as_ref() }.load(Ordering::Acquire)
    }

    fn data(&self) -> *const u8 {
        // SAFETY: the producer mapping is a page and then `size` bytes.
        unsafe { self.producer.ptr.as_ptr().add(self.page) }
    }

    /// The length word of the record at `offset`.
    fn header(&self, offset: usize) -> u32 {
        // SAFETY: `offset` is below `size` and a multiple of 8 (records are
        // 8-aligned and `size` is a multiple of the page), so the word is
        // inside the mapping and aligned. The kernel commits it with a full
        // barrier (`xchg`); acquire makes the record's bytes visible.
        unsafe { &*self.data().add(offset).cast::<AtomicU32>() }.load(Ordering::Acquire)
    }

    /// Gives committed records to `each`, in order, freeing each one's
    /// space as soon as `each` returns, and stops after `limit` of them:
    /// a producer faster than `each` would otherwise keep the caller here
    /// for good. Returns how many were given; fewer than `limit` means the
    /// ring was empty, or the next record still being written (the next
    /// drain, a forced wakeup or the event loop's timer, takes it).
    pub fn drain(&mut self, limit: usize, mut each: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while n < limit {
            if self.pos == self.produced {
                self.produced = self.producer_pos();
                if self.pos == self.produced {
                    if self.settled() {
                        return n;
                    }
                    continue;
                }
            }
            let offset = self.pos & (self.size - 1);
            let header = self.header(offset);
            if header & BUSY != 0 {
                if self.settled() {
                    return n;
                }
                continue;
            }
            // The kernel never reserves more than the ring less a header;
            // the bound keeps a wild length from reading past the mapping.
            let len = ((header & !(BUSY | DISCARD)) as usize).min(self.size - HEADER);
            if header & DISCARD == 0 {
                each(self.record(offset + HEADER, len));
                n += 1;
            }
            self.pos = self
                .pos
                .wrapping_add((HEADER + len).next_multiple_of(HEADER));
            // Release: the record is read before the kernel may reuse it.
            self.consumer_pos().store(self.pos, Ordering::Release);
            self.published = true;
        }
        n
    }

    /// Whether the records consumed so far end before `end`, a producer
    /// position read earlier (positions only grow, and wrap).
    pub fn before(&self, end: usize) -> bool {
        (end.wrapping_sub(self.pos) as isize) > 0
    }

    /// The record's bytes from `start` (which may be `size`: the header
    /// filled the last 8 bytes), joined if they wrap around the end.
    fn record(&mut self, start: usize, len: usize) -> &[u8] {
        let start = start & (self.size - 1);
        let data = self.data();
        if start + len <= self.size {
            // SAFETY: inside the data pages, and committed.
            return unsafe { std::slice::from_raw_parts(data.add(start), len) };
        }
        let first = self.size - start;
        self.joined.clear();
        // SAFETY: both pieces lie inside the data pages.
        unsafe {
            self.joined
                .extend_from_slice(std::slice::from_raw_parts(data.add(start), first));
            self.joined
                .extend_from_slice(std::slice::from_raw_parts(data, len - first));
        }
        &self.joined
    }

    /// False once after a position was published, with a full fence, so
    /// that the caller looks again (at the producer position or the busy
    /// header) after its store is visible: a producer committing without
    /// flags then either sees the new position and wakes the reader, or
    /// committed before the fence and the second look sees its record. This
    /// is the kernel's and libbpf's protocol, kept whole although
    /// nstrace's programs choose their wakeups themselves.
    fn settled(&mut self) -> bool {
        if !self.published {
            return true;
        }
        fence(Ordering::SeqCst);
        self.published = false;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring in anonymous memory, written the way the kernel writes one.
    struct FakeRing {
        reader: RingReader,
        /// The producer's position.
        head: usize,
    }

    impl FakeRing {
        fn new(size: usize) -> FakeRing {
            let page = page_size().unwrap();
            let anon = |len| {
                let flags = libc::MAP_SHARED | libc::MAP_ANONYMOUS;
                let rw = libc::PROT_READ | libc::PROT_WRITE;
                Mapping::with_flags(-1, len, rw, flags, 0).unwrap()
            };
            let reader = RingReader::over(anon(page), anon(page + size), page, size, None);
            FakeRing { reader, head: 0 }
        }

        fn word(&self, offset: usize) -> &AtomicU32 {
            let r = &self.reader;
            // SAFETY: inside the data pages, 8-aligned.
            unsafe { &*r.data().add(offset & (r.size - 1)).cast::<AtomicU32>() }
        }

        /// Reserves a record of `bytes` (busy) and returns its position.
        fn reserve(&mut self, bytes: &[u8], flags: u32) -> usize {
            let at = self.head;
            let r = &self.reader;
            assert!(
                at + HEADER + bytes.len() - r.pos <= r.size,
                "the fake ring is full"
            );
            self.word(at)
                .store(bytes.len() as u32 | BUSY | flags, Ordering::Release);
            for (i, b) in bytes.iter().enumerate() {
                let off = (at + HEADER + i) & (r.size - 1);
                // SAFETY: inside the data pages, which the test owns.
                unsafe { *r.data().cast_mut().add(off) = *b };
            }
            self.head += (HEADER + bytes.len()).next_multiple_of(HEADER);
            // SAFETY: the producer page starts with the producer position.
            unsafe { r.producer.ptr.cast::<AtomicUsize>().as_ref() }
                .store(self.head, Ordering::Release);
            at
        }

        fn commit(&self, at: usize) {
            self.word(at).fetch_and(!BUSY, Ordering::SeqCst);
        }

        fn write(&mut self, bytes: &[u8]) {
            let at = self.reserve(bytes, 0);
            self.commit(at);
        }

        fn drain(&mut self) -> Vec<Vec<u8>> {
            let mut got = Vec::new();
            self.reader.drain(usize::MAX, |r| got.push(r.to_vec()));
            got
        }
    }

    fn record(n: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| n.wrapping_add(i as u8)).collect()
    }

    #[test]
    fn records_come_out_in_order_and_free_their_space() {
        let mut ring = FakeRing::new(4096);
        ring.write(&record(1, 20));
        ring.write(&record(2, 8));
        assert_eq!(ring.drain(), [record(1, 20), record(2, 8)]);
        // Published: 8 + 24 for the first (padded), 8 + 8 for the second.
        assert_eq!(ring.reader.consumer_pos().load(Ordering::Acquire), 48);
        assert!(ring.drain().is_empty());
    }

    /// A producer that keeps up with the reader cannot keep it in one
    /// drain: the limit ends it, and the next takes up where it stopped.
    #[test]
    fn a_drain_stops_at_its_limit_and_the_next_goes_on() {
        let mut ring = FakeRing::new(4096);
        for n in 1..=5 {
            ring.write(&record(n, 8));
        }
        let mut got = Vec::new();
        let mut take = |limit| ring.reader.drain(limit, |r| got.push(r[0]));
        assert_eq!(take(2), 2);
        assert_eq!(take(2), 2);
        assert_eq!(take(2), 1, "one left");
        assert_eq!(take(2), 0);
        assert_eq!(got, [1, 2, 3, 4, 5]);
        // Each record's space was given back: 16 bytes apiece.
        assert_eq!(ring.reader.consumer_pos().load(Ordering::Acquire), 80);
    }

    /// What a stopping daemon drains: up to a producer position read
    /// once, whatever comes after it.
    #[test]
    fn before_ends_at_the_position_read() {
        let mut ring = FakeRing::new(4096);
        for n in 1..=3 {
            ring.write(&record(n, 8));
        }
        let end = ring.reader.producer_pos();
        ring.write(&record(4, 8));
        let mut got = Vec::new();
        while ring.reader.before(end) {
            ring.reader.drain(1, |r| got.push(r[0]));
        }
        assert_eq!(got, [1, 2, 3]);
    }

    #[test]
    fn a_record_that_wraps_around_the_end_is_joined() {
        let mut ring = FakeRing::new(4096);
        // Two records of 8 + 1360 bytes end at 2736; a third runs from
        // 2744 to 4104, its last 8 bytes at the start of the ring.
        ring.write(&record(1, 1360));
        ring.write(&record(2, 1360));
        assert_eq!(ring.drain().len(), 2);
        ring.write(&record(7, 1360));
        assert_eq!(ring.drain(), [record(7, 1360)], "the wrapped record, whole");
        // And one whose header fills the last 8 bytes, its data all at the
        // start.
        let mut ring = FakeRing::new(4096);
        ring.write(&record(0, 4096 - 2 * HEADER));
        assert_eq!(ring.drain().len(), 1);
        assert_eq!(ring.head, 4096 - HEADER);
        ring.write(&record(9, 8));
        ring.write(&record(5, 40));
        assert_eq!(ring.drain(), [record(9, 8), record(5, 40)]);
    }

    #[test]
    fn a_record_still_being_written_stops_the_drain_until_committed() {
        let mut ring = FakeRing::new(4096);
        ring.write(&record(1, 16));
        let busy = ring.reserve(&record(2, 16), 0);
        ring.write(&record(3, 16));
        assert_eq!(ring.drain(), [record(1, 16)]);
        // The published position is the busy record's: its commit wakes us.
        assert_eq!(ring.reader.consumer_pos().load(Ordering::Acquire), busy);
        ring.commit(busy);
        assert_eq!(ring.drain(), [record(2, 16), record(3, 16)]);
    }

    #[test]
    fn a_discarded_record_is_skipped_and_its_space_freed() {
        let mut ring = FakeRing::new(4096);
        let gone = ring.reserve(&record(1, 16), DISCARD);
        ring.commit(gone);
        ring.write(&record(2, 16));
        assert_eq!(ring.drain(), [record(2, 16)]);
        assert_eq!(ring.reader.consumer_pos().load(Ordering::Acquire), 48);
    }
}
