//! Resolves [`KernelOffsets`] from the running kernel's BTF, by name, so
//! one binary works on 6.1, 6.12, 6.18 and 7.x although the structures moved
//! (see /work/shared/notes/kernel-data/struct-offsets.txt for the tables).

use anyhow::{Context as _, Result};
use tracer_common::{KernelOffsets, NsType, OFFSET_ABSENT};

use crate::btf::Btf;

/// The struct that embeds each type's `ns_common`, as the kernel names it.
pub const fn ns_struct(t: NsType) -> &'static str {
    match t {
        NsType::Mnt => "mnt_namespace",
        NsType::Uts => "uts_namespace",
        NsType::Ipc => "ipc_namespace",
        NsType::Pid => "pid_namespace",
        NsType::Net => "net",
        NsType::User => "user_namespace",
        NsType::Cgroup => "cgroup_namespace",
        NsType::Time => "time_namespace",
    }
}

/// The `struct nsproxy` member holding each type (none for user).
const fn nsproxy_member(t: NsType) -> Option<&'static str> {
    match t {
        NsType::Mnt => Some("mnt_ns"),
        NsType::Uts => Some("uts_ns"),
        NsType::Ipc => Some("ipc_ns"),
        NsType::Pid => Some("pid_ns_for_children"),
        NsType::Net => Some("net_ns"),
        NsType::User => None,
        NsType::Cgroup => Some("cgroup_ns"),
        NsType::Time => Some("time_ns"),
    }
}

/// Reads every offset the programs use. Fails, naming the struct and
/// member, if this kernel lacks one the tracer cannot work without.
pub fn resolve(btf: &Btf) -> Result<KernelOffsets> {
    let off = |s: &str, m: &str| -> Result<u32> { Ok(btf.member(s, m)?.offset) };
    // For fields only some kernels have.
    let opt = |s: &str, m: &str| btf.member_opt(s, m).map_or(OFFSET_ABSENT, |m| m.offset);
    let mut o = KernelOffsets::unset();
    o.task_pid = off("task_struct", "pid")?;
    o.task_tgid = off("task_struct", "tgid")?;
    o.task_nsproxy = off("task_struct", "nsproxy")?;
    o.task_comm = off("task_struct", "comm")?;
    o.task_real_cred = off("task_struct", "real_cred")?;
    o.cred_user_ns = off("cred", "user_ns")?;
    o.ns_common_inum = off("ns_common", "inum")?;
    // 6.18 added a 64-bit id that is never reused; older kernels lack it.
    o.ns_common_ns_id = opt("ns_common", "ns_id");
    o.pid_ns_parent = off("pid_namespace", "parent")?;
    o.pid_ns_level = off("pid_namespace", "level")?;
    o.user_ns_parent = off("user_namespace", "parent")?;
    o.nsproxy_time_for_children = off("nsproxy", "time_ns_for_children")?;
    o.net_cookie = off("net", "net_cookie")?;
    for t in NsType::ALL {
        let i = t as usize;
        if let Some(member) = nsproxy_member(t) {
            o.nsproxy_slot[i] = off("nsproxy", member)?;
        }
        o.ns_common[i] = off(ns_struct(t), "ns")?;
        // A user namespace's owner is its parent; every other type points at
        // its owning user namespace with `user_ns`.
        let owner = if t == NsType::User {
            "parent"
        } else {
            "user_ns"
        };
        o.owner[i] = off(ns_struct(t), owner)?;
    }
    // How a bare ns_common says its type: 6.18 stores the CLONE_NEW* flag
    // in ns_common.ns_type; before, proc_ns_operations.type held it.
    o.ns_common_ns_type = opt("ns_common", "ns_type");
    o.ns_common_ops = off("ns_common", "ops")?;
    o.proc_ns_ops_type = opt("proc_ns_operations", "type");
    anyhow::ensure!(
        o.ns_common_ns_type != OFFSET_ABSENT || o.proc_ns_ops_type != OFFSET_ABSENT,
        "neither ns_common.ns_type nor proc_ns_operations.type is in this kernel's BTF: \
         nstrace cannot tell a namespace's type from its ns_common"
    );
    o.inode_ino = off("inode", "i_ino")?;
    o.inode_private = off("inode", "i_private")?;
    o.clone_args_flags = off("kernel_clone_args", "flags")?;
    o.pt_regs_di = off("pt_regs", "di")?;
    o.pt_regs_si = off("pt_regs", "si")?;
    o.pt_regs_orig_ax = off("pt_regs", "orig_ax")?;
    o.ns_common_count = btf
        .member_opt("ns_common", "count")
        .or_else(|| btf.member_opt("ns_common", "__ns_ref"))
        .map(|m| m.offset)
        .context("ns_common has neither count (6.1, 6.12) nor __ns_ref (6.18+)")?;
    o.user_ns_work = off("user_namespace", "work")?;
    o.pid_ns_work = opt("pid_namespace", "work");
    // The walk of net_namespace_list at cleanup runs (tracepoint kernels).
    o.net_list = off("net", "list")?;
    o.list_next = off("list_head", "next")?;
    resolve_cgroup2(btf, &mut o);
    o.valid = 1;
    Ok(o)
}

