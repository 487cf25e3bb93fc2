//! The catalogue of kernel hooks: for each thing nstrace observes, the ways
//! to observe it, best first. The loader walks it; `nstrace probe` prints it.
//!
//! Preference is fentry, then kprobe, then a tracepoint: fentry reads
//! arguments through BTF at the lowest cost, a kprobe works without BPF
//! trampolines, and tracepoints exist everywhere but only at fixed places.

use std::fmt;

/// A hook method, in order of preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Fentry,
    Kprobe,
    Tracepoint,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Fentry, Method::Kprobe, Method::Tracepoint];

    pub fn name(self) -> &'static str {
        match self {
            Method::Fentry => "fentry",
            Method::Kprobe => "kprobe",
            Method::Tracepoint => "tracepoint",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                anyhow::anyhow!("unknown method '{s}': use one of fentry, kprobe, tracepoint")
            })
    }
}

/// One program and where it attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// fentry on kernel function `func`.
    Fentry {
        prog: &'static str,
        func: &'static str,
    },
    /// fexit on kernel function `func`.
    Fexit {
        prog: &'static str,
        func: &'static str,
    },
    /// kprobe on the entry of `func`.
    Kprobe {
        prog: &'static str,
        func: &'static str,
    },
    /// kretprobe on the return of `func`.
    Kretprobe {
        prog: &'static str,
        func: &'static str,
    },
    /// A tracefs tracepoint `category:name`.
    Tracepoint {
        prog: &'static str,
        category: &'static str,
        name: &'static str,
    },
    /// A raw tracepoint, for the arguments only the raw form passes.
    RawTracepoint {
        prog: &'static str,
        name: &'static str,
    },
}

impl Attach {
    pub fn prog(&self) -> &'static str {
        match *self {
            Attach::Fentry { prog, .. }
            | Attach::Fexit { prog, .. }
            | Attach::Kprobe { prog, .. }
            | Attach::Kretprobe { prog, .. }
            | Attach::Tracepoint { prog, .. }
            | Attach::RawTracepoint { prog, .. } => prog,
        }
    }

    /// Where it attaches, as a user would name it.
    pub fn target(&self) -> String {
        match *self {
            Attach::Fentry { func, .. } => format!("fentry:{func}"),
            Attach::Fexit { func, .. } => format!("fexit:{func}"),
            Attach::Kprobe { func, .. } => format!("kprobe:{func}"),
            Attach::Kretprobe { func, .. } => format!("kretprobe:{func}"),
            Attach::Tracepoint { category, name, .. } => format!("tracepoint:{category}:{name}"),
            Attach::RawTracepoint { name, .. } => format!("raw_tracepoint:{name}"),
        }
    }
}

/// One way to observe a hook: all its programs attach, or none do.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub method: Method,
    pub attach: &'static [Attach],
}

/// A thing nstrace observes, with its candidates best first.
#[derive(Clone, Copy, Debug)]
pub struct Hook {
    /// Short stable name, used by `probe` and the log header.
    pub name: &'static str,
    /// What it reports, for `nstrace probe`.
    pub reports: &'static str,
    /// What a user goes without when it is missing, in a few words for the
    /// line `trace` prints at start.
    pub unseen: &'static str,
    /// Types whose deaths it reports, as a mask of `NsType::bit`.
    pub deaths: u8,
    /// A fallback: attached only when every hook named here is missing,
    /// so the same thing is never reported twice.
    pub fallback_for: &'static [&'static str],
    pub candidates: &'static [Candidate],
}

