//! What this kernel offers each hook method, found before anything loads so
//! a missing method is reported with its reason rather than as an attach
//! error.

use std::{
    cell::OnceCell,
    collections::HashSet,
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
};

use crate::{
    hooks::{Attach, HOOKS},
    kallsyms::Kallsyms,
};
use tracer_common::WorkFunctions;

/// Where tracefs is, or would be once mounted.
pub const TRACEFS: &str = "/sys/kernel/tracing";
/// The perf kprobe PMU; absent when the kernel lacks CONFIG_KPROBES.
const KPROBE_PMU: &str = "/sys/bus/event_source/devices/kprobe/type";
const KALLSYMS: &str = "/proc/kallsyms";

/// Facts about the running kernel that decide which methods can work.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub kernel_release: String,
    /// Why kprobes cannot work, or None if they can.
    pub kprobe_unavailable: Option<String>,
    /// Why fentry cannot work, or None if it may (the loader still confirms
    /// by loading: on some kernels the trampoline is refused only then).
    pub fentry_unavailable: Option<String>,
    /// The hooks' functions the kernel can trace (available_filter_functions),
    /// when it can be read; None means unknown, not empty.
    traceable: Option<HashSet<String>>,
    /// One pass over /proc/kallsyms, made the first time something needs
    /// it: whether a kprobe target exists when ftrace's list cannot be
    /// read, or the work functions' addresses for the workqueue programs.
    /// A kernel where fentry or kprobes hook everything needs neither, and
    /// the pass is the slowest step of start-up in a TCG guest (about
    /// 10 s). The inner None: it could not be read.
    kallsyms: OnceCell<Option<Kallsyms>>,
}

impl Capabilities {
    pub fn detect(btf_has_func: &dyn Fn(&str) -> bool) -> Capabilities {
        ensure_tracefs();
        let kernel_release = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let kprobe_unavailable = if Path::new(KPROBE_PMU).exists()
            || Path::new(TRACEFS).join("kprobe_events").exists()
        {
            None
        } else {
            Some("the kernel has no kprobe support (CONFIG_KPROBES is not set)".to_string())
        };
        let wanted = hook_functions();
        let traceable = names_in(
            &Path::new(TRACEFS).join("available_filter_functions"),
            0,
            &wanted,
        );
        // Whether BPF trampolines work is only known by loading one: some
        // kernels (Firecracker guests) have ftrace and BTF but refuse them
        // with EPERM at load. The loader tries, and reports that error.
        let fentry_unavailable = (!btf_has_func("nsfs_evict"))
            .then(|| "the kernel's BTF has no function records".to_string());
        Capabilities {
            kernel_release,
            kprobe_unavailable,
            fentry_unavailable,
            traceable,
            kallsyms: OnceCell::new(),
        }
    }

    fn kallsyms(&self) -> Option<&Kallsyms> {
        self.kallsyms
            .get_or_init(|| Kallsyms::read(Path::new(KALLSYMS), &hook_functions()))
            .as_ref()
    }

    /// The addresses of the work functions that free namespaces, or why
    /// they are unknown.
    pub fn work_functions(&self) -> Result<WorkFunctions, String> {
        let Some(k) = self.kallsyms() else {
            return Err(format!("{KALLSYMS} cannot be read"));
        };
        if k.work.cleanup_net == 0 {
            return Err(format!(
                "{KALLSYMS} gives no address for cleanup_net (all addresses read as zero \
                 without CAP_SYSLOG)"
            ));
        }
        Ok(k.work)
    }

    /// Why `attach` cannot work on this kernel, or None if it may.
    pub fn unavailable(
        &self,
        attach: &Attach,
        btf_params: &dyn Fn(&str) -> Option<Vec<String>>,
    ) -> Option<String> {
        let btf_has_func = |f: &str| btf_params(f).is_some();
        if let Attach::Fentry { func, .. }
        | Attach::Fexit { func, .. }
        | Attach::Kprobe { func, .. }
        | Attach::Kretprobe { func, .. } = *attach
        {
            if let Some(why) =
                btf_params(func).and_then(|params| crate::hooks::signature_mismatch(func, &params))
            {
                return Some(why);
            }
        }
        match *attach {
            Attach::Fentry { func, .. } | Attach::Fexit { func, .. } => {
                if let Some(why) = &self.fentry_unavailable {
                    return Some(why.clone());
                }
                if !btf_has_func(func) {
                    return Some(format!(
                        "{func} is not in the kernel's BTF (inlined or renamed)"
                    ));
                }
                self.not_traceable(func)
            }
            Attach::Kprobe { func, .. } | Attach::Kretprobe { func, .. } => {
                if let Some(why) = &self.kprobe_unavailable {
                    return Some(why.clone());
                }
                // Only when ftrace's list cannot be read is the slow pass
                // over kallsyms worth making, to say whether it exists at all.
                match &self.traceable {
                    Some(_) => self.not_traceable(func),
                    None => self
                        .kallsyms()
                        .is_some_and(|k| !k.present.contains(func))
                        .then(|| format!("{func} is not in {KALLSYMS} (inlined or renamed)")),
                }
            }
            Attach::Tracepoint { category, name, .. } => {
                let dir = tracepoint_dir(category, name);
                (!dir.exists()).then(|| {
                    format!(
                        "tracepoint {category}:{name} does not exist ({} missing)",
                        dir.display()
                    )
                })
            }
            Attach::RawTracepoint { name, .. } => {
                // Raw tracepoints are named without their category; the
                // tracefs directory tells whether the event exists at all.
                let found = fs::read_dir(Path::new(TRACEFS).join("events"))
                    .map(|cats| {
                        cats.filter_map(|c| c.ok())
                            .any(|c| c.path().join(name).is_dir())
                    })
                    .unwrap_or(true);
                (!found).then(|| format!("tracepoint {name} does not exist"))
            }
        }
    }

