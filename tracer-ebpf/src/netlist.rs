//! Net deaths without kprobes: which nets a `cleanup_net` run freed, from
//! the kernel's own list of nets (`net_namespace_list`) read at the run's
//! start and end.
//!
//! `cleanup_net` (net/core/net_namespace.c, v6.1 to v6.18) takes every net
//! queued so far (`llist_del_all(&cleanup_list)`) and, before anything else,
//! unlinks each from `net_namespace_list` (`list_del_rcu(&net->list)`); the
//! inode number is released later in the same run (`net_ns_net_exit` on
//! 6.1/6.12, `ns_common_free` in the final loop on 6.18). Only cleanup_net
//! removes nets from the list, nets are added at the end of a successful
//! `setup_net`, and `netns_wq` is ordered, so one run at a time. So:
//!
//! - at the run's start (workqueue_execute_start), every net on the list
//!   whose count is already zero is dying: it was queued by `__put_net`, and
//!   a count never rises from zero. Its identity (address, inum, ns_id,
//!   cookie) is read now, while it is whole;
//! - at the run's end, such a net still on the list was queued after the
//!   snapshot (the moment between the count reaching zero and
//!   `llist_add`) and waits for the next run; every other one died in this
//!   run, at a time between the two.
//!
//! The list is reached without any kernel data symbol (this project's
//! 6.18 host has no CONFIG_KALLSYMS_ALL): a kworker's `nsproxy->net_ns` is
//! `init_net`, which is always the first entry (set up first, never
//! removed), so the list head is the node whose `next` is `init_net.list`.
//! The walk runs under the RCU read lock every BPF program holds, which is
//! what `list_del_rcu`/`list_add_tail_rcu` ask of readers.
//!
//! Cost: one `bpf_loop` step (two reads) per net alive at each end of each
//! run, and a hash lookup per dying net; nothing outside cleanup runs.

use aya_ebpf::{
    cty::c_void,
    helpers::{bpf_get_current_task, generated::bpf_loop},
    macros::map,
    maps::{Array, HashMap},
};
use tracer_common::{EventKind, NsType, Via, DEATH_LATE, OFFSET_ABSENT};

use crate::{
    emit::{self, set},
    kread::{off, read, read_ptr, Probe},
    nsread,
};

/// Most nets a walk visits: a host with more is reported as a partial walk.
const MAX_NETS: u32 = 1 << 20;
/// Most dying nets one run can hold.
const MAX_DYING: u32 = 1 << 16;

/// A net found dying at a run's start, read while it was whole.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Dying {
    pub ptr: u64,
    pub ns_id: u64,
    pub cookie: u64,
    pub inum: u32,
    /// Set at the end when it is still on the list.
    pub survived: u32,
}

/// The current run's dying nets, by position.
#[map(name = "NET_DYING")]
static NET_DYING: Array<Dying> = Array::with_max_entries(MAX_DYING, 0);

/// Address → position in `NET_DYING`.
#[map(name = "NET_DYING_AT")]
static NET_DYING_AT: HashMap<u64, u32> = HashMap::with_max_entries(MAX_DYING, 0);

/// [0]: how many of `NET_DYING` the current run uses.
#[map(name = "NET_DYING_LEN")]
static NET_DYING_LEN: Array<u32> = Array::with_max_entries(1, 0);

/// State of one walk, handed to each `bpf_loop` step.
#[repr(C)]
struct Walk {
    /// `&init_net.list`.
    head: u64,
    /// The node to look at next.
    cur: u64,
    /// Dying nets recorded (start) or found still listed (end).
    found: u32,
    /// Non-zero once the walk reached the list head.
    done: u32,
    /// Non-zero if a dying net did not fit.
    full: u32,
    _pad: u32,
}

/// `&init_net.list`, through the current task (a kworker) or 0.
#[inline(always)]
fn head() -> u64 {
    let task = unsafe { bpf_get_current_task() };
    let net = nsread::slot::<Probe>(nsread::task_nsproxy::<Probe>(task), NsType::Net);
    if net == 0 || off!(net_list) == OFFSET_ABSENT {
        return 0;
    }
    net.wrapping_add(off!(net_list) as u64)
}

/// The next net of the walk and advances it, or 0 at the end.
#[inline(always)]
fn step(w: &mut Walk) -> u64 {
    let node = w.cur;
    let next = read_ptr(node, off!(list_next));
    // `net_namespace_list` itself is the one node whose next is init_net.
    if node == 0 || node == w.head || next == 0 || next == w.head {
        w.done = 1;
        return 0;
    }
    w.cur = next;
    node.wrapping_sub(off!(net_list) as u64)
}

