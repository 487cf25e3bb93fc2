//! Shared by the host tests and the in-guest VM tests: children that make or
//! enter namespaces with raw syscalls, and an `nstrace trace --json` process
//! to check what it reported.
//!
//! Children are made with fork/clone in a multi-threaded test process, so
//! they only make async-signal-safe calls (no allocation, no locks) until
//! they pause or exec; every path and argument is prepared before the fork.

#![allow(dead_code)]

pub mod lifetimes;

use std::{
    ffi::CString,
    io::{BufRead, BufReader, Read},
    os::unix::fs::MetadataExt,
    process::{Command, Stdio},
    sync::{
        mpsc::{channel, Receiver, RecvTimeoutError},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use serde_json::Value;
use tracer_common::NsType;

/// The nstrace binary: NSTRACE_BIN in the VM guest, cargo's build otherwise.
pub fn nstrace_bin() -> String {
    std::env::var("NSTRACE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nstrace").to_string())
}

/// `nstrace ARGS`, run to the end.
pub fn nstrace(args: &[&str]) -> std::process::Output {
    Command::new(nstrace_bin())
        .args(args)
        .output()
        .expect("running nstrace")
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh directory for one test, named after it and this process.
pub fn fresh_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nstrace-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether a test that needs root may run: true as root. Otherwise the test
/// is skipped, and says so where libtest cannot hide it (the raw stderr,
/// not the captured `eprintln!`); under `cargo xtask test`, which runs as
/// root and sets NSTRACE_REQUIRE_ROOT_TESTS=1, a skip is a failure instead.
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var_os("NSTRACE_REQUIRE_ROOT_TESTS").is_none(),
        "{test} needs root, and NSTRACE_REQUIRE_ROOT_TESTS (set by `cargo xtask test`) \
         forbids skipping it"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: it runs nstrace trace, which needs root; `cargo xtask test` runs it"
    );
    false
}

/// A copy of nstrace that an unprivileged uid can execute, whatever the
/// permissions of the checkout's directories; removed on drop.
pub struct UnprivilegedCopy {
    dir: std::path::PathBuf,
    pub bin: String,
}

impl UnprivilegedCopy {
    pub fn new() -> UnprivilegedCopy {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!(
            "nstrace-unprivileged-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("nstrace");
        std::fs::copy(nstrace_bin(), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        UnprivilegedCopy {
            bin: bin.to_string_lossy().into_owned(),
            dir,
        }
    }

    /// `setpriv` options that run the copy as nobody with exactly the
    /// capabilities of `needs` (inheritable and ambient, so they survive
    /// the exec), then the copy's path.
    pub fn as_nobody_with(&self, needs: &[tracer::privileges::Need]) -> Vec<String> {
        let mut caps: Vec<String> = Vec::new();
        for need in needs {
            for c in need.caps {
                let name = format!("+{}", c.lower().trim_start_matches("cap_"));
                if !caps.contains(&name) {
                    caps.push(name);
                }
            }
        }
        let set = std::iter::once("-all".to_string())
            .chain(caps)
            .collect::<Vec<_>>()
            .join(",");
        vec![
            "setpriv".into(),
            "--reuid=65534".into(),
            "--regid=65534".into(),
            "--clear-groups".into(),
            format!("--inh-caps={set}"),
            format!("--ambient-caps={set}"),
            self.bin.clone(),
        ]
    }
}

impl Drop for UnprivilegedCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `/proc/PID/ns` file that shows a type's namespace for `pid`: for
/// pid and time the one `unshare`/`setns` change, `*_for_children`.
pub fn ns_file(t: NsType) -> &'static str {
    match t {
        NsType::Pid => "pid_for_children",
        NsType::Time => "time_for_children",
        other => other.name(),
    }
}

/// Inode number of `/proc/<pid>/ns/<file>`: stat follows the link to the
/// nsfs inode, whose number is the namespace's.
pub fn ns_inum(pid: i32, file: &str) -> u32 {
    let path = format!("/proc/{pid}/ns/{file}");
    std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("stat {path}: {e}"))
        .ino() as u32
}