/// Declares the catalogue, one block per hook:
///
/// ```text
/// name {
///     reports: "for nstrace probe",
///     unseen: "what is lost without it",
///     deaths: MASK,                  // optional
///     fallback_for: [hook, hook],    // optional
///     via method: [kind program(target), ...],   // a candidate; best first
/// }
/// ```
///
/// `method` is fentry, kprobe or tracepoint; `kind` is fentry, fexit,
/// kprobe, kretprobe (target: a kernel function), tp (target:
/// `category:name`) or raw_tp (target: a name). Programs are named as in
/// tracer-ebpf; a test checks each against the compiled object.
macro_rules! catalogue {
    ($(
        $name:ident {
            reports: $reports:literal,
            unseen: $unseen:literal,
            $(deaths: $deaths:expr,)?
            $(fallback_for: [$($fallback:ident),* $(,)?],)?
            $(via $method:ident: [$($kind:ident $prog:ident($($target:tt)+)),+ $(,)?],)+
        }
    )+) => {
        /// Every hook. A hook with no candidate that works on this kernel is
        /// reported as missing, and tracing goes on without it. The kernel
        /// side of each is `tracer-ebpf/src/hooks/<name>.rs`.
        pub const HOOKS: &[Hook] = &[$(Hook {
            name: stringify!($name),
            reports: $reports,
            unseen: $unseen,
            deaths: 0 $(| $deaths)?,
            fallback_for: &[$($(stringify!($fallback)),*)?],
            candidates: &[$(Candidate {
                method: catalogue!(@method $method),
                attach: &[$(catalogue!(@attach $kind $prog($($target)+))),+],
            }),+],
        }),+];
    };
    (@method fentry) => { Method::Fentry };
    (@method kprobe) => { Method::Kprobe };
    (@method tracepoint) => { Method::Tracepoint };
    (@attach fentry $prog:ident($func:ident)) => {
        Attach::Fentry { prog: stringify!($prog), func: stringify!($func) }
    };
    (@attach fexit $prog:ident($func:ident)) => {
        Attach::Fexit { prog: stringify!($prog), func: stringify!($func) }
    };
    (@attach kprobe $prog:ident($func:ident)) => {
        Attach::Kprobe { prog: stringify!($prog), func: stringify!($func) }
    };
    (@attach kretprobe $prog:ident($func:ident)) => {
        Attach::Kretprobe { prog: stringify!($prog), func: stringify!($func) }
    };
    (@attach tp $prog:ident($category:ident : $tp:ident)) => {
        Attach::Tracepoint { prog: stringify!($prog), category: stringify!($category), name: stringify!($tp) }
    };
    (@attach raw_tp $prog:ident($tp:ident)) => {
        Attach::RawTracepoint { prog: stringify!($prog), name: stringify!($tp) }
    };
}

/// Every type, as a deaths mask.
const ALL_TYPES: u8 = 0xff;
/// Deaths masks of one type each.
const MNT: u8 = 1 << 0;
const UTS: u8 = 1 << 1;
const IPC: u8 = 1 << 2;
const PID: u8 = 1 << 3;
const NET: u8 = 1 << 4;
const USER: u8 = 1 << 5;
const CGROUP: u8 = 1 << 6;
const TIME: u8 = 1 << 7;

