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
    /// Types whose deaths it reports, as a mask of `NsType::bit`.
    pub deaths: u8,
    pub candidates: &'static [Candidate],
}

/// Every hook. A hook with no candidate that works on this kernel is
/// reported as missing, and tracing goes on without it.
pub const HOOKS: &[Hook] = &[
    Hook {
        name: "unshare",
        reports: "births by unshare(2), all eight types",
        deaths: 0,
        candidates: &[Candidate {
            method: Method::Tracepoint,
            attach: &[
                Attach::Tracepoint {
                    prog: "sys_enter_unshare",
                    category: "syscalls",
                    name: "sys_enter_unshare",
                },
                Attach::Tracepoint {
                    prog: "sys_exit_unshare",
                    category: "syscalls",
                    name: "sys_exit_unshare",
                },
            ],
        }],
    },
    Hook {
        name: "setns",
        reports: "joins by setns(2), all eight types",
        deaths: 0,
        candidates: &[Candidate {
            method: Method::Tracepoint,
            attach: &[
                Attach::Tracepoint {
                    prog: "sys_enter_setns",
                    category: "syscalls",
                    name: "sys_enter_setns",
                },
                Attach::Tracepoint {
                    prog: "sys_exit_setns",
                    category: "syscalls",
                    name: "sys_exit_setns",
                },
            ],
        }],
    },
    Hook {
        name: "clone",
        reports: "births by clone(2)/clone3(2), and time namespaces entered at fork",
        deaths: 0,
        candidates: &[Candidate {
            method: Method::Tracepoint,
            attach: &[
                Attach::Tracepoint {
                    prog: "sys_enter_clone",
                    category: "syscalls",
                    name: "sys_enter_clone",
                },
                Attach::Tracepoint {
                    prog: "sys_enter_clone3",
                    category: "syscalls",
                    name: "sys_enter_clone3",
                },
                Attach::RawTracepoint {
                    prog: "task_newtask",
                    name: "task_newtask",
                },
            ],
        }],
    },
    Hook {
        name: "exec",
        reports: "time namespaces entered at exec",
        deaths: 0,
        candidates: &[Candidate {
            method: Method::Tracepoint,
            attach: &[Attach::Tracepoint {
                prog: "sched_process_exec",
                category: "sched",
                name: "sched_process_exec",
            }],
        }],
    },
];

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
    fn method_parses_and_rejects() {
        assert_eq!("kprobe".parse::<Method>().unwrap(), Method::Kprobe);
        let err = "kprobes".parse::<Method>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown method 'kprobes': use one of fentry, kprobe, tracepoint"
        );
    }
}