/// `nstrace probe --json` plus `extra`, parsed; panics with its stderr if
/// it fails.
pub fn probe_json(extra: &[&str]) -> Value {
    let out = Command::new(nstrace_bin())
        .args(["probe", "--json"])
        .args(extra)
        .output()
        .expect("running nstrace probe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("nstrace probe --json printed JSON")
}

/// Inode number from readlink of `/proc/<pid>/ns/<file>` (`type:[N]`),
/// which unlike stat or open makes no nsfs inode, and so no `evict` later.
pub fn readlink_inum(pid: i32, file: &str) -> u32 {
    let path = format!("/proc/{pid}/ns/{file}");
    let link = std::fs::read_link(&path).unwrap_or_else(|e| panic!("readlink {path}: {e}"));
    let s = link.to_string_lossy();
    s[s.find('[').unwrap() + 1..s.len() - 1].parse().unwrap()
}

/// The hook that reports `t`'s deaths before 6.18, where
/// `__ns_common_free` (hook `ns_common_free`) does not exist.
pub fn per_type_death_hook(t: NsType) -> &'static str {
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

/// Whether the running kernel frees every type through `__ns_common_free`
/// (6.18 and later), from /proc/kallsyms.
pub fn kernel_has_ns_common_free() -> bool {
    std::fs::read_to_string("/proc/kallsyms")
        .expect("reading /proc/kallsyms")
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some("__ns_common_free"))
}

/// Panics unless the run whose header is `header` reports the deaths of
/// every type in `types` with `method`: through `ns_common_free` (6.18+)
/// or each type's own hook (6.1, 6.12).
pub fn assert_deaths_by(header: &Value, types: &[NsType], method: &str) {
    let methods = &header["methods"];
    for &t in types {
        assert!(
            methods["ns_common_free"] == method || methods[per_type_death_hook(t)] == method,
            "{t} deaths are not reported with {method}: {header}"
        );
    }
}

/// The hook method an in-guest test runs with (the VM runner sets it).
pub fn test_method() -> String {
    std::env::var("NSTRACE_TEST_METHOD").expect("NSTRACE_TEST_METHOD is fentry or kprobe")
}

/// A paused child process; killed and reaped on drop.
pub struct Child {
    pub pid: i32,
}

impl Drop for Child {
    /// Kills the child and everything below it, and reaps them all. An
    /// unreaped zombie keeps its pid namespace (and so its parents) alive,
    /// and orphans would go to a pid 1 that may never reap them: the test
    /// process is a subreaper (see [`spawn`]), so they come to us.
    fn drop(&mut self) {
        let below = descendants(self.pid);
        // SAFETY: plain syscalls on our own children.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            for &d in &below {
                libc::kill(d, libc::SIGKILL);
            }
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            for &d in &below {
                libc::waitpid(d, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// Every process below `pid`, from /proc/*/task/*/children.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(list) = std::fs::read_to_string(t.path().join("children")) else {
                continue;
            };
            for c in list.split_whitespace().filter_map(|c| c.parse().ok()) {
                out.push(c);
                todo.push(c);
            }
        }
    }
    out
}

/// How the child comes into being.
pub enum Make {
    Fork,
    /// clone(2) with these flags (SIGCHLD added).
    Clone(u64),
    /// clone3(2) with these flags.
    Clone3(u64),
}

/// Makes a child, runs `work` in it (async-signal-safe only; returns 0 or an
/// errno), and returns once the child reported success and paused. Panics
/// with the errno the child reported.
pub fn spawn(make: Make, work: impl FnOnce() -> i32) -> Child {
    // SAFETY: prctl on ourselves; orphans below our children are then ours
    // to reap (see `Drop for Child`).
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two fds into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: the child only runs async-signal-safe code (see module docs).
    let pid = unsafe {
        match make {
            Make::Fork => libc::fork() as i64,
            Make::Clone(flags) => libc::syscall(
                libc::SYS_clone,
                flags | libc::SIGCHLD as u64,
                0usize,
                0usize,
                0usize,
                0usize,
            ),
            Make::Clone3(flags) => {
                // struct clone_args, CLONE_ARGS_SIZE_VER0 (64 bytes):
                // flags, pidfd, child_tid, parent_tid, exit_signal, stack,
                // stack_size, tls.
                let args: [u64; 8] = [flags, 0, 0, 0, libc::SIGCHLD as u64, 0, 0, 0];
                libc::syscall(libc::SYS_clone3, args.as_ptr(), 64usize)
            }
        }
    };
    if pid == 0 {
        let code = work();
        // SAFETY: write/pause/_exit are async-signal-safe.
        unsafe {
            libc::write(wr, (&code as *const i32).cast(), 4);
            if code != 0 {
                libc::_exit(1);
            }
            loop {
                libc::pause();
            }
        }
    }
    assert!(
        pid > 0,
        "making a child failed: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(wr) };
    let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(rd) };
    let mut buf = [0u8; 4];
    let child = Child { pid: pid as i32 };
    f.read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("child {pid} died before reporting: {e}"));
    let code = i32::from_ne_bytes(buf);
    assert_eq!(
        code,
        0,
        "child {pid} failed: {}",
        std::io::Error::from_raw_os_error(code)
    );
    child
}

