//! Finds a task's namespaces and reads their identity.
//!
//! Each reader takes the [`Mem`] to read with: [`Direct`] when the pointer
//! it starts from is BTF-typed (every pointer loaded on the way then is
//! too), [`Probe`] otherwise. The plain names (`fill_identity`, ...) read
//! with [`Probe`].

use tracer_common::{Event, NsType, NS_TYPE_COUNT};

use crate::{
    emit::set,
    kread::{off, Mem, Probe},
};

/// The namespace struct pointers a task holds, indexed by [`NsType`]; 0 when
/// a read failed. `Pid` is `pid_ns_for_children` and `Time` is `time_ns`.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct NsPtrs {
    pub ptr: [u64; NS_TYPE_COUNT],
    /// `nsproxy.time_ns_for_children`.
    pub time_for_children: u64,
}

/// `task->cgroups->dfl_cgrp->kn->id`: the task's cgroup on the unified
/// hierarchy, what `bpf_get_current_cgroup_id` returns for the current
/// task. `None` when the daemon found no such chain in the BTF.
#[inline(always)]
pub fn task_cgroup2_id<M: Mem>(task: u64) -> Option<u64> {
    let dfl = off!(css_set_dfl_cgrp);
    if dfl == tracer_common::OFFSET_ABSENT {
        return None;
    }
    let cgrp = M::read::<u64>(M::read::<u64>(task, off!(task_cgroups)), dfl);
    let kn = M::read::<u64>(cgrp, off!(cgroup_kn));
    Some(M::read::<u64>(kn, off!(kernfs_node_id)))
}

/// `task->real_cred->user_ns`.
#[inline(always)]
pub fn task_user_ns<M: Mem>(task: u64) -> u64 {
    let cred = M::read::<u64>(task, off!(task_real_cred));
    M::read::<u64>(cred, off!(cred_user_ns))
}

/// `task->cgroups->subsys[i]->cgroup->kn->id` for the v1 controller the
/// daemon picked (`css_set_subsys_v1` holds the offset of `subsys[i]`): the
/// task's cgroup on that v1 hierarchy, which is the inode number of its
/// directory. 0 when no v1 hierarchy is mounted.
#[inline(always)]
pub fn task_cgroup1_id<M: Mem>(task: u64) -> u64 {
    let subsys = off!(css_set_subsys_v1);
    if subsys == tracer_common::OFFSET_ABSENT {
        return 0;
    }
    let css = M::read::<u64>(M::read::<u64>(task, off!(task_cgroups)), subsys);
    let kn = M::read::<u64>(M::read::<u64>(css, off!(css_cgroup)), off!(cgroup_kn));
    M::read::<u64>(kn, off!(kernfs_node_id))
}

/// `task->nsproxy`; NULL for a task past `exit_task_namespaces`.
#[inline(always)]
pub fn task_nsproxy<M: Mem>(task: u64) -> u64 {
    M::read::<u64>(task, off!(task_nsproxy))
}

/// Every namespace pointer of `task`. Built from named values in wire
/// order (mnt, uts, ipc, pid, net, user, cgroup, time) rather than by
/// indexing into a zeroed array, which would cost a memset.
#[inline(always)]
pub fn task_ns_ptrs<M: Mem>(task: u64) -> NsPtrs {
    let nsproxy = task_nsproxy::<M>(task);
    let user = task_user_ns::<M>(task);
    // slot() reads nothing from a NULL nsproxy (a task past
    // exit_task_namespaces) and gives 0.
    NsPtrs {
        ptr: [
            slot::<M>(nsproxy, NsType::Mnt),
            slot::<M>(nsproxy, NsType::Uts),
            slot::<M>(nsproxy, NsType::Ipc),
            slot::<M>(nsproxy, NsType::Pid),
            slot::<M>(nsproxy, NsType::Net),
            user,
            slot::<M>(nsproxy, NsType::Cgroup),
            slot::<M>(nsproxy, NsType::Time),
        ],
        time_for_children: M::read::<u64>(nsproxy, off!(nsproxy_time_for_children)),
    }
}

