//! What `nstrace trace` tells the user once its programs are attached: in
//! one line, the events this kernel cannot show and why, in a user's words;
//! then which method each hook got. The reasons in full (error chains,
//! verifier lines) go to `nstrace probe` and to `-v`/`RUST_LOG=info`.

use crate::{
    hooks::Method,
    loader::{Choice, Session},
};

/// Sets glibc's allocator up for a long-running tracer; called first thing
/// in `main`. (musl, used for the VM tests' static build, has neither knob.)
///
/// - A fixed mmap threshold: by default glibc raises it to the size of the
///   largest mapped block freed, so after the 5.5 MB of BTF bytes are freed,
///   blocks up to that size come from the main heap: vectors growing by
///   doubling are then copied instead of remapped (the old and the new both
///   resident), and what they leave behind stays in the heap. Fixed, large
///   blocks (BTF, the engine's and the index's hash tables) are mapped on
///   their own and given back whole when freed.
/// - At most two arenas: each thread that allocates (the holder scan, the
///   task scan, the container resolver) would otherwise get an arena of its
///   own, which keeps what a scan freed.
pub fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Prints the start-up lines on stderr, and each missing hook's reasons at
/// info level.
pub fn report(session: &Session) {
    for c in missing(&session.choices) {
        let why: Vec<String> = c
            .rejected
            .iter()
            .map(|(m, why)| format!("{m}: {why}"))
            .collect();
        log::info!(
            "{} not traced ({}): {}",
            c.hook.name,
            c.hook.reports,
            why.join("; ")
        );
    }
    if let Some(line) = unseen_line(&session.choices, session.deaths_visible()) {
        eprintln!("{line}");
    }
    if let Some(line) = uncounted_skips_line(&session.choices, &session.kernel_release) {
        eprintln!("{line}");
    }
    // Also the sign that tracing has started: the bench and users wait for
    // it.
    let used: Vec<String> = session
        .choices
        .iter()
        .filter_map(|c| c.method.map(|m| format!("{}={m}", c.hook.name)))
        .collect();
    eprintln!("nstrace: hooks: {}", used.join(" "));
}

/// Hooks with no working method, other than fallbacks that were not needed.
fn missing(choices: &[Choice]) -> impl Iterator<Item = &Choice> {
    choices
        .iter()
        .filter(|c| c.method.is_none() && !c.not_needed)
}

/// `nstrace: <what>: not visible here (<why>); ...`, or None when this
/// kernel shows everything.
fn unseen_line(choices: &[Choice], deaths_visible: u8) -> Option<String> {
    let mut what = Vec::new();
    let dead_unseen: Vec<&str> = tracer_common::NsType::ALL
        .into_iter()
        .filter(|t| deaths_visible & t.bit() == 0)
        .map(|t| t.name())
        .collect();
    if !dead_unseen.is_empty() {
        what.push(format!("deaths of {}", dead_unseen.join(", ")));
    }
    let mut causes = Vec::new();
    for c in missing(choices) {
        // A fallback that attached stands in for it: what it reports is
        // seen, and the deaths left unseen are named above per type.
        let covered = c.hook.deaths != 0
            || choices
                .iter()
                .any(|f| f.method.is_some() && f.hook.fallback_for.contains(&c.hook.name));
        if !covered {
            what.push(c.hook.unseen.to_string());
        }
        for (m, why) in &c.rejected {
            if let Some(cause) = cause(*m, why) {
                if !causes.contains(&cause) {
                    causes.push(cause);
                }
            }
        }
    }
    if what.is_empty() {
        return None;
    }
    if causes.is_empty() {
        causes.push("no hook for them on this kernel".to_string());
    }
    Some(format!(
        "nstrace: {}: not visible here ({}); `nstrace probe` has the details",
        what.join("; "),
        causes.join(", ")
    ))
}

/// The kernel counts the kprobe runs it skips (a run that would nest on a
/// CPU, a kretprobe with every instance in use) only from 6.7: before, a
/// loss nstrace cannot report, so it says so once. (Debian's 6.1 has no
/// backport.)
fn uncounted_skips_line(choices: &[Choice], release: &str) -> Option<String> {
    let kprobes = choices.iter().any(|c| c.method == Some(Method::Kprobe));
    (kprobes && crate::coverage::version(release)? < (6, 7)).then(|| {
        format!(
            "nstrace: kprobe runs that the kernel skips (a run nested in another eBPF program's, \
             a kretprobe with every instance in use) are reported by the kernel only from Linux 6.7: on \
             {release} their records are lost without a `lost` record"
        )
    })
}

