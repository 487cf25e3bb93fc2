//! Loads the kernel programs with this kernel's offsets and attaches, for
//! each hook, the best candidate that works. A hook with no working
//! candidate is recorded as missing with every reason; it never stops the
//! tracer.

use std::{collections::HashMap, path::PathBuf};

use anyhow::{bail, Context as _, Result};
use aya::{
    maps::Array,
    programs::{FEntry, FExit, KProbe, ProgramError, RawTracePoint, TracePoint},
    Ebpf, EbpfLoader,
};
use tracer_common::{globals, maps, KernelOffsets, WorkFunctions};

use crate::{
    btf::Btf,
    capabilities::Capabilities,
    hooks::{Attach, Candidate, Hook, Method, HOOKS},
    kernel_log::{self, KernelLog},
    offsets,
};

/// The compiled kernel programs, built by build.rs from tracer-ebpf.
static PROGRAMS: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer-ebpf"));

/// The default BTF source.
pub const SYSFS_BTF: &str = "/sys/kernel/btf/vmlinux";

/// How to load.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Kernel BTF to resolve offsets from.
    pub btf_path: PathBuf,
    /// Use only this method (`--method`); hooks without it are missing.
    pub method: Option<Method>,
    /// Ring buffer size in bytes (a power of two, at least a page).
    pub ring_bytes: u32,
    /// Wake the reader once about this many bytes wait (each CPU wakes it
    /// after adding its share).
    pub wakeup_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            btf_path: PathBuf::from(SYSFS_BTF),
            method: None,
            ring_bytes: 4 << 20,
            wakeup_bytes: 256 << 10,
        }
    }
}

/// What happened to one hook.
#[derive(Clone, Debug)]
pub struct Choice {
    pub hook: &'static Hook,
    /// The method in use, or None if the hook is missing (or not needed).
    pub method: Option<Method>,
    /// The programs attached and where, for that method.
    pub attached: &'static [Attach],
    /// Each candidate not used, with the reason.
    pub rejected: Vec<(Method, String)>,
    /// A fallback left out because what it stands in for is traced.
    pub not_needed: bool,
    /// Types whose deaths it reports on this kernel, as a mask.
    pub deaths: u8,
}

impl Choice {
    /// A hook none of whose candidates attached, with each one's reason.
    fn missing(hook: &'static Hook, rejected: Vec<(Method, String)>) -> Choice {
        Choice {
            hook,
            method: None,
            attached: &[],
            rejected,
            not_needed: false,
            deaths: 0,
        }
    }
}

/// Loaded and attached programs. Dropping it detaches everything.
pub struct Session {
    pub ebpf: Ebpf,
    pub choices: Vec<Choice>,
    pub offsets: KernelOffsets,
    pub kernel_release: String,
    pub btf_path: PathBuf,
    /// Moves the kernel side's aya-log records to the log, when asked for.
    _kernel_log: Option<KernelLog>,
}

impl Session {
    /// Types whose deaths some attached hook reports, as a mask of
    /// [`tracer_common::NsType::bit`]: the lifecycle engine only calls a
    /// namespace lingering when its death could have been seen.
    pub fn deaths_visible(&self) -> u8 {
        self.choices
            .iter()
            .filter(|c| c.method.is_some())
            .fold(0, |m, c| m | c.deaths)
    }

    /// Every program attached, in catalogue order.
    pub fn attached(&self) -> impl Iterator<Item = &'static Attach> + '_ {
        self.choices
            .iter()
            .filter(|c| c.method.is_some())
            .flat_map(|c| c.attached.iter())
    }

    /// Hook name → method name (or "missing"), for the log header. A
    /// fallback that was not needed is left out.
    pub fn methods(&self) -> std::collections::BTreeMap<String, String> {
        self.choices
            .iter()
            .filter(|c| !c.not_needed)
            .map(|c| {
                (
                    c.hook.name.to_string(),
                    c.method.map_or("missing", Method::name).to_string(),
                )
            })
            .collect()
    }
}