/// The chain from a task to its cgroup's id on the unified hierarchy
/// (`task->cgroups->dfl_cgrp->kn->id`, as `bpf_get_current_cgroup_id`
/// reads it: kernel/bpf/helpers.c, `task_dfl_cgroup` and `cgroup_id`, 6.1
/// to 7.2). Absent if a link is missing; the programs then call the helper.
fn resolve_cgroup2(btf: &Btf, o: &mut KernelOffsets) {
    let opt = |s: &str, m: &str| btf.member_opt(s, m).map(|m| m.offset);
    let chain = (
        opt("task_struct", "cgroups"),
        opt("css_set", "dfl_cgrp"),
        opt("cgroup", "kn"),
        opt("kernfs_node", "id"),
    );
    if let (Some(task), Some(dfl), Some(kn), Some(id)) = chain {
        o.task_cgroups = task;
        o.css_set_dfl_cgrp = dfl;
        o.cgroup_kn = kn;
        o.kernfs_node_id = id;
    }
}

/// The chain from a task to its cgroup's id on the v1 hierarchy of
/// `controller` (`task->cgroups->subsys[i]->cgroup->kn->id`), where `i` is
/// the controller's `cgroup_subsys_id`, numbered by the kernel's config. A
/// kernel or a host without it leaves `css_set_subsys_v1` absent and the
/// programs read no v1 cgroup.
pub fn resolve_cgroup1(btf: &Btf, o: &mut KernelOffsets, controller: Option<&str>) {
    let opt = |s: &str, m: &str| btf.member_opt(s, m).map(|m| m.offset);
    let subsys = controller.and_then(|c| {
        // Mount options and /proc/cgroups use v1's names; the enum uses
        // the subsystem's own, which differs for one (cgroup_subsys.legacy_name).
        let c = if c == "blkio" { "io" } else { c };
        let index = btf.enum_value("cgroup_subsys_id", &format!("{c}_cgrp_id"))?;
        Some(opt("css_set", "subsys")? + index * 8)
    });
    let chain = (
        opt("task_struct", "cgroups"),
        opt("cgroup_subsys_state", "cgroup"),
        opt("cgroup", "kn"),
        opt("kernfs_node", "id"),
        subsys,
    );
    if let (Some(task), Some(css), Some(kn), Some(id), Some(subsys)) = chain {
        o.task_cgroups = task;
        o.css_cgroup = css;
        o.cgroup_kn = kn;
        o.kernfs_node_id = id;
        o.css_set_subsys_v1 = subsys;
    }
}

/// Loads BTF from `path` and resolves the offsets, with the path in every
/// error.
pub fn from_btf_file(path: &std::path::Path) -> Result<(Btf, KernelOffsets)> {
    let btf = Btf::from_file(path)?;
    let mut offsets = resolve(&btf).with_context(|| {
        format!(
            "{} lacks a structure member nstrace reads; is it the BTF of the running kernel?",
            path.display()
        )
    })?;
    let mounted = crate::container::Hierarchies::detect();
    resolve_cgroup1(&btf, &mut offsets, mounted.v1_controller());
    Ok((btf, offsets))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn resolves_on_this_kernel() {
        let (btf, o) = from_btf_file(Path::new("/sys/kernel/btf/vmlinux")).unwrap();
        assert_eq!(o.valid, 1);
        // The nsproxy layout has been the same from 6.1 to 6.18.
        assert_eq!(o.nsproxy_slot, [24, 8, 16, 32, 40, OFFSET_ABSENT, 64, 48]);
        assert_eq!(o.nsproxy_time_for_children, 56);
        // Births read the unified cgroup id with these; without them the
        // programs fall back to the helper, which gives the same id, so
        // only this can tell the two apart.
        for (name, off) in [
            ("task_cgroups", o.task_cgroups),
            ("css_set_dfl_cgrp", o.css_set_dfl_cgrp),
            ("cgroup_kn", o.cgroup_kn),
            ("kernfs_node_id", o.kernfs_node_id),
        ] {
            assert_ne!(off, OFFSET_ABSENT, "{name}");
        }
        // 6.18 and later carry ns_id; this test host runs 6.18.
        assert_eq!(
            o.ns_common_ns_id != OFFSET_ABSENT,
            btf.member_opt("ns_common", "ns_id").is_some()
        );
        for t in NsType::ALL {
            assert_ne!(o.ns_common[t as usize], OFFSET_ABSENT, "{t:?}");
        }
    }

    /// `cgroup_subsys_id` numbers controllers in the order /proc/cgroups
    /// lists them; the css_set slot is read from that number.
    #[test]
    fn cgroup1_chain_follows_the_controller() {
        let btf = Btf::from_file(Path::new("/sys/kernel/btf/vmlinux")).unwrap();
        let listed = std::fs::read_to_string("/proc/cgroups").unwrap();
        let names: Vec<&str> = listed
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let subsys = btf.member("css_set", "subsys").unwrap().offset;
        for (i, name) in names.iter().enumerate() {
            let mut o = KernelOffsets::unset();
            resolve_cgroup1(&btf, &mut o, Some(name));
            assert_eq!(o.css_set_subsys_v1, subsys + 8 * i as u32, "{name}");
            assert_ne!(o.kernfs_node_id, OFFSET_ABSENT);
        }
        let mut o = KernelOffsets::unset();
        resolve_cgroup1(&btf, &mut o, None);
        assert_eq!(o.css_set_subsys_v1, OFFSET_ABSENT);
        resolve_cgroup1(&btf, &mut o, Some("no_such_controller"));
        assert_eq!(o.css_set_subsys_v1, OFFSET_ABSENT);
    }
}