/// The pointer in `nsproxy`'s slot for `t`.
#[inline(always)]
pub fn slot<M: Mem>(nsproxy: u64, t: NsType) -> u64 {
    M::read::<u64>(nsproxy, off!(nsproxy_slot[t as usize]))
}

/// `ns->ns.inum` for a namespace struct of type `t`.
#[inline(always)]
pub fn inum<M: Mem>(ns: u64, t: NsType) -> u32 {
    let common = off!(ns_common[t as usize]);
    M::read::<u32>(ns, common.wrapping_add(off!(ns_common_inum)))
}

/// Fills the identity of namespace `ns` of type `t` into `ev`: inode number,
/// owner, parent (pid and user), ns_id (6.18+), net cookie, address.
#[inline(always)]
pub fn fill_identity_with<M: Mem>(ev: *mut Event, ns: u64, t: NsType) {
    let common = off!(ns_common[t as usize]);
    set!(ev, ns_type, t as u32);
    set!(ev, ptr, ns);
    set!(ev, inum, inum::<M>(ns, t));
    let ns_id_off = off!(ns_common_ns_id);
    if ns_id_off != tracer_common::OFFSET_ABSENT {
        set!(
            ev,
            ns_id,
            M::read::<u64>(ns, common.wrapping_add(ns_id_off))
        );
    }
    let owner = inum::<M>(M::read::<u64>(ns, off!(owner[t as usize])), NsType::User);
    set!(ev, owner_inum, owner);
    match t {
        NsType::Pid => set!(
            ev,
            parent_inum,
            inum::<M>(M::read::<u64>(ns, off!(pid_ns_parent)), NsType::Pid)
        ),
        // A user namespace's owner is its parent.
        NsType::User => set!(ev, parent_inum, owner),
        NsType::Net => set!(ev, aux, M::read::<u64>(ns, off!(net_cookie))),
        _ => {}
    }
}

/// [`fill_identity_with`] through bpf_probe_read_kernel, for a namespace
/// pointer of any provenance.
#[inline(always)]
pub fn fill_identity(ev: *mut Event, ns: u64, t: NsType) {
    fill_identity_with::<Probe>(ev, ns, t)
}

/// The type of a bare `ns_common`: 6.18+ keeps the CLONE_NEW* flag in
/// `ns_common.ns_type`; before, `ns->ops->type` held it.
#[inline(always)]
pub fn common_type(common: u64) -> Option<NsType> {
    let ns_type_off = off!(ns_common_ns_type);
    let flag = if ns_type_off != tracer_common::OFFSET_ABSENT {
        Probe::read::<u32>(common, ns_type_off) as u64
    } else {
        let ops = Probe::read::<u64>(common, off!(ns_common_ops));
        Probe::read::<u32>(ops, off!(proc_ns_ops_type)) as u64
    };
    type_of_flag(flag)
}

/// The type whose CLONE_NEW* flag is `flag`.
#[inline(always)]
pub fn type_of_flag(flag: u64) -> Option<NsType> {
    // Spelled out rather than searched: a loop over a table would index by a
    // loaded value the verifier cannot bound.
    match flag {
        0x0002_0000 => Some(NsType::Mnt),
        0x0400_0000 => Some(NsType::Uts),
        0x0800_0000 => Some(NsType::Ipc),
        0x2000_0000 => Some(NsType::Pid),
        0x4000_0000 => Some(NsType::Net),
        0x1000_0000 => Some(NsType::User),
        0x0200_0000 => Some(NsType::Cgroup),
        0x0000_0080 => Some(NsType::Time),
        _ => None,
    }
}

/// The namespace struct around an `ns_common` of type `t`.
#[inline(always)]
pub fn ns_of_common(common: u64, t: NsType) -> u64 {
    common.wrapping_sub(off!(ns_common[t as usize]) as u64)
}