/// Fails, with every hook's reasons, when nothing could be attached (as
/// with a `--method` this kernel does not allow): tracing would show
/// nothing while seeming to work.
pub fn require_attached(session: &Session, method: Option<Method>) -> Result<()> {
    if session.choices.iter().any(|c| c.method.is_some()) {
        return Ok(());
    }
    let reasons: Vec<String> = session
        .choices
        .iter()
        .filter(|c| !c.not_needed)
        .map(|c| {
            let why: Vec<String> = c
                .rejected
                .iter()
                .filter(|(m, _)| method.is_none_or(|x| x == *m))
                .map(|(m, why)| format!("{m}: {why}"))
                .collect();
            format!("{}: {}", c.hook.name, why.join("; "))
        })
        .collect();
    match method {
        Some(m) => bail!(
            "--method {m}: no hook can be attached with it on this kernel, so nothing would be \
             traced; use another method or none (`nstrace probe` shows what works here). \
             Reasons: {}",
            reasons.join(" | ")
        ),
        None => bail!(
            "no hook can be attached on this kernel, so nothing would be traced \
             (`nstrace probe` has the details). Reasons: {}",
            reasons.join(" | ")
        ),
    }
}

/// Loads the programs and attaches every hook it can.
pub fn load(opts: &LoadOptions) -> Result<Session> {
    let mut loader = loader_without_kernel_btf();
    let (btf, offsets) = offsets::from_btf_file(&opts.btf_path)?;
    let caps = Capabilities::detect(&|f| btf.func_params(f).is_some());
    let params = CatalogueParams::read(&btf);
    let mut aya_btf = AyaBtf::keep_for_fentry(btf, &caps, opts.method);
    raise_memlock();
    let log_level = kernel_log::wanted_level();
    let wakeup = per_cpu_wakeup(opts.wakeup_bytes);
    loader
        .override_global(globals::OFFSETS, &offsets, true)
        .override_global(globals::WAKEUP_BYTES, &wakeup, true)
        .override_global(aya_log::LEVEL, &log_level, true)
        .map_max_entries(maps::EVENTS, opts.ring_bytes);
    if log_level == 0 {
        loader.map_max_entries(kernel_log::RING, kernel_log::RING_OFF_BYTES);
    }
    let mut ebpf = loader
        .load(PROGRAMS)
        .context("loading nstrace's eBPF object")?;
    // Once now, before attaching: the object's pages (aya has copied what
    // it needs) would otherwise add 2 MB to the start-up peak. Again once
    // everything is attached.
    release_start_up_pages();
    let kernel_log = if log_level == 0 {
        None
    } else {
        Some(KernelLog::start(&mut ebpf)?)
    };
    let mut choices = Vec::new();
    for hook in HOOKS {
        let covered = !hook.fallback_for.is_empty()
            && hook.fallback_for.iter().all(|name| {
                choices
                    .iter()
                    .any(|c: &Choice| c.hook.name == *name && c.method.is_some())
            });
        let mut choice = if covered {
            Choice {
                hook,
                method: None,
                attached: &[],
                rejected: Vec::new(),
                not_needed: true,
                deaths: 0,
            }
        } else {
            match prepare(&mut ebpf, hook, opts.method, &caps, &offsets) {
                Ok(more_deaths) => {
                    let mut choice = choose(&mut ebpf, hook, opts, &caps, &params, &mut aya_btf);
                    if choice.method.is_some() {
                        choice.deaths |= more_deaths;
                    }
                    choice
                }
                Err(why) => Choice::missing(
                    hook,
                    hook.candidates
                        .iter()
                        .map(|c| (c.method, why.clone()))
                        .collect(),
                ),
            }
        };
        if choice.method.is_some() {
            choice.deaths |= hook.deaths;
        }
        choices.push(choice);
    }
    release_start_up_pages();
    Ok(Session {
        ebpf,
        choices,
        offsets,
        kernel_release: caps.kernel_release,
        btf_path: opts.btf_path.clone(),
        _kernel_log: kernel_log,
    })
}