/// errno after a failed libc call, for a child's `work`.
pub fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// A child that moves itself into the cgroup directory `dir` (writing 0
/// to its `cgroup.procs` moves the writer), then unshares a uts
/// namespace; with `dir`'s inode number, which is the cgroup's id.
pub fn unshare_uts_in_cgroup(dir: &str) -> (Child, u64) {
    std::fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {dir}: {e}"));
    let id = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(dir).unwrap());
    let procs = std::ffi::CString::new(format!("{dir}/cgroup.procs")).unwrap();
    let child = spawn(Make::Fork, move || {
        // SAFETY: open/write/close/unshare are async-signal-safe.
        unsafe {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return errno();
            }
            let moved = libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
            let e = errno();
            libc::close(fd);
            if !moved {
                return e;
            }
            if libc::unshare(libc::CLONE_NEWUTS) != 0 {
                return errno();
            }
        }
        0
    });
    (child, id)
}

/// Removes a cgroup directory made by [`unshare_uts_in_cgroup`] once its
/// child is dropped: the reaped child leaves it empty, and so removable,
/// a moment later.
pub fn remove_cgroup(dir: &str) -> std::io::Result<()> {
    let mut removed = std::fs::remove_dir(dir);
    for _ in 0..50 {
        if removed.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        removed = std::fs::remove_dir(dir);
    }
    removed
}

/// `unshare(flags)` as child work.
pub fn unshare(flags: u64) -> impl FnOnce() -> i32 {
    move || {
        // SAFETY: a plain syscall.
        if unsafe { libc::unshare(flags as i32) } == 0 {
            0
        } else {
            errno()
        }
    }
}

/// `unshare(CLONE_NEWPID)` plus a first child, as child work: until the new
/// pid namespace has an init, /proc/PID/ns/pid_for_children cannot be
/// opened (pidns_for_children_get wants a child reaper). The init dies with
/// its parent (PR_SET_PDEATHSIG), so nothing leaks.
pub fn unshare_pid_with_init() -> impl FnOnce() -> i32 {
    move || {
        // SAFETY: async-signal-safe calls only.
        unsafe {
            if libc::unshare(libc::CLONE_NEWPID) != 0 {
                return errno();
            }
            let pid = libc::fork();
            if pid == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                loop {
                    libc::pause();
                }
            }
            if pid < 0 {
                return errno();
            }
        }
        0
    }
}

/// The work that gives a child a new namespace of type `t` that can be
/// looked at through /proc.
pub fn unshare_type(t: NsType) -> Box<dyn FnOnce() -> i32> {
    if t == NsType::Pid {
        Box::new(unshare_pid_with_init())
    } else {
        Box::new(unshare(t.clone_flag()))
    }
}

/// `setns(open(path), nstype)` as child work; the path is prepared here.
pub fn setns_path(path: &str, nstype: u64) -> impl FnOnce() -> i32 {
    let c = CString::new(path).unwrap();
    move || {
        // SAFETY: open/setns/close are async-signal-safe.
        unsafe {
            let fd = libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return errno();
            }
            let r = libc::setns(fd, nstype as i32);
            let e = errno();
            libc::close(fd);
            if r == 0 {
                0
            } else {
                e
            }
        }
    }
}

