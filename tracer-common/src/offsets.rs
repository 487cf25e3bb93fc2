//! Kernel structure offsets, resolved by the daemon from the running kernel's
//! BTF and handed to the programs as the global `OFFSETS` before load.
//!
//! Rust eBPF has no CO-RE relocations, so a layout compiled in from one
//! kernel is wrong on the next (`task_struct.nsproxy` is 3064 on Debian's 6.1
//! and 1840 on a 6.18 Firecracker build). Nothing here is ever a constant.

/// Number of namespace types, the length of every per-type array.
pub const NS_TYPE_COUNT: usize = 8;

/// Marks a field this kernel does not have (e.g. `ns_common.ns_id` before
/// 6.18). The programs test for it before reading.
pub const OFFSET_ABSENT: u32 = u32::MAX;

/// Byte offsets into kernel structures. Arrays are indexed by
/// [`crate::NsType`] as `u32`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelOffsets {
    /// `task_struct.pid` (the thread id).
    pub task_pid: u32,
    /// `task_struct.tgid` (the process id).
    pub task_tgid: u32,
    /// `task_struct.nsproxy`.
    pub task_nsproxy: u32,
    /// `task_struct.real_cred`: the objective credentials, which is what
    /// `/proc/PID/ns/user` reports.
    pub task_real_cred: u32,
    /// `cred.user_ns`.
    pub cred_user_ns: u32,
    /// `ns_common.inum`, relative to the `ns_common`.
    pub ns_common_inum: u32,
    /// `ns_common.ns_id` (6.18+), or [`OFFSET_ABSENT`].
    pub ns_common_ns_id: u32,
    /// `pid_namespace.parent`.
    pub pid_ns_parent: u32,
    /// `user_namespace.parent`.
    pub user_ns_parent: u32,
    /// `nsproxy.time_ns_for_children`: made by `unshare(CLONE_NEWTIME)`,
    /// entered by the task at its next fork or exec.
    pub nsproxy_time_for_children: u32,
    /// Offset of each type's pointer in `struct nsproxy`; `User` is
    /// [`OFFSET_ABSENT`] (a task's user namespace hangs off its cred), `Pid`
    /// is `pid_ns_for_children` (the one `unshare`/`setns` change) and `Time`
    /// is `time_ns`, the namespace the task is in now.
    pub nsproxy_slot: [u32; NS_TYPE_COUNT],
    /// Offset of the embedded `ns_common` (the field `ns`) in each type's
    /// namespace struct.
    pub ns_common: [u32; NS_TYPE_COUNT],
    /// Offset of the owning `user_ns` pointer in each type's namespace struct;
    /// for `User` it is `parent`, which is its owner.
    pub owner: [u32; NS_TYPE_COUNT],
    /// `net.net_cookie`.
    pub net_cookie: u32,
    /// Non-zero once the daemon has filled this in; programs do nothing
    /// without it rather than read at offset zero.
    pub valid: u32,
    /// `ns_common.ns_type` (6.18+: the type's CLONE_NEW* flag), or
    /// [`OFFSET_ABSENT`].
    pub ns_common_ns_type: u32,
    /// `ns_common.ops`.
    pub ns_common_ops: u32,
    /// `proc_ns_operations.type` (the CLONE_NEW* flag; removed in 6.18), or
    /// [`OFFSET_ABSENT`].
    pub proc_ns_ops_type: u32,
    /// `inode.i_ino`.
    pub inode_ino: u32,
    /// `inode.i_private` (an nsfs inode's `ns_common`).
    pub inode_private: u32,
    /// `kernel_clone_args.flags`.
    pub clone_args_flags: u32,
    /// `pt_regs.di` and `pt_regs.si`: the first two syscall arguments as the
    /// `__x64_sys_*` wrappers receive them.
    pub pt_regs_di: u32,
    pub pt_regs_si: u32,
    /// `ns_common.count` (6.1, 6.12) or `ns_common.__ns_ref` (6.18+): the
    /// reference count, a `refcount_t` whose first member is the int.
    pub ns_common_count: u32,
    /// `user_namespace.work`: the work item `free_user_ns` runs from.
    pub user_ns_work: u32,
    /// `pid_namespace.work` (6.18+: `destroy_pid_namespace_work`), or
    /// [`OFFSET_ABSENT`].
    pub pid_ns_work: u32,
    /// `pt_regs.orig_ax`: in a task's saved user registers, the number of
    /// the syscall it is in (unshare's return and the fork hooks read it
    /// there instead of keeping state from the syscall's entry).
    pub pt_regs_orig_ax: u32,
    /// `task_struct.comm`, read as two words for every record.
    pub task_comm: u32,
    /// `net.list`: a net's link in the kernel's `net_namespace_list`.
    pub net_list: u32,
    /// `list_head.next`.
    pub list_next: u32,
    /// `task_struct.cgroups` (the task's `css_set`).
    pub task_cgroups: u32,
    /// Offset of `subsys[i]` in `struct css_set`, where `i` is the
    /// `cgroup_subsys_id` of a controller mounted on a cgroup v1 hierarchy;
    /// [`OFFSET_ABSENT`] when no v1 hierarchy is mounted, and then the
    /// programs read no v1 cgroup at all.
    pub css_set_subsys_v1: u32,
    /// `cgroup_subsys_state.cgroup`.
    pub css_cgroup: u32,
    /// `cgroup.kn` (the cgroup's directory in kernfs).
    pub cgroup_kn: u32,
    /// `kernfs_node.id`: a 64-bit id, the directory's inode number on
    /// 64-bit kernels since 5.5.
    pub kernfs_node_id: u32,
    /// `pid_namespace.level`: 0 only for `init_pid_ns`, which no put frees.
    pub pid_ns_level: u32,
    /// `css_set.dfl_cgrp`: the task's cgroup on the unified hierarchy,
    /// whose `kn->id` is what `bpf_get_current_cgroup_id` returns. With it
    /// (and `task_cgroups`, `cgroup_kn`, `kernfs_node_id`) births read
    /// the id with plain loads instead of the helper call.
    pub css_set_dfl_cgrp: u32,
}