/// An [`EbpfLoader`] told to use no kernel BTF. Our programs have no CO-RE
/// relocations (a test holds the object to that), so aya needs none to load
/// them. But `EbpfLoader::new()` parses all of vmlinux's BTF whatever it is
/// told afterwards (about 19 MiB of heap on 6.18, and aya 0.14 has no other
/// constructor): so it is made first, before our own BTF is read, and the
/// heap it freed is given back at once. Made later, its parse added to ours
/// and set the start-up peak.
fn loader_without_kernel_btf<'a>() -> EbpfLoader<'a> {
    let mut loader = EbpfLoader::new();
    loader.btf(None);
    crate::pipeline::trim_heap();
    loader
}

/// Drops this process's copies of its executable's pages once loading is
/// over. Loading (BTF parsing, the eBPF object and its relocations, the
/// fallbacks between methods) runs megabytes of code once, and aya reads
/// the 4.3 MB object embedded in the executable once while parsing it
/// (copying what it needs); those pages otherwise stay resident all run
/// (4.8 MB of the idle agent's 12.7 MB). The few the event loop uses come
/// back at its first pass, from the page cache or the file. Nothing is
/// lost: `MADV_PAGEOUT` reclaims as memory pressure would, and the few
/// pages of these mappings the dynamic loader wrote (relocated read-only
/// data) are left alone without swap and swapped with it.
fn release_start_up_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for (start, end) in readonly_mappings_of(&maps, &exe.to_string_lossy()) {
        // SAFETY: a whole mapping of our own; MADV_PAGEOUT only reclaims,
        // and the next access faults the page back in.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
    }
}

/// The `[start, end)` of each mapping of `path` in `/proc/self/maps` text
/// that is not writable.
fn readonly_mappings_of(maps: &str, path: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            // start-end perms offset dev inode path
            let mut f = line.splitn(6, ' ');
            let range = f.next()?;
            let perms = f.next()?;
            let name = f.nth(3)?.trim_start();
            if name != path || perms.contains('w') {
                return None;
            }
            let (s, e) = range.split_once('-')?;
            Some((
                usize::from_str_radix(s, 16).ok()?,
                usize::from_str_radix(e, 16).ok()?,
            ))
        })
        .collect()
}

