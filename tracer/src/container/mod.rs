//! Whose namespace is it: the container, pod and runtime behind a record.
//!
//! **Capture.** The kernel side records, with every birth and join, the
//! creating task's cgroup2 id (`bpf_get_current_cgroup_id`) and, where a
//! cgroup v1 controller hierarchy is mounted, its cgroup id there
//! (`task->cgroups->subsys[i]->cgroup->kn->id`, offsets and `i` from BTF;
//! see `cgroupfs` for the choice of hierarchy). Both are inode numbers of
//! cgroup directories.
//!
//! **Resolve.** Off the event loop, in [`ContainerResolver`]'s worker: an id
//! to a path (`cgroup_dir`), a path to a container (`cgroup_path`, or runc's
//! and crun's state for named cgroups: `oci_state`), and a container to its
//! name, image and pod from its runtime's own local state (`docker`,
//! `libpod` for podman and CRI-O, `containerd`, `machines`), read with
//! `bounded`'s symlink-free, size-capped reads. No socket, no network: a
//! runtime that is absent is a directory that does not exist.
//!
//! **Named nets** (`netns`): nets bind-mounted in /run/netns and
//! /run/docker/netns carry that path as `net_name`, and the container their
//! runtime says they belong to.
//!
//! **Inits** (`init`): a namespace made by a runtime helper that exits at
//! once (`runc:[1:CHILD]`) names the first lasting task in it.
//!
//! **Enrich.** [`ContainerStage`] puts the answers on records in order,
//! holding a record briefly (bounded) while its answer is pending; see
//! `stage` for the policy and why. `why` and `ls` use
//! [`ProcessContainers`] for the processes they list.

mod bounded;
mod cgroup_dir;
mod cgroup_path;
mod cgroupfs;
mod containerd;
mod docker;
mod identify;
mod init;
mod libpod;
mod machines;
mod netns;
mod oci_state;
mod process;
mod resolver;
mod stage;
mod state;

pub use cgroup_dir::Hierarchy;
pub use cgroupfs::Hierarchies;
pub use process::ProcessContainers;
pub use resolver::{Answer, ContainerResolver, NamedNet, Resolve};
pub use stage::{ContainerStage, StageConfig};
