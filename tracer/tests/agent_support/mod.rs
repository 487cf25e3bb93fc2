//! A running `nstrace agent` for the host tests: its own log, socket and
//! directory, asked over the socket the way `nstrace why` asks.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;

pub fn nstrace_bin() -> &'static str {
    env!("CARGO_BIN_EXE_nstrace")
}

/// A fresh directory under /tmp, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("nstrace-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Agent {
    child: Child,
    pub socket: PathBuf,
    pub log: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Agent {
    /// Starts `nstrace agent` with its log and socket in `dir`, plus
    /// `extra`, and waits until it says it is ready.
    pub fn start(dir: &Path, extra: &[&str]) -> Agent {
        let socket = dir.join("run/nstrace.sock");
        let log = dir.join("ns.jsonl");
        let mut cmd = Command::new(nstrace_bin());
        cmd.arg("agent")
            .arg("--log")
            .arg(&log)
            .arg("--socket")
            .arg(&socket)
            .args(extra);
        Agent::spawn(cmd, socket, log)
    }

    /// Starts `cmd`, an agent command line, and waits until it is ready.
    pub fn spawn(mut cmd: Command, socket: PathBuf, log: PathBuf) -> Agent {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting nstrace agent");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let ready = line.starts_with("nstrace agent: ready");
                sink.lock().unwrap().push_str(&(line + "\n"));
                if ready {
                    let _ = tx.send(());
                }
            }
        });
        let agent = Agent {
            child,
            socket,
            log,
            stderr,
        };
        if rx.recv_timeout(Duration::from_secs(120)).is_err() {
            panic!(
                "the agent never said it was ready; stderr:\n{}",
                agent.stderr()
            );
        }
        agent
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends one raw request and returns the raw answer.
    pub fn ask_raw(&self, request: &[u8]) -> String {
        let mut s = UnixStream::connect(&self.socket)
            .unwrap_or_else(|e| panic!("{}: {e}", self.socket.display()));
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(request).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    /// Sends a JSON request and parses the answer.
    pub fn ask(&self, request: &str) -> Value {
        let raw = self.ask_raw(format!("{request}\n").as_bytes());
        serde_json::from_str(&raw).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {raw}"))
    }

    /// `why` for one namespace, as the socket answers it.
    pub fn why(&self, ns_type: &str, inum: u32) -> Value {
        let v = self.ask(&format!(
            r#"{{"request":"why","type":"{ns_type}","inum":{inum}}}"#
        ));
        assert_eq!(v["ok"], true, "{v}");
        v["namespaces"][0].clone()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Stops it with SIGTERM; returns its exit status and stderr.
    pub fn stop(mut self) -> (ExitStatus, String) {
        self.signal(libc::SIGTERM);
        let status = self.child.wait().expect("waiting for the agent");
        std::thread::sleep(Duration::from_millis(100));
        (status, self.stderr())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

/// Polls `f` until it gives a value; panics naming `what` after `limit`.
/// The bound only keeps a broken test from hanging.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The comm of the calling thread: what a child forked from it carries
/// until it execs.
pub fn thread_comm() -> String {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .unwrap()
        .trim_end()
        .to_string()
}

/// unshare(CLONE_NEWUTS) in a loop in a child, about `rate` a second (the
/// host tests run a debug build of the reader), until [`end_storm`];
/// returns the child's pid and the two ends that stop it and read its count.
pub fn storm(rate: u32) -> (i32, std::fs::File, std::fs::File) {
    let pause = libc::timespec {
        tv_sec: 0,
        tv_nsec: (1_000_000_000 / i64::from(rate.max(1)) * 1000).min(999_999_999),
    };
    let (mut go, mut done) = ([0i32; 2], [0i32; 2]);
    // SAFETY: pipe2 fills the arrays.
    unsafe {
        assert_eq!(libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC), 0);
        assert_eq!(libc::pipe2(done.as_mut_ptr(), libc::O_CLOEXEC), 0);
        libc::fcntl(go[0], libc::F_SETFL, libc::O_NONBLOCK);
    }
    // SAFETY: the child only makes raw syscalls.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut n: u64 = 0;
        let mut b = 0u8;
        // SAFETY: raw syscalls only.
        unsafe {
            // Only the test keeps the write end, so that its end (or the
            // end of its process) reads as end of file here.
            libc::close(go[1]);
            libc::close(done[0]);
            loop {
                for _ in 0..1000 {
                    if libc::unshare(libc::CLONE_NEWUTS) == 0 {
                        n += 1;
                    }
                }
                // A byte: stop. End of file: the test that started us is
                // gone (it panicked, or its process ended), so stop too
                // rather than storm the tests after it.
                if libc::read(go[0], (&mut b as *mut u8).cast(), 1) >= 0 {
                    break;
                }
                libc::nanosleep(&pause, std::ptr::null_mut());
            }
            libc::write(done[1], (&n as *const u64).cast(), 8);
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copies of the child's ends, owning ours.
    unsafe {
        libc::close(go[0]);
        libc::close(done[1]);
        use std::os::fd::FromRawFd as _;
        (
            pid,
            std::fs::File::from_raw_fd(go[1]),
            std::fs::File::from_raw_fd(done[0]),
        )
    }
}

pub fn end_storm(pid: i32, mut go: std::fs::File, mut done: std::fs::File) -> u64 {
    go.write_all(b"x").unwrap();
    let mut n = [0u8; 8];
    done.read_exact(&mut n).unwrap();
    // SAFETY: reaping our child.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    u64::from_ne_bytes(n)
}