catalogue! {
    unshare {
        reports: "births by unshare(2), all eight types",
        unseen: "births by unshare",
        via fentry: [fexit fexit_ksys_unshare(ksys_unshare)],
        via kprobe: [kretprobe kretprobe_ksys_unshare(ksys_unshare)],
        via tracepoint: [tp sys_exit_unshare(syscalls:sys_exit_unshare)],
    }
    setns {
        reports: "joins by setns(2), all eight types",
        unseen: "joins by setns",
        via fentry: [
            fentry fentry_sys_setns(__x64_sys_setns),
            fexit fexit_sys_setns(__x64_sys_setns),
        ],
        via kprobe: [
            kprobe kprobe_sys_setns(__x64_sys_setns),
            kretprobe kretprobe_sys_setns(__x64_sys_setns),
        ],
        via tracepoint: [
            tp sys_enter_setns(syscalls:sys_enter_setns),
            tp sys_exit_setns(syscalls:sys_exit_setns),
        ],
    }
    clone {
        reports: "births by clone(2)/clone3(2), and time namespaces entered at fork",
        unseen: "births by clone",
        via fentry: [fexit fexit_copy_process(copy_process)],
        via kprobe: [
            kprobe kprobe_copy_process(copy_process),
            kretprobe kretprobe_copy_process(copy_process),
        ],
        via tracepoint: [raw_tp task_newtask(task_newtask)],
    }
    exec {
        reports: "time namespaces entered at exec",
        unseen: "time namespaces entered at exec",
        via tracepoint: [raw_tp sched_process_exec(sched_process_exec)],
    }
    alloc_mnt_ns {
        reports: "births of anonymous mount namespaces (open_tree, fsmount)",
        unseen: "births of anonymous mount namespaces",
        via fentry: [fexit fexit_alloc_mnt_ns(alloc_mnt_ns)],
        via kprobe: [
            kprobe kprobe_alloc_mnt_ns(alloc_mnt_ns),
            kretprobe kretprobe_alloc_mnt_ns(alloc_mnt_ns),
        ],
    }
    nsfs_evict {
        reports: "evict: an nsfs inode let go of its namespace",
        unseen: "evicts",
        via fentry: [fentry fentry_nsfs_evict(nsfs_evict)],
        via kprobe: [kprobe kprobe_nsfs_evict(nsfs_evict)],
    }
    put_net {
        reports: "put: a net namespace's count reached zero (__put_net, netns_put)",
        unseen: "puts of net",
        via fentry: [
            fentry fentry_put_net(__put_net),
            fentry fentry_netns_put(netns_put),
        ],
        via kprobe: [
            kprobe kprobe_put_net(__put_net),
            kprobe kprobe_netns_put(netns_put),
        ],
    }
    put_ns {
        reports: "put: a user or ipc namespace's count reached zero (__put_user_ns, mq_clear_sbinfo)",
        unseen: "puts of user and ipc",
        via fentry: [
            fentry fentry_put_user_ns(__put_user_ns),
            fentry fentry_mq_clear_sbinfo(mq_clear_sbinfo),
        ],
        via kprobe: [
            kprobe kprobe_put_user_ns(__put_user_ns),
            kprobe kprobe_mq_clear_sbinfo(mq_clear_sbinfo),
        ],
    }
    cleanup_net {
        reports: "cleanup_start/cleanup_end: a deferred cleanup_net run",
        unseen: "cleanup_net runs",
        via fentry: [
            fentry fentry_cleanup_net(cleanup_net),
            fexit fexit_cleanup_net(cleanup_net),
        ],
        via kprobe: [
            kprobe kprobe_cleanup_net(cleanup_net),
            kretprobe kretprobe_cleanup_net(cleanup_net),
        ],
    }
    ns_common_free {
        reports: "death: a namespace's inode number released, all types (6.18 and later)",
        unseen: "deaths",
        deaths: ALL_TYPES,
        via fentry: [fentry fentry_ns_common_free(__ns_common_free)],
        via kprobe: [kprobe kprobe_ns_common_free(__ns_common_free)],
    }
    // Before 6.18 each type frees its own: one hook per type, each taking
    // the namespace's address, attached only where __ns_common_free is not.
    free_uts_ns {
        reports: "death of a uts namespace (free_uts_ns, before 6.18)",
        unseen: "uts deaths",
        deaths: UTS,
        fallback_for: [ns_common_free],
        via fentry: [fentry fentry_free_uts_ns(free_uts_ns)],
        via kprobe: [kprobe kprobe_free_uts_ns(free_uts_ns)],
    }
    free_cgroup_ns {
        reports: "death of a cgroup namespace (free_cgroup_ns, before 6.18)",
        unseen: "cgroup deaths",
        deaths: CGROUP,
        fallback_for: [ns_common_free],
        via fentry: [fentry fentry_free_cgroup_ns(free_cgroup_ns)],
        via kprobe: [kprobe kprobe_free_cgroup_ns(free_cgroup_ns)],
    }
    free_time_ns {
        reports: "death of a time namespace (free_time_ns, before 6.18)",
        unseen: "time deaths",
        deaths: TIME,
        fallback_for: [ns_common_free],
        via fentry: [fentry fentry_free_time_ns(free_time_ns)],
        via kprobe: [kprobe kprobe_free_time_ns(free_time_ns)],
    }
    free_mnt_ns {
        reports: "death of a mount namespace (free_mnt_ns, before 6.18)",
        unseen: "mnt deaths",
        deaths: MNT,
        fallback_for: [ns_common_free],
        via fentry: [fentry fentry_free_mnt_ns(free_mnt_ns)],
        via kprobe: [kprobe kprobe_free_mnt_ns(free_mnt_ns)],
    }
    retire_userns_sysctls {
        reports: "death of a user namespace and of each parent freed with it (before 6.18)",
        unseen: "user deaths",
        deaths: USER,
        fallback_for: [ns_common_free],
        via fentry: [fentry fentry_retire_userns_sysctls(retire_userns_sysctls)],
        via kprobe: [kprobe kprobe_retire_userns_sysctls(retire_userns_sysctls)],
    }
    retire_ipc_sysctls {
        reports: "death of an ipc namespace, each of a free_ipc batch (before 6.18)",
        unseen: "ipc deaths",
        deaths: IPC,
        fallback_for: [ns_common_free],
        via fentry: [fentry fentry_retire_ipc_sysctls(retire_ipc_sysctls)],
        via kprobe: [kprobe kprobe_retire_ipc_sysctls(retire_ipc_sysctls)],
    }
    net_ns_net_exit {
        reports: "death of a net namespace inside its cleanup_net run (before 6.18)",
        unseen: "net deaths",
        deaths: NET,
        fallback_for: [ns_common_free],
        via fentry: [fentry fentry_net_ns_net_exit(net_ns_net_exit)],
        via kprobe: [kprobe kprobe_net_ns_net_exit(net_ns_net_exit)],
    }
    put_pid_ns {
        reports: "death of a pid namespace and of each parent freed with it (put_pid_ns and the proc_free_inum inside it, before 6.18)",
        unseen: "pid deaths",
        deaths: PID,
        fallback_for: [ns_common_free],
        via fentry: [
            fentry fentry_put_pid_ns(put_pid_ns),
            fexit fexit_put_pid_ns(put_pid_ns),
            fentry fentry_proc_free_inum(proc_free_inum),
        ],
        via kprobe: [
            kprobe kprobe_put_pid_ns(put_pid_ns),
            kretprobe kretprobe_put_pid_ns(put_pid_ns),
            kprobe kprobe_proc_free_inum(proc_free_inum),
        ],
    }
    workqueue {
        reports: "without kprobes: cleanup_net runs and the nets each freed (late by at most the run), user and, on 6.18+, pid deaths at their free work",
        unseen: "cleanup_net runs and deaths",
        // Pid is added at load time when the kernel frees pid namespaces
        // from a work item (6.18+).
        deaths: NET | USER,
        // Where cleanup_net can be hooked, the per-type or all-types death
        // hooks can too: this would only report runs and deaths twice.
        fallback_for: [cleanup_net],
        via tracepoint: [
            tp workqueue_execute_start(workqueue:workqueue_execute_start),
            tp workqueue_execute_end(workqueue:workqueue_execute_end),
        ],
    }
}

