//! Finds a task's namespaces and reads their identity.

use tracer_common::{Event, NsType, NS_TYPE_COUNT};

use crate::{
    emit::set,
    kread::{off, read, read_ptr},
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

/// `task->real_cred->user_ns`.
#[inline(always)]
pub fn task_user_ns(task: u64) -> u64 {
    read_ptr(read_ptr(task, off!(task_real_cred)), off!(cred_user_ns))
}

/// `task->cgroups->subsys[i]->cgroup->kn->id` for the v1 controller the
/// daemon picked (`css_set_subsys_v1` holds the offset of `subsys[i]`): the
/// task's cgroup on that v1 hierarchy, which is the inode number of its
/// directory. 0 when no v1 hierarchy is mounted.
#[inline(always)]
pub fn task_cgroup1_id(task: u64) -> u64 {
    let subsys = off!(css_set_subsys_v1);
    if subsys == tracer_common::OFFSET_ABSENT {
        return 0;
    }
    let css = read_ptr(read_ptr(task, off!(task_cgroups)), subsys);
    let kn = read_ptr(read_ptr(css, off!(css_cgroup)), off!(cgroup_kn));
    read::<u64>(kn, off!(kernfs_node_id))
}

/// `task->nsproxy`; NULL for a task past `exit_task_namespaces`.
#[inline(always)]
pub fn task_nsproxy(task: u64) -> u64 {
    read_ptr(task, off!(task_nsproxy))
}

/// Every namespace pointer of `task`. Built from named values in wire
/// order (mnt, uts, ipc, pid, net, user, cgroup, time) rather than by
/// indexing into a zeroed array, which would cost a memset.
#[inline(always)]
pub fn task_ns_ptrs(task: u64) -> NsPtrs {
    let nsproxy = task_nsproxy(task);
    let user = task_user_ns(task);
    // slot() reads nothing from a NULL nsproxy (a task past
    // exit_task_namespaces) and gives 0.
    NsPtrs {
        ptr: [
            slot(nsproxy, NsType::Mnt),
            slot(nsproxy, NsType::Uts),
            slot(nsproxy, NsType::Ipc),
            slot(nsproxy, NsType::Pid),
            slot(nsproxy, NsType::Net),
            user,
            slot(nsproxy, NsType::Cgroup),
            slot(nsproxy, NsType::Time),
        ],
        time_for_children: read_ptr(nsproxy, off!(nsproxy_time_for_children)),
    }
}

/// The pointer in `nsproxy`'s slot for `t`.
#[inline(always)]
pub fn slot(nsproxy: u64, t: NsType) -> u64 {
    read_ptr(nsproxy, off!(nsproxy_slot[t as usize]))
}

/// `ns->ns.inum` for a namespace struct of type `t`.
#[inline(always)]
pub fn inum(ns: u64, t: NsType) -> u32 {
    let common = off!(ns_common[t as usize]);
    read::<u32>(ns, common.wrapping_add(off!(ns_common_inum)))
}

/// Fills the identity of namespace `ns` of type `t` into `ev`: inode number,
/// owner, parent (pid and user), ns_id (6.18+), net cookie, address.
#[inline(always)]
pub fn fill_identity(ev: *mut Event, ns: u64, t: NsType) {
    let common = off!(ns_common[t as usize]);
    set!(ev, ns_type, t as u32);
    set!(ev, ptr, ns);
    set!(ev, inum, inum(ns, t));
    let ns_id_off = off!(ns_common_ns_id);
    if ns_id_off != tracer_common::OFFSET_ABSENT {
        set!(ev, ns_id, read::<u64>(ns, common.wrapping_add(ns_id_off)));
    }
    let owner = inum(read_ptr(ns, off!(owner[t as usize])), NsType::User);
    set!(ev, owner_inum, owner);
    match t {
        NsType::Pid => set!(
            ev,
            parent_inum,
            inum(read_ptr(ns, off!(pid_ns_parent)), NsType::Pid)
        ),
        // A user namespace's owner is its parent.
        NsType::User => set!(ev, parent_inum, owner),
        NsType::Net => set!(ev, aux, read::<u64>(ns, off!(net_cookie))),
        _ => {}
    }
}

/// The type of a bare `ns_common`: 6.18+ keeps the CLONE_NEW* flag in
/// `ns_common.ns_type`; before, `ns->ops->type` held it.
#[inline(always)]
pub fn common_type(common: u64) -> Option<NsType> {
    let ns_type_off = off!(ns_common_ns_type);
    let flag = if ns_type_off != tracer_common::OFFSET_ABSENT {
        read::<u32>(common, ns_type_off) as u64
    } else {
        let ops = read_ptr(common, off!(ns_common_ops));
        read::<u32>(ops, off!(proc_ns_ops_type)) as u64
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