/// A running `nstrace trace --json`; stopped with SIGINT on drop.
pub struct Tracer {
    header: Value,
    child: std::process::Child,
    events: Receiver<Value>,
    seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
    /// The thread copying stderr; joined by [`Tracer::stop`] so all of it
    /// is there before anyone looks.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Tracer {
    /// Starts the tracer and waits until its programs are attached (it
    /// prints the header line only then).
    pub fn start(extra: &[&str]) -> Tracer {
        Tracer::start_with_header(extra)
    }

    /// The header line the tracer printed.
    pub fn header(&self) -> &Value {
        &self.header
    }

    /// Like [`Tracer::start`]; the header is kept for [`Tracer::header`].
    pub fn start_with_header(extra: &[&str]) -> Tracer {
        let mut cmd = Command::new(nstrace_bin());
        cmd.args(["trace", "--json"]).args(extra);
        Tracer::start_command(cmd)
    }

    /// `ARGV trace --json EXTRA`, where `argv` ends with an nstrace binary
    /// (e.g. [`UnprivilegedCopy::as_nobody_with`]).
    pub fn start_wrapped(argv: &[String], extra: &[&str]) -> Tracer {
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).args(["trace", "--json"]).args(extra);
        Tracer::start_command(cmd)
    }

    fn start_command(mut cmd: Command) -> Tracer {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting nstrace");
        let (tx, events) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("nstrace printed a line that is not JSON ({e}): {line}")
                });
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut t = Tracer {
            header: Value::Null,
            child,
            events,
            seen: Vec::new(),
            stderr,
            stderr_reader: Some(stderr_reader),
        };
        let header = t
            .next_within(Duration::from_secs(120))
            .unwrap_or_else(|| panic!("nstrace printed no header; stderr:\n{}", t.stderr()));
        assert_eq!(
            header["event"], "header",
            "first line is not the header: {header}"
        );
        t.seen.clear();
        t.header = header;
        t
    }

    /// Every event read so far, in order.
    pub fn seen(&self) -> &[Value] {
        &self.seen
    }

    /// The tracer's pid.
    pub fn child_id(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn next_within(&mut self, d: Duration) -> Option<Value> {
        match self.events.recv_timeout(d) {
            Ok(v) => {
                self.seen.push(v.clone());
                Some(v)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Waits for an event matching `pred`; panics naming `what`, with every
    /// event seen and the tracer's stderr, if none comes. The bound only
    /// keeps a broken test from hanging: the tracer drains every 100 ms.
    pub fn expect(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.expect_within(what, Duration::from_secs(20), pred)
    }

    /// [`Tracer::expect`] for an event that waits on a full task scan (a
    /// `linger`: the last task's exit is seen only by one). Full scans are
    /// paced by their own CPU cost (pipeline/task_scan.rs: up to 60 s
    /// apart), and in a TCG guest a cold /proc scan costs tens of
    /// milliseconds, which puts the next one 10 to 20 s out at a 0.3 s
    /// scan interval: the bound allows the pacing's longest gap.
    pub fn expect_after_scan(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.expect_within(what, Duration::from_secs(90), pred)
    }

    fn expect_within(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next_within(left) {
                Some(v) if pred(&v) => return v,
                Some(_) => {}
                None => break,
            }
        }
        panic!(
            "no event {what}\nevents seen:\n{}\nnstrace stderr:\n{}",
            self.seen
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            self.stderr()
        );
    }

    /// Events already received that match `pred`, without waiting. Call it
    /// after [`Tracer::expect`] returned an event that happened later: the
    /// tracer releases records in time order, so everything before that
    /// event has been received, and "nothing matched" is then a fact rather
    /// than a guess about how long to wait.
    pub fn received(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        while let Ok(v) = self.events.try_recv() {
            self.seen.push(v);
        }
        self.seen.iter().filter(|v| pred(v)).cloned().collect()
    }

    /// Makes a uts namespace now and waits for its birth: once it arrives,
    /// every record of what happened before it has arrived too (see
    /// [`Tracer::received`]). Needs a tracer that reports uts births.
    pub fn barrier(&mut self) {
        let marker = spawn(Make::Fork, unshare(NsType::Uts.clone_flag()));
        let inum = readlink_inum(marker.pid, "uts");
        self.expect("the barrier's uts birth", |v| {
            is(v, "birth", NsType::Uts, inum) && v["pid"] == marker.pid
        });
    }

    /// Events seen so far that match `pred` (after waiting `settle` for
    /// stragglers).
    pub fn all(&mut self, settle: Duration, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + settle;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if self.next_within(left).is_none() {
                break;
            }
        }
        self.seen.iter().filter(|v| pred(v)).cloned().collect()
    }

    /// Stops the tracer with SIGINT; returns its exit status and stderr.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().expect("waiting for nstrace");
        // It ends at end-of-file, which comes once nstrace (and anything
        // that inherited its stderr) has exited.
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().expect("the stderr reader panicked");
        }
        (status, self.stderr())
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
            let _ = self.child.wait();
        }
    }
}