/// Parameter names our programs assume, per kernel function, checked
/// against the running kernel's BTF before attaching: a function that kept
/// its name but changed its arguments must not be read with the old layout.
/// `*` accepts any name (the syscall wrappers have two BTF records, one
/// named `__unused`). Checked against v6.1, v6.12 and v6.18 sources.
pub const SIGNATURES: &[(&str, &[&str])] = &[
    ("ksys_unshare", &["unshare_flags"]),
    ("__x64_sys_setns", &["*"]),
    ("copy_process", &["pid", "trace", "node", "args"]),
    ("alloc_mnt_ns", &["user_ns", "anon"]),
    ("nsfs_evict", &["inode"]),
    ("__put_net", &["net"]),
    ("netns_put", &["ns"]),
    ("__put_user_ns", &["ns"]),
    ("mq_clear_sbinfo", &["ns"]),
    ("cleanup_net", &["work"]),
    ("__ns_common_free", &["ns"]),
    ("free_uts_ns", &["ns"]),
    ("free_cgroup_ns", &["ns"]),
    ("free_time_ns", &["ns"]),
    ("free_mnt_ns", &["ns"]),
    ("retire_userns_sysctls", &["ns"]),
    ("retire_ipc_sysctls", &["ns"]),
    ("net_ns_net_exit", &["net"]),
    ("put_pid_ns", &["ns"]),
    ("proc_free_inum", &["inum"]),
];

/// Why `func`'s parameters in this kernel's BTF are not what our program
/// reads, or None if they match (or the function is not in the table).
pub fn signature_mismatch(func: &str, params: &[String]) -> Option<String> {
    let (_, want) = SIGNATURES.iter().find(|(f, _)| *f == func)?;
    let matches =
        want.len() == params.len() && want.iter().zip(params).all(|(w, p)| *w == "*" || w == p);
    (!matches).then(|| {
        format!(
            "{func} takes ({}) in this kernel, nstrace expects ({})",
            params.join(", "),
            want.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_and_programs_are_unique_and_candidates_ordered() {
        let mut names = HashSet::new();
        for h in HOOKS {
            assert!(names.insert(h.name), "hook {} listed twice", h.name);
            assert!(!h.candidates.is_empty(), "hook {} has no candidate", h.name);
            let methods: Vec<Method> = h.candidates.iter().map(|c| c.method).collect();
            let mut sorted = methods.clone();
            sorted.sort();
            assert_eq!(methods, sorted, "hook {} candidates not best-first", h.name);
        }
    }

    #[test]
    fn every_probed_function_has_a_signature() {
        for h in HOOKS {
            for c in h.candidates {
                for a in c.attach {
                    if let Attach::Fentry { func, .. }
                    | Attach::Fexit { func, .. }
                    | Attach::Kprobe { func, .. }
                    | Attach::Kretprobe { func, .. } = *a
                    {
                        assert!(
                            SIGNATURES.iter().any(|(f, _)| *f == func),
                            "{func} (hook {}) has no expected signature",
                            h.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_changed_signature_is_named() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(signature_mismatch("nsfs_evict", &p(&["inode"])), None);
        assert_eq!(
            signature_mismatch("__x64_sys_setns", &p(&["__unused"])),
            None
        );
        assert_eq!(
            signature_mismatch("copy_process", &p(&["pid", "trace", "args"])).unwrap(),
            "copy_process takes (pid, trace, args) in this kernel, nstrace expects (pid, trace, node, args)"
        );
    }

    #[test]
    fn method_parses_and_rejects() {
        assert_eq!("kprobe".parse::<Method>().unwrap(), Method::Kprobe);
        let err = "kprobes".parse::<Method>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown method 'kprobes': use one of fentry, kprobe, tracepoint"
        );
    }
}