/// One `bpf_loop` step: the next net on the list if its count is zero
/// (`Ok`), or what the step returns without one (`Err`: 1 at the end of
/// the list, 0 for a live net).
#[inline(always)]
fn next_dying(ctx: *mut c_void) -> Result<(&'static mut Walk, u64), i64> {
    // SAFETY: `ctx` is the `Walk` on the caller's stack that `walk` hands
    // to bpf_loop, alive for the whole loop.
    let w = unsafe { &mut *(ctx as *mut Walk) };
    let net = step(w);
    if net == 0 {
        return Err(1);
    }
    let common = off!(ns_common[NsType::Net as usize]);
    if read::<u32>(net, common.wrapping_add(off!(ns_common_count))) != 0 {
        return Err(0);
    }
    Ok((w, net))
}

extern "C" fn snapshot_step(_i: u64, ctx: *mut c_void) -> i64 {
    let (w, net) = match next_dying(ctx) {
        Ok(found) => found,
        Err(ret) => return ret,
    };
    let at = w.found;
    let Some(slot) = NET_DYING.get_ptr_mut(at) else {
        w.full = 1;
        return 0;
    };
    let common = off!(ns_common[NsType::Net as usize]);
    let ns_id_off = off!(ns_common_ns_id);
    let ns_id = if ns_id_off == OFFSET_ABSENT {
        0
    } else {
        read::<u64>(net, common.wrapping_add(ns_id_off))
    };
    let dying = Dying {
        ptr: net,
        ns_id,
        cookie: read::<u64>(net, off!(net_cookie)),
        inum: nsread::inum::<Probe>(net, NsType::Net),
        survived: 0,
    };
    unsafe { *slot = dying };
    if NET_DYING_AT.insert(net, at, 0).is_err() {
        w.full = 1;
        return 0;
    }
    w.found = at + 1;
    0
}

extern "C" fn survivor_step(_i: u64, ctx: *mut c_void) -> i64 {
    let (w, net) = match next_dying(ctx) {
        Ok(found) => found,
        Err(ret) => return ret,
    };
    if let Some(&at) = unsafe { NET_DYING_AT.get(net) } {
        if let Some(slot) = NET_DYING.get_ptr_mut(at) {
            unsafe { (*slot).survived = 1 };
            w.found += 1;
        }
    }
    0
}

extern "C" fn forget_step(i: u64, _ctx: *mut c_void) -> i64 {
    if let Some(d) = NET_DYING.get(i as u32) {
        let _ = NET_DYING_AT.remove(d.ptr);
    }
    0
}

extern "C" fn report_step(i: u64, _ctx: *mut c_void) -> i64 {
    let Some(d) = NET_DYING.get(i as u32) else {
        return 1;
    };
    let d = *d;
    let _ = NET_DYING_AT.remove(d.ptr);
    if d.survived != 0 {
        return 0;
    }
    if let Some(mut draft) = emit::begin(EventKind::Death, Via::None) {
        let ev = draft.ev();
        set!(ev, ns_type, NsType::Net as u32);
        set!(ev, ptr, d.ptr);
        set!(ev, inum, d.inum);
        set!(ev, ns_id, d.ns_id);
        set!(ev, aux, d.cookie);
        set!(ev, flags, DEATH_LATE);
        draft.send();
    }
    0
}

#[inline(always)]
fn len() -> u32 {
    NET_DYING_LEN.get(0).copied().unwrap_or(0).min(MAX_DYING)
}

#[inline(always)]
fn set_len(n: u32) {
    if let Some(p) = NET_DYING_LEN.get_ptr_mut(0) {
        unsafe { *p = n };
    }
}

/// Runs `f` over the whole list from `head`. Returns the walk, and whether
/// it reached the end.
#[inline(always)]
fn walk(head: u64, f: extern "C" fn(u64, *mut c_void) -> i64) -> (Walk, bool) {
    let mut w = Walk {
        head,
        cur: read_ptr(head, off!(list_next)),
        found: 0,
        done: 0,
        full: 0,
        _pad: 0,
    };
    unsafe { bpf_loop(MAX_NETS, f as *mut c_void, (&mut w as *mut Walk).cast(), 0) };
    let complete = w.done != 0 && w.full == 0;
    (w, complete)
}

/// At a cleanup run's start: notes the dying nets. Returns false if the
/// walk was partial.
#[inline(always)]
pub fn run_start() -> bool {
    // A run whose end we missed (attached mid-run) may have left entries.
    let stale = len();
    if stale != 0 {
        unsafe { bpf_loop(stale, forget_step as *mut c_void, core::ptr::null_mut(), 0) };
        set_len(0);
    }
    let head = head();
    if head == 0 {
        return false;
    }
    let (w, complete) = walk(head, snapshot_step);
    set_len(w.found);
    complete
}

/// At a cleanup run's end: reports every net noted at its start that is no
/// longer on the list. Returns false if the walk was partial.
#[inline(always)]
pub fn run_end() -> bool {
    let n = len();
    let head = head();
    let complete = head != 0 && (n == 0 || walk(head, survivor_step).1);
    // A net the end walk did not reach is not known to be gone: report
    // nothing rather than a death that did not happen.
    if n != 0 {
        let step = if complete { report_step } else { forget_step };
        unsafe { bpf_loop(n, step as *mut c_void, core::ptr::null_mut(), 0) };
    }
    set_len(0);
    complete
}