/// Kernel function addresses (from /proc/kallsyms) that the workqueue
/// tracepoints name in `function`: how a tracepoint-only kernel sees a
/// deferred free. 0 when the kernel has no such function.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkFunctions {
    pub cleanup_net: u64,
    pub free_user_ns: u64,
    pub destroy_pid_namespace_work: u64,
}

impl WorkFunctions {
    pub const fn unset() -> Self {
        WorkFunctions {
            cleanup_net: 0,
            free_user_ns: 0,
            destroy_pid_namespace_work: 0,
        }
    }
}

impl KernelOffsets {
    /// All-absent offsets: the value compiled into the object before the
    /// daemon overrides it.
    pub const fn unset() -> Self {
        KernelOffsets {
            task_pid: OFFSET_ABSENT,
            task_tgid: OFFSET_ABSENT,
            task_nsproxy: OFFSET_ABSENT,
            task_real_cred: OFFSET_ABSENT,
            cred_user_ns: OFFSET_ABSENT,
            ns_common_inum: OFFSET_ABSENT,
            ns_common_ns_id: OFFSET_ABSENT,
            pid_ns_parent: OFFSET_ABSENT,
            user_ns_parent: OFFSET_ABSENT,
            nsproxy_time_for_children: OFFSET_ABSENT,
            nsproxy_slot: [OFFSET_ABSENT; NS_TYPE_COUNT],
            ns_common: [OFFSET_ABSENT; NS_TYPE_COUNT],
            owner: [OFFSET_ABSENT; NS_TYPE_COUNT],
            net_cookie: OFFSET_ABSENT,
            valid: 0,
            ns_common_ns_type: OFFSET_ABSENT,
            ns_common_ops: OFFSET_ABSENT,
            proc_ns_ops_type: OFFSET_ABSENT,
            inode_ino: OFFSET_ABSENT,
            inode_private: OFFSET_ABSENT,
            clone_args_flags: OFFSET_ABSENT,
            pt_regs_di: OFFSET_ABSENT,
            pt_regs_si: OFFSET_ABSENT,
            ns_common_count: OFFSET_ABSENT,
            user_ns_work: OFFSET_ABSENT,
            pid_ns_work: OFFSET_ABSENT,
            pt_regs_orig_ax: OFFSET_ABSENT,
            task_comm: OFFSET_ABSENT,
            net_list: OFFSET_ABSENT,
            list_next: OFFSET_ABSENT,
            task_cgroups: OFFSET_ABSENT,
            css_set_subsys_v1: OFFSET_ABSENT,
            css_cgroup: OFFSET_ABSENT,
            cgroup_kn: OFFSET_ABSENT,
            kernfs_node_id: OFFSET_ABSENT,
            pid_ns_level: OFFSET_ABSENT,
            css_set_dfl_cgrp: OFFSET_ABSENT,
        }
    }
}

#[cfg(test)]
mod tests {
    use core::mem::{align_of, offset_of, size_of};

    use super::*;

    #[test]
    fn layout_is_pinned() {
        // Only u32s: no padding, whatever their number.
        assert_eq!(size_of::<KernelOffsets>(), 56 + 3 * 32 + 80);
        assert_eq!(size_of::<WorkFunctions>(), 24);
        assert_eq!(align_of::<KernelOffsets>(), 4);
        assert_eq!(offset_of!(KernelOffsets, nsproxy_slot), 40);
        assert_eq!(offset_of!(KernelOffsets, ns_common), 72);
        assert_eq!(offset_of!(KernelOffsets, owner), 104);
        assert_eq!(offset_of!(KernelOffsets, net_cookie), 136);
        assert_eq!(offset_of!(KernelOffsets, valid), 140);
        assert_eq!(offset_of!(KernelOffsets, ns_common_ns_type), 144);
        assert_eq!(offset_of!(KernelOffsets, pt_regs_si), 172);
        assert_eq!(offset_of!(KernelOffsets, pt_regs_orig_ax), 188);
        assert_eq!(offset_of!(KernelOffsets, task_comm), 192);
        assert_eq!(offset_of!(KernelOffsets, net_list), 196);
        assert_eq!(offset_of!(KernelOffsets, task_cgroups), 204);
        assert_eq!(offset_of!(KernelOffsets, kernfs_node_id), 220);
        assert_eq!(offset_of!(KernelOffsets, pid_ns_level), 224);
        assert_eq!(offset_of!(KernelOffsets, css_set_dfl_cgrp), 228);
    }
}