/// The parameters of every kernel function the catalogue hooks, read from
/// our BTF index, so that the index (and, unless fentry needs them, the raw
/// bytes) can go before aya parses anything.
struct CatalogueParams(HashMap<&'static str, Option<Vec<String>>>);

impl CatalogueParams {
    fn read(btf: &Btf) -> CatalogueParams {
        CatalogueParams(
            crate::capabilities::hook_functions()
                .into_iter()
                .map(|f| (f, btf.func_params(f)))
                .collect(),
        )
    }

    fn get(&self, func: &str) -> Option<Vec<String>> {
        self.0.get(func).cloned().flatten()
    }
}

/// The kernel's BTF as aya needs it to load fentry/fexit programs (to find
/// the target's id): our raw bytes until the first fentry candidate gets
/// that far, then aya's parse of them, with the bytes dropped. Our index
/// is gone by then: both at once were the start-up peak (20.7 MiB of heap)
/// on this project's host, where fentry is tried and refused. Where fentry
/// is ruled out beforehand (no function records, `--method`) the bytes go
/// at once.
enum AyaBtf {
    Raw(Vec<u8>),
    Parsed(aya::Btf),
    /// No fentry candidate will be tried.
    NotNeeded,
}

impl AyaBtf {
    fn keep_for_fentry(btf: Btf, caps: &Capabilities, method: Option<Method>) -> AyaBtf {
        let fentry_wanted = method.is_none_or(|m| m == Method::Fentry);
        if fentry_wanted && caps.fentry_unavailable.is_none() {
            AyaBtf::Raw(btf.into_bytes())
        } else {
            AyaBtf::NotNeeded
        }
    }

    fn get(&mut self) -> Result<&aya::Btf> {
        if let AyaBtf::Raw(bytes) = self {
            let parsed = aya::Btf::parse(bytes, aya::Endianness::default())
                .context("parsing the kernel's BTF for fentry")?;
            *self = AyaBtf::Parsed(parsed);
        }
        match self {
            AyaBtf::Parsed(btf) => Ok(btf),
            _ => anyhow::bail!("the kernel's BTF was dropped: no fentry candidate was expected"),
        }
    }
}

/// The hook whose programs tell work items apart by their function's
/// address.
const WORKQUEUE: &str = "workqueue";

/// What `hook` needs in place before it can attach, and the deaths it
/// reports on this kernel beyond its catalogue entry's; Err says why it
/// cannot attach. The workqueue programs tell work items apart by their
/// function's address: those come from /proc/kallsyms, read only now
/// (most kernels never get here), into their map.
fn prepare(
    ebpf: &mut Ebpf,
    hook: &Hook,
    method: Option<Method>,
    caps: &Capabilities,
    offsets: &KernelOffsets,
) -> Result<u8, String> {
    // Under a --method the hook lacks, choose() refuses it for that reason
    // alone: nothing to prepare.
    let may_attach = hook
        .candidates
        .iter()
        .any(|c| method.is_none_or(|m| m == c.method));
    if hook.name != WORKQUEUE || !may_attach {
        return Ok(0);
    }
    let work = caps.work_functions()?;
    set_work_functions(ebpf, work).map_err(|e| format!("{e:#}"))?;
    // Pid namespaces are freed from a work item only on 6.18+.
    let pid =
        work.destroy_pid_namespace_work != 0 && offsets.pid_ns_work != tracer_common::OFFSET_ABSENT;
    Ok(if pid {
        tracer_common::NsType::Pid.bit()
    } else {
        0
    })
}

fn set_work_functions(ebpf: &mut Ebpf, work: WorkFunctions) -> Result<()> {
    let map = ebpf
        .map_mut(maps::WORK_FUNCTIONS)
        .with_context(|| format!("map {} is not in the eBPF object", maps::WORK_FUNCTIONS))?;
    let mut array: Array<_, WorkFunctions> = Array::try_from(map)?;
    array.set(0, work, 0).with_context(|| {
        format!(
            "writing the work functions' addresses to {}",
            maps::WORK_FUNCTIONS
        )
    })
}

fn choose(
    ebpf: &mut Ebpf,
    hook: &'static Hook,
    opts: &LoadOptions,
    caps: &Capabilities,
    params: &CatalogueParams,
    aya_btf: &mut AyaBtf,
) -> Choice {
    let mut rejected = Vec::new();
    for cand in hook.candidates {
        if opts.method.is_some_and(|m| m != cand.method) {
            rejected.push((
                cand.method,
                "not the method asked for with --method".to_string(),
            ));
            continue;
        }
        let why = cand
            .attach
            .iter()
            .find_map(|a| caps.unavailable(a, &|f| params.get(f)));
        if let Some(why) = why {
            rejected.push((cand.method, why));
            continue;
        }
        match attach_candidate(ebpf, cand, aya_btf) {
            Ok(()) => {
                return Choice {
                    hook,
                    method: Some(cand.method),
                    attached: cand.attach,
                    rejected,
                    not_needed: false,
                    deaths: 0,
                }
            }
            Err(err) => {
                // All of a candidate or none of it: a kretprobe without its
                // kprobe would report half an event.
                for a in cand.attach {
                    if let Some(p) = ebpf.program_mut(a.prog()) {
                        let _ = unload(p);
                    }
                }
                log::debug!("{} via {}: {err:#}", hook.name, cand.method);
                rejected.push((cand.method, brief(&err)));
            }
        }
    }
    if let Some(m) = opts.method {
        if !hook.candidates.iter().any(|c| c.method == m) {
            rejected.push((m, format!("nstrace has no {m} program for this hook")));
        }
    }
    Choice::missing(hook, rejected)
}

/// An attach error without the verifier's whole log: the failing step and
/// the log's last lines, which say why. `RUST_LOG=debug` prints it all.
fn brief(err: &anyhow::Error) -> String {
    let load = err
        .chain()
        .find_map(|e| match e.downcast_ref::<ProgramError>() {
            Some(ProgramError::LoadError {
                io_error,
                verifier_log,
            }) => Some((io_error, verifier_log.to_string())),
            _ => None,
        });
    let Some((io_error, log)) = load else {
        return format!("{err:#}");
    };
    // The outermost context names the program and its target.
    let head = format!("{err}: the BPF_PROG_LOAD syscall returned {io_error}");
    let tail: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("verification time") && !l.starts_with("processed ")
        })
        .collect();
    if tail.is_empty() {
        // Refused before the verifier ran: for fentry, EPERM here is a
        // kernel that does not allow BPF trampolines.
        return format!("{head} (refused before verification)");
    }
    format!(
        "{head}; verifier: {}",
        tail[tail.len().saturating_sub(2)..].join(" / ")
    )
}

