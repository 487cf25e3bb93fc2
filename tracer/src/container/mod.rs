//! Whose namespace is it: the container, pod and runtime behind a record.
//!
//! **Capture.** The kernel side records, with every birth and join, the
//! creating task's cgroup2 id (`bpf_get_current_cgroup_id`) and, where a
//! cgroup v1 controller hierarchy is mounted, its cgroup id there
//! (`task->cgroups->subsys[i]->cgroup->kn->id`, offsets and `i` from BTF;
//! see `cgroupfs` for the choice of hierarchy). Both are inode numbers of
//! cgroup directories.

mod cgroupfs;

pub use cgroupfs::Hierarchies;
