//! What this kernel offers each hook method, found before anything loads so
//! a missing method is reported with its reason rather than as an attach
//! error.

use std::{
    collections::HashSet,
    fs,
    path::{Path, PathBuf},
};

use crate::hooks::Attach;

/// Where tracefs is, or would be once mounted.
pub const TRACEFS: &str = "/sys/kernel/tracing";
/// The perf kprobe PMU; absent when the kernel lacks CONFIG_KPROBES.
const KPROBE_PMU: &str = "/sys/bus/event_source/devices/kprobe/type";

/// Facts about the running kernel that decide which methods can work.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub kernel_release: String,
    /// Why kprobes cannot work, or None if they can.
    pub kprobe_unavailable: Option<String>,
    /// Why fentry cannot work, or None if it may (the loader still confirms
    /// by loading: on some kernels the trampoline is refused only then).
    pub fentry_unavailable: Option<String>,
    /// Functions the kernel can trace (available_filter_functions), when it
    /// can be read; None means unknown, not empty.
    traceable: Option<HashSet<String>>,
    /// Functions in /proc/kallsyms.
    kallsyms: HashSet<String>,
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
        let traceable = fs::read_to_string(Path::new(TRACEFS).join("available_filter_functions"))
            .ok()
            .map(|s| {
                s.lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .map(str::to_string)
                    .collect::<HashSet<_>>()
            });
        // Whether BPF trampolines work is only known by loading one: some
        // kernels (Firecracker guests) have ftrace and BTF but refuse them
        // with EPERM at load. The loader tries, and reports that error.
        let fentry_unavailable = (!btf_has_func("nsfs_evict"))
            .then(|| "the kernel's BTF has no function records".to_string());
        let kallsyms = fs::read_to_string("/proc/kallsyms")
            .map(|s| {
                s.lines()
                    .filter_map(|l| l.split_whitespace().nth(2))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Capabilities {
            kernel_release,
            kprobe_unavailable,
            fentry_unavailable,
            traceable,
            kallsyms,
        }
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
                if !self.kallsyms.is_empty() && !self.kallsyms.contains(func) {
                    return Some(format!(
                        "{func} is not in /proc/kallsyms (inlined or renamed)"
                    ));
                }
                self.not_traceable(func)
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
                "{func} is not in available_filter_functions (notrace or inlined)"
            )),
            _ => None,
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