fn attach_candidate(ebpf: &mut Ebpf, cand: &Candidate, aya_btf: &mut AyaBtf) -> Result<()> {
    for a in cand.attach {
        attach_one(ebpf, a, aya_btf)
            .with_context(|| format!("attaching {} to {}", a.prog(), a.target()))?;
    }
    Ok(())
}

fn attach_one(ebpf: &mut Ebpf, a: &Attach, aya_btf: &mut AyaBtf) -> Result<()> {
    let prog = ebpf
        .program_mut(a.prog())
        .with_context(|| format!("program {} is not in the eBPF object", a.prog()))?;
    match *a {
        Attach::Tracepoint { category, name, .. } => {
            let p: &mut TracePoint = prog.try_into()?;
            p.load()?;
            p.attach(category, name)?;
        }
        Attach::RawTracepoint { name, .. } => {
            let p: &mut RawTracePoint = prog.try_into()?;
            p.load()?;
            p.attach(name)?;
        }
        Attach::Kprobe { func, .. } | Attach::Kretprobe { func, .. } => {
            let p: &mut KProbe = prog.try_into()?;
            p.load()?;
            p.attach(func, 0)?;
        }
        Attach::Fentry { func, .. } => {
            let btf = aya_btf.get()?;
            let p: &mut FEntry = prog.try_into()?;
            p.load(func, btf)?;
            p.attach()?;
        }
        Attach::Fexit { func, .. } => {
            let btf = aya_btf.get()?;
            let p: &mut FExit = prog.try_into()?;
            p.load(func, btf)?;
            p.attach()?;
        }
    }
    Ok(())
}

fn unload(prog: &mut aya::programs::Program) -> Result<()> {
    use aya::programs::Program;
    match prog {
        Program::TracePoint(p) => p.unload()?,
        Program::RawTracePoint(p) => p.unload()?,
        Program::KProbe(p) => p.unload()?,
        Program::FEntry(p) => p.unload()?,
        Program::FExit(p) => p.unload()?,
        _ => {}
    }
    Ok(())
}

