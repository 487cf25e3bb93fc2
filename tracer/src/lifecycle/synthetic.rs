//! Made-up event streams for measuring the engine (memory with 100,000 live
//! namespaces) without a kernel.

use tracer_common::{Event, EventKind, NsType, Via, COMM_LEN};

/// Inode of the initial user namespace on 6.1/6.12 (`PROC_USER_INIT_INO`).
const INIT_USER_INO: u32 = 0xEFFF_FFFD;

/// `n` births by clone, spread over the eight types, each on its own inode
/// number and kernel address, 1 µs apart from 1 s after boot, made by a
/// handful of commands. Pid and user births name the initial namespace as
/// parent; every birth names the initial user namespace as owner.
pub fn synthetic_births(n: usize) -> Vec<Event> {
    const COMMS: [&[u8]; 4] = [b"runc:[2:INIT]", b"containerd-shim", b"unshare", b"ip"];
    (0..n)
        .map(|i| {
            let ty = NsType::ALL[i % NsType::ALL.len()];
            let mut comm = [0u8; COMM_LEN];
            let name = COMMS[i % COMMS.len()];
            comm[..name.len()].copy_from_slice(name);
            let mut ev = Event::zeroed();
            ev.kind = EventKind::Birth as u32;
            ev.ns_type = ty as u32;
            ev.ts_ns = 1_000_000_000 + i as u64 * 1_000;
            ev.pid = 1000 + i as u32;
            ev.tid = ev.pid;
            ev.target_pid = ev.pid + 1;
            ev.target_tid = ev.pid + 1;
            ev.comm = comm;
            ev.inum = 0xF000_1000 + i as u32;
            ev.owner_inum = INIT_USER_INO;
            ev.parent_inum = match ty {
                NsType::Pid => 0xEFFF_FFFC,
                NsType::User => INIT_USER_INO,
                _ => 0,
            };
            ev.via = Via::Clone as u32;
            ev.flags = ty.clone_flag();
            ev.ptr = 0xffff_8880_0000_0000 + i as u64 * 0x1000;
            // As 6.18 and later send it: every namespace has one.
            ev.ns_id = 0x1000 + i as u64;
            ev.cpu = (i % 2) as u32;
            ev
        })
        .collect()
}
