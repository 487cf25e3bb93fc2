//! How a run saw each type's deaths, from the hooks it attached (the log
//! header's `methods`, hook → method) and the kernel release: `probe`
//! prints it, `report` uses it to tell "not observable" from "alive".

use std::collections::BTreeMap;

use serde::Serialize;
use tracer_common::NsType;

/// How one type's deaths are seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// At the free itself, by the namespace's address or id.
    Exact,
    /// By address or id, but after the fact: `within_ns` bounds when.
    Late,
    /// Not at all: a namespace of this type has no end in the log.
    #[serde(rename = "not visible")]
    NotVisible,
}

impl Coverage {
    pub fn name(self) -> &'static str {
        match self {
            Coverage::Exact => "exact",
            Coverage::Late => "late",
            Coverage::NotVisible => "not visible",
        }
    }

    pub fn visible(self) -> bool {
        self != Coverage::NotVisible
    }
}

/// One type's coverage and how it comes about, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeCoverage {
    pub ns_type: NsType,
    pub coverage: Coverage,
    pub how: String,
}

/// The per-type hook that reports each type's deaths before 6.18.
const fn per_type_hook(t: NsType) -> &'static str {
    match t {
        NsType::Mnt => "free_mnt_ns",
        NsType::Uts => "free_uts_ns",
        NsType::Ipc => "retire_ipc_sysctls",
        NsType::Pid => "put_pid_ns",
        NsType::Net => "net_ns_net_exit",
        NsType::User => "retire_userns_sysctls",
        NsType::Cgroup => "free_cgroup_ns",
        NsType::Time => "free_time_ns",
    }
}

/// Hooks that report deaths, by the names logs have used.
const DEATH_HOOKS: [&str; 11] = [
    "ns_common_free",
    "ns_free",
    "free_uts_ns",
    "free_cgroup_ns",
    "free_time_ns",
    "free_mnt_ns",
    "retire_userns_sysctls",
    "retire_ipc_sysctls",
    "net_ns_net_exit",
    "put_pid_ns",
    "workqueue",
];

/// Whether a run's `methods` name any hook that reports deaths, so that
/// [`of_run`] can judge it; a log from an older or hand-made header cannot
/// be judged and is taken to see every death.
pub fn names_a_death_hook(methods: &BTreeMap<String, String>) -> bool {
    DEATH_HOOKS.iter().any(|h| methods.contains_key(*h))
}

/// Per type, in wire order: whether a run with these hooks on this kernel
/// could see its deaths; a run [`names_a_death_hook`] cannot judge is
/// taken to see every death.
pub fn deaths_visible(methods: &BTreeMap<String, String>, kernel: &str) -> [bool; 8] {
    let mut visible = [true; 8];
    if names_a_death_hook(methods) {
        for c in of_run(methods, kernel) {
            visible[c.ns_type as usize] = c.coverage.visible();
        }
    }
    visible
}

/// `(major, minor)` of a kernel release such as `6.18.44-fc-v595`.
pub(crate) fn version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Coverage of every type, in wire order, for a run with these hooks on
/// this kernel.
pub fn of_run(methods: &BTreeMap<String, String>, kernel: &str) -> Vec<TypeCoverage> {
    let used = |hook: &str| {
        methods
            .get(hook)
            .filter(|m| m.as_str() != "missing")
            .map(String::as_str)
    };
    // 6.18 frees pid namespaces from a work item the tracepoints can see.
    let pid_work = version(kernel).is_some_and(|v| v >= (6, 18));
    NsType::ALL
        .into_iter()
        .map(|t| {
            // `ns_free` is the name logs before this version gave the
            // all-types hook.
            let (coverage, how) = if let Some(m) = used("ns_common_free").or(used("ns_free")) {
                (
                    Coverage::Exact,
                    format!("{m} on the release of its inode number"),
                )
            } else if let Some(m) = used(per_type_hook(t)) {
                (Coverage::Exact, format!("{m} on {}", per_type_hook(t)))
            } else if used("workqueue").is_some() {
                workqueue(t, pid_work)
            } else {
                not_visible()
            };
            TypeCoverage {
                ns_type: t,
                coverage,
                how,
            }
        })
        .collect()
}

fn workqueue(t: NsType, pid_work: bool) -> (Coverage, String) {
    match t {
        NsType::Net => (
            Coverage::Late,
            "gone from the kernel's list of nets at the end of the cleanup_net run that \
             freed it: every net, by address, late by at most that run"
                .to_string(),
        ),
        NsType::User => (
            Coverage::Exact,
            "the start of the free_user_ns work that frees it; parents it frees along, \
             by their count"
                .to_string(),
        ),
        NsType::Pid if pid_work => (
            Coverage::Exact,
            "the start of the destroy_pid_namespace_work that frees it; parents it frees \
             along, by their count"
                .to_string(),
        ),
        _ => not_visible(),
    }
}

fn not_visible() -> (Coverage, String) {
    (
        Coverage::NotVisible,
        "no hook on this kernel sees it".to_string(),
    )
}

/// The reason a type's deaths are missing from a run, for `report`:
/// "uts deaths are not visible with tracepoint methods".
pub fn why_not_visible(t: NsType, methods: &BTreeMap<String, String>) -> String {
    let attached: Vec<&str> = methods
        .values()
        .map(String::as_str)
        .filter(|m| *m != "missing")
        .collect();
    if !attached.is_empty() && attached.iter().all(|m| *m == "tracepoint") {
        format!("{t} deaths are not visible with tracepoint methods")
    } else {
        format!("{t} deaths are not visible with the hooks that run had")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(h, m)| (h.to_string(), m.to_string()))
            .collect()
    }

    fn by_type(c: &[TypeCoverage]) -> BTreeMap<&'static str, Coverage> {
        c.iter().map(|t| (t.ns_type.name(), t.coverage)).collect()
    }

    #[test]
    fn tracepoints_on_6_18_see_net_late_user_and_pid_exact_and_nothing_else() {
        let m = methods(&[
            ("unshare", "tracepoint"),
            ("workqueue", "tracepoint"),
            ("ns_common_free", "missing"),
        ]);
        let c = by_type(&of_run(&m, "6.18.44-fc-v595"));
        assert_eq!(c["net"], Coverage::Late);
        assert_eq!((c["user"], c["pid"]), (Coverage::Exact, Coverage::Exact));
        for t in ["mnt", "uts", "ipc", "cgroup", "time"] {
            assert_eq!(c[t], Coverage::NotVisible, "{t}");
        }
        let c = by_type(&of_run(&m, "6.12.117-cloud-amd64"));
        assert_eq!(c["pid"], Coverage::NotVisible, "no pid work before 6.18");
        assert_eq!(
            why_not_visible(NsType::Uts, &m),
            "uts deaths are not visible with tracepoint methods"
        );
    }

    #[test]
    fn per_type_hooks_and_the_all_types_hook_are_exact() {
        let m = methods(&[("free_uts_ns", "kprobe"), ("put_pid_ns", "missing")]);
        let c = of_run(&m, "6.1.0");
        assert_eq!(c[NsType::Uts as usize].coverage, Coverage::Exact);
        assert_eq!(c[NsType::Uts as usize].how, "kprobe on free_uts_ns");
        assert_eq!(c[NsType::Pid as usize].coverage, Coverage::NotVisible);
        let all = of_run(&methods(&[("ns_free", "fentry")]), "6.12.1");
        assert!(all.iter().all(|t| t.coverage == Coverage::Exact));
        assert_eq!(
            why_not_visible(NsType::Pid, &m),
            "pid deaths are not visible with the hooks that run had"
        );
    }
}