/// The programs wake the reader per CPU (emit.rs), each after adding an
/// eighth of its share of the backlog wanted: a reader that misses a
/// wakeup (one that lands while it drains) is woken again long before the
/// ring fills, and a wakeup every few hundred records costs the programs
/// little.
fn per_cpu_wakeup(total: u64) -> u64 {
    let cpus = aya::util::nr_cpus().map_or(1, |n| n.max(1)) as u64;
    (total / cpus / 8).max(1)
}

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK; a 4 MiB ring
/// exceeds the usual 8 MiB default together with the other maps.
fn raise_memlock() {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a valid rlimit; failure only matters on old kernels, where the
    // load error that follows says what went wrong.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use aya_obj::{ProgramSection as Section, VerifierLog};

    use super::*;

    fn load_error(log: &str) -> anyhow::Error {
        anyhow::Error::new(ProgramError::LoadError {
            io_error: std::io::Error::from_raw_os_error(libc::EACCES),
            verifier_log: VerifierLog::new(log.to_string()),
        })
        .context("attaching fentry_x to fentry:x")
    }

    #[test]
    fn brief_keeps_the_verifier_log_tail() {
        let err = load_error(
            "0: R1=ctx() R10=fp0\n1: (85) call bpf_probe_read_kernel#113\n\
             R2 min value is negative\nprocessed 2 insns\nverification time 12 usec\n",
        );
        assert_eq!(
            brief(&err),
            "attaching fentry_x to fentry:x: the BPF_PROG_LOAD syscall returned Permission \
             denied (os error 13); verifier: 1: (85) call bpf_probe_read_kernel#113 / R2 min \
             value is negative"
        );
        assert_eq!(
            brief(&load_error("")),
            "attaching fentry_x to fentry:x: the BPF_PROG_LOAD syscall returned Permission \
             denied (os error 13) (refused before verification)"
        );
        let other = anyhow::anyhow!("no such tracepoint").context("attaching a to b");
        assert_eq!(brief(&other), "attaching a to b: no such tracepoint");
    }

    /// load() tells aya not to parse the kernel's BTF, which is only right
    /// while no program needs a CO-RE relocation against it.
    #[test]
    fn object_needs_no_kernel_btf_to_load() {
        let obj = aya_obj::Object::parse(PROGRAMS).expect("the compiled eBPF object parses");
        assert!(
            !obj.has_btf_relocations(),
            "tracer-ebpf now has CO-RE relocations: load() must pass aya the kernel's BTF"
        );
    }

    /// The catalogue names programs by string; this holds it to the object
    /// build.rs compiled: every entry is a program of the right type, and
    /// every program is attached by some entry.
    #[test]
    fn catalogue_and_compiled_object_agree() {
        let obj = aya_obj::Object::parse(PROGRAMS).expect("the compiled eBPF object parses");
        assert!(!obj.programs.is_empty(), "the eBPF object has no programs");
        let mut named = HashSet::new();
        for hook in HOOKS {
            for cand in hook.candidates {
                for a in cand.attach {
                    let prog = obj.programs.get(a.prog()).unwrap_or_else(|| {
                        panic!(
                            "hook {} ({}) names {}, which tracer-ebpf does not define",
                            hook.name,
                            cand.method,
                            a.prog()
                        )
                    });
                    let right_type = matches!(
                        (a, &prog.section),
                        (Attach::Fentry { .. }, Section::FEntry { .. })
                            | (Attach::Fexit { .. }, Section::FExit { .. })
                            | (Attach::Kprobe { .. }, Section::KProbe)
                            | (Attach::Kretprobe { .. }, Section::KRetProbe)
                            | (Attach::Tracepoint { .. }, Section::TracePoint)
                            | (Attach::RawTracepoint { .. }, Section::RawTracePoint)
                    );
                    assert!(
                        right_type,
                        "hook {}: {} is attached as {} but tracer-ebpf declares it {:?}",
                        hook.name,
                        a.prog(),
                        a.target(),
                        prog.section
                    );
                    named.insert(a.prog());
                }
            }
        }
        let mut unused: Vec<&String> = obj
            .programs
            .keys()
            .filter(|p| !named.contains(p.as_str()))
            .collect();
        unused.sort();
        assert!(
            unused.is_empty(),
            "programs in tracer-ebpf that no hook in hooks.rs attaches: {unused:?}"
        );
    }

    #[test]
    fn only_the_executables_read_only_mappings_are_paged_out() {
        let maps = "\
55e315a5b000-55e315fc8000 r--p 00000000 fd:01 123 /usr/sbin/nstrace
55e315fc8000-55e316429000 r-xp 0056d000 fd:01 123 /usr/sbin/nstrace
55e316429000-55e316452000 rw-p 009ce000 fd:01 123 /usr/sbin/nstrace
55e316452000-55e316453000 r--p 009f7000 fd:01 124 /usr/sbin/nstrace-other
7ff7b578e000-7ff7b58e4000 r-xp 00028000 fd:01 77 /usr/lib/x86_64-linux-gnu/libc.so.6
7ff7b4bdf000-7ff7b4fe0000 r--s 00000000 00:0f 9 anon_inode:bpf-map
7ffd1000-7ffd2000 r-xp 00000000 00:00 0 [vdso]
";
        assert_eq!(
            readonly_mappings_of(maps, "/usr/sbin/nstrace"),
            [
                (0x55e3_15a5_b000, 0x55e3_15fc_8000),
                (0x55e3_15fc_8000, 0x55e3_1642_9000)
            ]
        );
        assert!(readonly_mappings_of(maps, "/usr/sbin/nstrace (deleted)").is_empty());
    }
}