/// A rejection's reason in a user's terms, or None when it adds nothing
/// (a method that nstrace has no program for).
fn cause(method: Method, why: &str) -> Option<String> {
    Some(if why.contains("--method") {
        format!("{method} not asked for with --method")
    } else if why.contains("nstrace has no") {
        return None;
    } else if method == Method::Kprobe && why.contains("CONFIG_KPROBES") {
        "no kprobes".to_string()
    } else if method == Method::Fentry && why.contains("refused before verification") {
        "fentry refused".to_string()
    } else if method == Method::Fentry && why.contains("no function records") {
        "no fentry: the kernel's BTF lacks functions".to_string()
    } else if why.contains("takes (") {
        "kernel functions changed".to_string()
    } else if why.contains("is not in") || why.contains("does not exist") {
        "kernel functions missing".to_string()
    } else if why.contains("verifier") {
        format!("{method} refused by the verifier")
    } else {
        format!("{method} failed")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HOOKS;

    fn choice(name: &str, method: Option<Method>, rejected: &[(Method, &str)]) -> Choice {
        let hook = HOOKS.iter().find(|h| h.name == name).unwrap();
        Choice {
            hook,
            method,
            attached: &[],
            rejected: rejected.iter().map(|(m, w)| (*m, w.to_string())).collect(),
            not_needed: false,
            deaths: if method.is_some() { hook.deaths } else { 0 },
        }
    }

    const NO_KPROBES: (Method, &str) = (
        Method::Kprobe,
        "the kernel has no kprobe support (CONFIG_KPROBES is not set)",
    );
    const FENTRY_EPERM: (Method, &str) = (
        Method::Fentry,
        "attaching fentry_nsfs_evict to fentry:nsfs_evict: the BPF_PROG_LOAD syscall \
         returned Operation not permitted (os error 1) (refused before verification)",
    );

    /// This project's 6.18 host: tracepoints only, the workqueue fallback
    /// seeing net, user and pid deaths late.
    #[test]
    fn a_tracepoint_only_kernel_in_one_line() {
        let tp = Some(Method::Tracepoint);
        let choices = vec![
            choice("unshare", tp, &[FENTRY_EPERM, NO_KPROBES]),
            choice("alloc_mnt_ns", None, &[FENTRY_EPERM, NO_KPROBES]),
            choice("nsfs_evict", None, &[FENTRY_EPERM, NO_KPROBES]),
            choice("put_net", None, &[FENTRY_EPERM, NO_KPROBES]),
            choice("cleanup_net", None, &[FENTRY_EPERM, NO_KPROBES]),
            choice("ns_common_free", None, &[FENTRY_EPERM, NO_KPROBES]),
            choice("workqueue", tp, &[]),
        ];
        let visible =
            choices.iter().fold(0, |m, c| m | c.deaths) | tracer_common::NsType::Pid.bit();
        assert_eq!(
            unseen_line(&choices, visible).unwrap(),
            "nstrace: deaths of mnt, uts, ipc, cgroup, time; births of anonymous mount \
             namespaces; evicts; puts of net: not visible here (fentry refused, no kprobes); \
             `nstrace probe` has the details"
        );
    }

    #[test]
    fn kprobes_before_6_7_say_their_skipped_runs_go_uncounted() {
        let k = vec![choice("unshare", Some(Method::Kprobe), &[])];
        let line = uncounted_skips_line(&k, "6.1.0-55-cloud-amd64").unwrap();
        assert!(
            line.contains("reported by the kernel only from Linux 6.7: on 6.1.0-55-cloud-amd64"),
            "{line}"
        );
        assert_eq!(uncounted_skips_line(&k, "6.12.117-cloud-amd64"), None);
        assert_eq!(uncounted_skips_line(&k, "7.2.13-cloud-amd64"), None);
        let f = vec![choice("unshare", Some(Method::Fentry), &[])];
        assert_eq!(uncounted_skips_line(&f, "6.1.0-55-cloud-amd64"), None);
        assert_eq!(uncounted_skips_line(&k, "weird"), None);
    }

    #[test]
    fn a_kernel_that_shows_everything_says_nothing() {
        let f = Some(Method::Fentry);
        let choices = vec![
            choice("unshare", f, &[]),
            choice("ns_common_free", f, &[]),
            Choice {
                not_needed: true,
                ..choice("workqueue", None, &[])
            },
        ];
        assert_eq!(unseen_line(&choices, 0xff), None);
    }

    #[test]
    fn forced_method_and_changed_functions_are_named() {
        let choices = vec![
            choice(
                "nsfs_evict",
                None,
                &[
                    (Method::Fentry, "not the method asked for with --method"),
                    (
                        Method::Kprobe,
                        "nsfs_evict takes (a, b) in this kernel, nstrace expects (inode)",
                    ),
                ],
            ),
            choice("ns_common_free", Some(Method::Kprobe), &[]),
        ];
        assert_eq!(
            unseen_line(&choices, 0xff).unwrap(),
            "nstrace: evicts: not visible here (fentry not asked for with --method, kernel \
             functions changed); `nstrace probe` has the details"
        );
    }
}