    fn not_traceable(&self, func: &str) -> Option<String> {
        match &self.traceable {
            Some(set) if !set.contains(func) => Some(format!(
                "{func} is not in available_filter_functions (inlined, renamed or notrace)"
            )),
            _ => None,
        }
    }
}

/// Every function some hook may put a kprobe or fentry on: all that is kept
/// of kallsyms and available_filter_functions. Sets of every name in them
/// took some 30 MiB, most of the tracer's peak at start.
pub(crate) fn hook_functions() -> HashSet<&'static str> {
    HOOKS
        .iter()
        .flat_map(|h| h.candidates)
        .flat_map(|c| c.attach)
        .filter_map(|a| match *a {
            Attach::Fentry { func, .. }
            | Attach::Fexit { func, .. }
            | Attach::Kprobe { func, .. }
            | Attach::Kretprobe { func, .. } => Some(func),
            _ => None,
        })
        .collect()
}

/// The names among `wanted` in column `col` (whitespace-separated) of the
/// file at `path`, read a line at a time; None if it cannot be read.
fn names_in(path: &Path, col: usize, wanted: &HashSet<&str>) -> Option<HashSet<String>> {
    let mut file = BufReader::new(fs::File::open(path).ok()?);
    let mut found = HashSet::new();
    let mut line = String::new();
    loop {
        line.clear();
        if file.read_line(&mut line).ok()? == 0 {
            return Some(found);
        }
        if let Some(name) = line.split_whitespace().nth(col) {
            if wanted.contains(name) {
                found.insert(name.to_string());
            }
        }
    }
}

pub fn tracepoint_dir(category: &str, name: &str) -> PathBuf {
    Path::new(TRACEFS).join("events").join(category).join(name)
}

/// Mounts tracefs if it is not mounted: aya attaches tracepoints through
/// it, and on some hosts (this project's CI) nothing mounts it at boot.
fn ensure_tracefs() {
    if Path::new(TRACEFS).join("events").exists() {
        return;
    }
    let src = c"tracefs";
    let target = c"/sys/kernel/tracing";
    // SAFETY: valid NUL-terminated strings; failure is harmless (the
    // capability checks then report tracepoints as missing, with the path).
    unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            src.as_ptr(),
            0,
            std::ptr::null(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the names asked for are kept, found in the right column, and
    /// a file that cannot be read is unknown rather than empty.
    #[test]
    fn names_in_keeps_only_the_wanted_names_of_a_column() {
        let dir = std::env::temp_dir().join(format!("nstrace-caps-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("available_filter_functions");
        fs::write(
            &path,
            "cleanup_net\n\
             free_uts_ns\n\
             other_fn [some_module]\n\
             \n",
        )
        .unwrap();
        let wanted: HashSet<&str> = ["cleanup_net", "other_fn", "absent_fn", "[some_module]"]
            .into_iter()
            .collect();
        let found = names_in(&path, 0, &wanted).unwrap();
        let mut found: Vec<&str> = found.iter().map(String::as_str).collect();
        found.sort_unstable();
        assert_eq!(found, ["cleanup_net", "other_fn"]);
        assert!(names_in(&dir.join("missing"), 0, &wanted).is_none());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_kprobe_and_fentry_function_of_the_catalogue_is_wanted() {
        let wanted = hook_functions();
        for f in [
            "cleanup_net",
            "ksys_unshare",
            "copy_process",
            "__x64_sys_setns",
        ] {
            assert!(wanted.contains(f), "{f} missing from {wanted:?}");
        }
    }
}