/// Bind-mounts `src` (a /proc/PID/ns/* file) on `dst`, as `ip netns add`
/// does; returns `dst` for umount2.
pub fn bind_mount(src: &str, dst: &str) -> CString {
    let (src, dst) = (CString::new(src).unwrap(), CString::new(dst).unwrap());
    // SAFETY: valid NUL-terminated paths.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "bind mount: {}", std::io::Error::last_os_error());
    dst
}

/// True if `v` is a `kind` event for namespace `t:[inum]`.
pub fn is(v: &Value, kind: &str, t: NsType, inum: u32) -> bool {
    v["event"] == kind && v["type"] == t.name() && v["inum"] == inum
}

/// Makes a child that runs `work` and then execs `argv` (prepared here).
/// Returns once the exec succeeded: the pipe's write end is close-on-exec,
/// so end-of-file without an errno means the new program is running.
pub fn spawn_then_exec(work: impl FnOnce() -> i32, argv: &[&str]) -> Child {
    let args: Vec<CString> = argv.iter().map(|a| CString::new(*a).unwrap()).collect();
    let mut ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two fds into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: the child only runs async-signal-safe code.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut code = work();
        if code == 0 {
            // SAFETY: argv is NULL-terminated and outlives the call.
            unsafe { libc::execv(ptrs[0], ptrs.as_ptr()) };
            code = errno();
        }
        // SAFETY: async-signal-safe.
        unsafe {
            libc::write(wr, (&code as *const i32).cast(), 4);
            libc::_exit(1);
        }
    }
    assert!(pid > 0, "fork failed: {}", std::io::Error::last_os_error());
    // SAFETY: closing our copy of the write end, then owning the read end.
    unsafe { libc::close(wr) };
    let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(rd) };
    let child = Child { pid };
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).unwrap();
    if buf.len() >= 4 {
        let code = i32::from_ne_bytes(buf[..4].try_into().unwrap());
        panic!(
            "child {pid} failed before exec: {}",
            std::io::Error::from_raw_os_error(code)
        );
    }
    child
}

/// Ids of the BPF programs process `pid` holds open, from its fdinfo.
pub fn bpf_prog_ids(pid: u32) -> Vec<u32> {
    let mut ids = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return ids;
    };
    for e in dir.flatten() {
        let Ok(info) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        if let Some(id) = info
            .lines()
            .find_map(|l| l.strip_prefix("prog_id:"))
            .and_then(|v| v.trim().parse().ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// True if a BPF program with this id still exists in the kernel.
pub fn bpf_prog_exists(id: u32) -> bool {
    // union bpf_attr for BPF_PROG_GET_FD_BY_ID: { u32 prog_id; u32 next_id;
    // u32 open_flags; } (include/uapi/linux/bpf.h).
    let attr: [u32; 4] = [id, 0, 0, 0];
    const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
    // SAFETY: attr is a valid, large-enough bpf_attr prefix.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_GET_FD_BY_ID, attr.as_ptr(), 16usize) };
    if fd >= 0 {
        // SAFETY: closing the fd we just got.
        unsafe { libc::close(fd as i32) };
        return true;
    }
    let e = errno();
    assert_eq!(
        e,
        libc::ENOENT,
        "BPF_PROG_GET_FD_BY_ID({id}) failed: {}",
        std::io::Error::from_raw_os_error(e)
    );
    false
}
