//! Finds a task's namespaces and reads their identity.

use tracer_common::{Event, NsType, NS_TYPE_COUNT};

use crate::kread::{off, read, read_ptr};

/// The namespace struct pointers a task holds, indexed by [`NsType`]; 0 when
/// a read failed. `Pid` is `pid_ns_for_children` and `Time` is `time_ns`.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct NsPtrs {
    pub ptr: [u64; NS_TYPE_COUNT],
    /// `nsproxy.time_ns_for_children`.
    pub time_for_children: u64,
    /// `task_struct.nsproxy` itself: equal nsproxy and user namespace means
    /// nothing differs, which spares the eight reads on most forks.
    pub nsproxy: u64,
}

impl NsPtrs {
    pub const fn zeroed() -> Self {
        NsPtrs {
            ptr: [0; NS_TYPE_COUNT],
            time_for_children: 0,
            nsproxy: 0,
        }
    }
}

/// `task->real_cred->user_ns`.
#[inline(always)]
pub fn task_user_ns(task: u64) -> u64 {
    read_ptr(task, off!(task_real_cred))
        .and_then(|cred| read_ptr(cred, off!(cred_user_ns)))
        .unwrap_or(0)
}

/// `task->nsproxy`; NULL for a task past `exit_task_namespaces`.
#[inline(always)]
pub fn task_nsproxy(task: u64) -> u64 {
    read_ptr(task, off!(task_nsproxy)).unwrap_or(0)
}

/// Every namespace pointer of `task`.
#[inline(always)]
pub fn task_ns_ptrs(task: u64) -> NsPtrs {
    let mut out = NsPtrs::zeroed();
    let nsproxy = task_nsproxy(task);
    out.nsproxy = nsproxy;
    out.ptr[NsType::User as usize] = task_user_ns(task);
    if nsproxy == 0 {
        return out;
    }
    // Unrolled with constant indices: the verifier then sees every array
    // access in bounds without a check.
    out.ptr[NsType::Mnt as usize] = slot(nsproxy, NsType::Mnt);
    out.ptr[NsType::Uts as usize] = slot(nsproxy, NsType::Uts);
    out.ptr[NsType::Ipc as usize] = slot(nsproxy, NsType::Ipc);
    out.ptr[NsType::Pid as usize] = slot(nsproxy, NsType::Pid);
    out.ptr[NsType::Net as usize] = slot(nsproxy, NsType::Net);
    out.ptr[NsType::Cgroup as usize] = slot(nsproxy, NsType::Cgroup);
    out.ptr[NsType::Time as usize] = slot(nsproxy, NsType::Time);
    out.time_for_children = read_ptr(nsproxy, off!(nsproxy_time_for_children)).unwrap_or(0);
    out
}

/// The pointer in `nsproxy`'s slot for `t`.
#[inline(always)]
pub fn slot(nsproxy: u64, t: NsType) -> u64 {
    read_ptr(nsproxy, off!(nsproxy_slot[t as usize])).unwrap_or(0)
}

/// `ns->ns.inum` for a namespace struct of type `t`.
#[inline(always)]
pub fn inum(ns: u64, t: NsType) -> u32 {
    let common = off!(ns_common[t as usize]);
    read::<u32>(ns, common.wrapping_add(off!(ns_common_inum))).unwrap_or(0)
}

/// Fills the identity of namespace `ns` of type `t` into `ev`: inode number,
/// owner, parent (pid and user), ns_id (6.18+), net cookie, address.
#[inline(always)]
pub fn fill_identity(ev: &mut Event, ns: u64, t: NsType) {
    ev.ns_type = t as u32;
    ev.ptr = ns;
    ev.inum = inum(ns, t);
    let common = off!(ns_common[t as usize]);
    let ns_id_off = off!(ns_common_ns_id);
    if ns_id_off != tracer_common::OFFSET_ABSENT {
        ev.ns_id = read::<u64>(ns, common.wrapping_add(ns_id_off)).unwrap_or(0);
    }
    if let Some(owner) = read_ptr(ns, off!(owner[t as usize])) {
        ev.owner_inum = inum(owner, NsType::User);
    }
    match t {
        NsType::Pid => {
            if let Some(parent) = read_ptr(ns, off!(pid_ns_parent)) {
                ev.parent_inum = inum(parent, NsType::Pid);
            }
        }
        NsType::User => {
            // A user namespace's owner is its parent.
            ev.parent_inum = ev.owner_inum;
        }
        NsType::Net => {
            ev.aux = read::<u64>(ns, off!(net_cookie)).unwrap_or(0);
        }
        _ => {}
    }
}
