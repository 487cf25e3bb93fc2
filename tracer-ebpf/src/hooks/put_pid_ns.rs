//! Pid namespace deaths on 6.1 and 6.12, where nothing that frees one takes
//! its pointer and is not inlined:
//!
//! ```c
//! void put_pid_ns(struct pid_namespace *ns)   /* kernel/pid_namespace.c,
//!                                              * v6.1 and v6.12 */
//! {
//!         while (ns != &init_pid_ns) {
//!                 parent = ns->parent;
//!                 if (!refcount_dec_and_test(&ns->ns.count))
//!                         break;
//!                 destroy_pid_namespace(ns);  /* inlined: ns_free_inum, */
//!                 ns = parent;                /* idr_destroy, call_rcu  */
//!         }
//! }
//! ```
//!
//! So the entry of `put_pid_ns` notes the namespace it starts from, and
//! `void proc_free_inum(unsigned int inum)` (fs/proc/generic.c), reached
//! from inside it on the same thread only through `destroy_pid_namespace`,
//! says which number goes: the member of the chain from the noted one that
//! has it is the one dying, now. Every put that can free something is
//! noted, so concurrent puts cannot hide a last one; `proc_free_inum`
//! calls outside it are other types' and ignored.
//!
//! Most puts are of `init_pid_ns` (every exit of a process outside a pid
//! namespace, every nsproxy freed there, each unshare of another type),
//! which the loop never frees: entry and exit read the argument's `level`
//! (0 only for `init_pid_ns`) and return, so those puts cost the two hooks
//! and a load each (the kretprobe, without the argument, a map lookup).
//!
//! Why this hook and not one that runs only at a destroy: none is
//! traceable and takes the pointer in time. `destroy_pid_namespace` is
//! inlined; `idr_destroy`, its first call after the number is released,
//! lives in lib/, which is built without ftrace, so it has no fentry, and
//! Debian's 6.1 refuses a kprobe on it ("Could not probe notrace function":
//! no CONFIG_KPROBE_EVENTS_ON_NOTRACE). `delayed_free_pidns` has the
//! pointer but runs a grace period after the number went back, so a new
//! namespace can take the number before the death is seen.
//!
//! Flavours: fentry + fexit + fentry, kprobe + kretprobe + kprobe;
//! attached only where `__ns_common_free` (ns_common_free.rs) is missing.

use aya_ebpf::{
    helpers::bpf_ktime_get_boot_ns,
    macros::{fentry, fexit, kprobe, kretprobe, map},
    maps::LruHashMap,
    programs::{FEntryContext, FExitContext, ProbeContext, RetProbeContext},
};
use tracer_common::{EventKind, NsType, Via};

use super::current_tid;
use crate::{
    emit::{self, set},
    kread::{self, off, read_ptr, Direct, Mem, Probe},
    nsread,
};

/// Thread → the pid namespace its put_pid_ns call started from.
#[map(name = "PID_PUT")]
static PID_PUT: LruHashMap<u32, u64> = LruHashMap::with_max_entries(4096, 0);

/// Pid namespaces nest at most 32 deep (MAX_PID_NS_LEVEL).
const MAX_DEPTH: u32 = 33;

#[fentry(function = "put_pid_ns")]
pub fn fentry_put_pid_ns(ctx: FEntryContext) -> u32 {
    let ns = ctx.arg(0);
    if may_free::<Direct>(ns) {
        enter(ns);
    }
    0
}

#[fexit(function = "put_pid_ns")]
pub fn fexit_put_pid_ns(ctx: FExitContext) -> u32 {
    // A plain load rather than a map lookup (helper calls are most of a
    // program's time). A namespace this put destroyed is freed only after
    // an RCU grace period, so its level is still there; only a task
    // preempted for a whole grace period right after the destroy could read
    // a recycled struct, and then at worst leaves its entry to the next put.
    if may_free::<Direct>(ctx.arg(0)) {
        leave();
    }
    0
}

#[kprobe]
pub fn kprobe_put_pid_ns(ctx: ProbeContext) -> u32 {
    if let Some(ns) = ctx.arg::<u64>(0) {
        if may_free::<Probe>(ns) {
            enter(ns);
        }
    }
    0
}

#[kretprobe]
pub fn kretprobe_put_pid_ns(_ctx: RetProbeContext) -> u32 {
    leave();
    0
}

#[fentry(function = "proc_free_inum")]
pub fn fentry_proc_free_inum(ctx: FEntryContext) -> u32 {
    free_inum(ctx.arg::<u64>(0) as u32);
    0
}

#[kprobe]
pub fn kprobe_proc_free_inum(ctx: ProbeContext) -> u32 {
    if let Some(inum) = ctx.arg::<u64>(0) {
        free_inum(inum as u32);
    }
    0
}

/// Whether a put of `ns` can free anything: not of NULL, nor of
/// `init_pid_ns`, the one pid namespace at level 0.
#[inline(always)]
fn may_free<M: Mem>(ns: u64) -> bool {
    ns != 0 && kread::ready() && M::read::<u32>(ns, off!(pid_ns_level)) != 0
}

#[inline(always)]
fn enter(ns: u64) {
    let _ = PID_PUT.insert(current_tid(), ns, 0);
}

/// Drops what the entry noted, if anything: most puts noted nothing, and a
/// lookup takes no lock where the delete would.
#[inline(always)]
fn leave() {
    let tid = current_tid();
    if unsafe { PID_PUT.get(tid) }.is_some() {
        let _ = PID_PUT.remove(tid);
    }
}

#[inline(always)]
fn free_inum(inum: u32) {
    if !kread::ready() {
        return;
    }
    let Some(&first) = (unsafe { PID_PUT.get(current_tid()) }) else {
        return;
    };
    let now = unsafe { bpf_ktime_get_boot_ns() };
    let mut ns = first;
    for _ in 0..MAX_DEPTH {
        if ns == 0 {
            return;
        }
        if nsread::inum::<Probe>(ns, NsType::Pid) == inum {
            if let Some(mut d) = emit::begin(EventKind::Death, Via::None) {
                let ev = d.ev();
                nsread::fill_identity(ev, ns, NsType::Pid);
                set!(ev, ts_ns, now);
                d.send();
            }
            return;
        }
        ns = read_ptr(ns, off!(pid_ns_parent));
    }
}
