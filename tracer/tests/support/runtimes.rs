//! Drivers for real container runtimes, for the host tests: each starts one
//! container from a local busybox-static rootfs (there is no registry, so
//! nothing is pulled), says what nstrace should report about it, and undoes
//! everything it did when dropped, even when the test fails: the container,
//! dockerd and its image, the bridges and firewall chains CNI and docker
//! add, the cgroup directories runtimes leave behind, and mounts.
//!
//! What each runtime needs on this host is in shared/notes/platform.md:
//! crun (and podman, which runs crun) refuses a hybrid cgroup layout whose
//! cgroup2 still has controllers, so those are given v1 mounts for the
//! test; podman needs explicit ulimits; dockerd runs with --iptables=false
//! and imports its image from a tarball; systemd is not PID 1, so
//! systemd-nspawn runs with --keep-unit in the machine scope systemd would
//! have made for it.

#![allow(dead_code, reason = "each test uses a different subset")]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tracer_common::NsType;

use crate::support::descendants;

/// Undo steps, run last first on drop.
#[derive(Default)]
pub struct Cleanup {
    steps: Vec<(String, Box<dyn FnOnce()>)>,
}

impl Cleanup {
    pub fn push(&mut self, what: impl Into<String>, step: impl FnOnce() + 'static) {
        self.steps.push((what.into(), Box::new(step)));
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        while let Some((what, step)) = self.steps.pop() {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).is_err() {
                eprintln!("cleanup step failed: {what}");
            }
        }
    }
}

/// Runs a command with a time limit; its stdout, or why it failed.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("timeout")
        .arg("120")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Like [`run`] for a command that leaves a process behind holding its
/// stdio (`runc run -d` hands its own to the container): output goes to a
/// file, not a pipe whose end would never come.
fn run_detached(program: &str, args: &[&str]) -> Result<(), String> {
    let log = std::env::temp_dir().join(format!("nstrace-{program}-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let status = Command::new("timeout")
        .arg("120")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file)
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {} failed ({status}): {}",
            args.join(" "),
            text.trim()
        ))
    }
}

/// A command that must not fail the cleanup when it fails.
fn quietly(program: &str, args: &[&str]) {
    if let Err(e) = run(program, args) {
        eprintln!("cleanup: {e}");
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// A rootfs of busybox-static and its applets, removed on drop.
pub struct Rootfs {
    pub dir: PathBuf,
}

impl Rootfs {
    pub fn new(tag: &str) -> Result<Rootfs, String> {
        let busybox = Path::new("/bin/busybox");
        if !busybox.is_file() {
            return Err("/bin/busybox is missing (Debian package busybox-static)".into());
        }
        let dir = std::env::temp_dir().join(format!("nstrace-rootfs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let io = |e: std::io::Error| format!("{}: {e}", dir.display());
        for d in [
            "bin", "proc", "sys", "dev", "tmp", "etc", "usr", "run", "var",
        ] {
            std::fs::create_dir_all(dir.join(d)).map_err(io)?;
        }
        std::fs::copy(busybox, dir.join("bin/busybox")).map_err(io)?;
        std::fs::set_permissions(
            dir.join("bin/busybox"),
            std::fs::Permissions::from_mode(0o755),
        )
        .map_err(io)?;
        for applet in ["sh", "sleep", "true", "cat", "ls"] {
            std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).map_err(io)?;
        }
        // systemd-nspawn wants something that looks like an OS tree.
        std::fs::write(dir.join("etc/os-release"), "ID=busybox\n").map_err(io)?;
        Ok(Rootfs { dir })
    }

    pub fn path(&self) -> &str {
        self.dir.to_str().expect("a UTF-8 temp dir")
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The container runtimes the tests drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Runc,
    Crun,
    Podman,
    Docker,
    Nspawn,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Runc,
        Kind::Crun,
        Kind::Podman,
        Kind::Docker,
        Kind::Nspawn,
    ];

    /// The `container.runtime` nstrace should report.
    pub fn runtime(self) -> &'static str {
        match self {
            Kind::Runc => "runc",
            Kind::Crun => "crun",
            Kind::Podman => "podman",
            Kind::Docker => "docker",
            Kind::Nspawn => "systemd-nspawn",
        }
    }

    fn program(self) -> &'static str {
        match self {
            Kind::Runc => "runc",
            Kind::Crun => "crun",
            Kind::Podman => "podman",
            Kind::Docker => "dockerd",
            Kind::Nspawn => "systemd-nspawn",
        }
    }
}

/// A running container and what nstrace should say about it.
pub struct Running {
    pub kind: Kind,
    pub id: String,
    pub name: Option<String>,
    pub image: Option<String>,
    /// The container's first process, as the host sees it.
    pub init_pid: i32,
    /// Types of the namespaces the runtime makes for it.
    pub types: Vec<NsType>,
    /// Its births come from runc's short-lived helper, so they name the init.
    pub helper_births: bool,
    /// Where its net is bound by name, if the runtime names it.
    pub net_dir: Option<&'static str>,
    cleanup: Cleanup,
    _rootfs: Rootfs,
}

impl Running {
    /// How `why` and `report` label it: `name (runtime)`.
    pub fn label(&self) -> String {
        let short = match &self.name {
            Some(n) => n.clone(),
            None if self.id.len() == 64 => self.id[..12].to_string(),
            None => self.id.clone(),
        };
        format!("{short} ({})", self.kind.runtime())
    }
}

/// Starts a `sleep 1000` container of `kind`; `Err` says why this machine
/// cannot run it (the test then skips it, printing the reason).
pub fn start(kind: Kind, tag: &str) -> Result<Running, String> {
    if !on_path(kind.program()) {
        return Err(format!(
            "{} is not installed (`cargo xtask test` installs it)",
            kind.program()
        ));
    }
    let rootfs = Rootfs::new(tag)?;
    // Dropped before the rootfs, undoing whatever got done on an error.
    let mut cleanup = Cleanup::default();
    let name = format!("nstrace-{tag}-{}", std::process::id());
    let mut types = vec![
        NsType::Mnt,
        NsType::Uts,
        NsType::Ipc,
        NsType::Pid,
        NsType::Net,
    ];
    let (mut named, mut image, mut net_dir) = (None, None, None);
    let (id, init_pid) = match kind {
        Kind::Runc | Kind::Crun => {
            if kind == Kind::Crun {
                cgroup2_controllers_to_v1(&mut cleanup)?;
            }
            oci_run(kind.program(), &name, &rootfs, &mut cleanup)?
        }
        Kind::Podman => {
            cgroup2_controllers_to_v1(&mut cleanup)?;
            leftovers(&mut cleanup, &["libpod_parent"]);
            cni_leftovers(&mut cleanup);
            let n = name.clone();
            cleanup.push("podman rm", move || {
                quietly("podman", &["rm", "-f", "-t", "0", &n])
            });
            let id = run(
                "podman",
                &[
                    "run",
                    "-d",
                    "--name",
                    &name,
                    "--ulimit",
                    "nofile=20000:20000",
                    "--ulimit",
                    "nproc=4096:4096",
                    "--rootfs",
                    rootfs.path(),
                    "sleep",
                    "1000",
                ],
            )?;
            named = Some(name.clone());
            net_dir = Some("/run/netns/");
            (id, inspect_pid("podman", &name)?)
        }
        Kind::Docker => {
            start_dockerd(&mut cleanup)?;
            let im = format!("nstrace-busybox:{tag}-{}", std::process::id());
            let i = im.clone();
            cleanup.push("docker rmi", move || quietly("docker", &["rmi", "-f", &i]));
            docker_import(&rootfs, &im)?;
            let n = name.clone();
            cleanup.push("docker rm", move || quietly("docker", &["rm", "-f", &n]));
            let id = run(
                "docker",
                &["run", "-d", "--name", &name, &im, "sleep", "1000"],
            )?;
            named = Some(name.clone());
            image = Some(im);
            net_dir = Some("/run/docker/netns/");
            (id, inspect_pid("docker", &name)?)
        }
        Kind::Nspawn => {
            let pid = nspawn(&name, &rootfs, &mut cleanup)?;
            named = Some(name.clone());
            // No --private-network: it keeps the host's net.
            types.retain(|&t| t != NsType::Net);
            (name.clone(), pid)
        }
    };
    Ok(Running {
        kind,
        id,
        name: named,
        image,
        init_pid,
        types,
        // runc (docker runs it too) unshares in a helper that exits.
        helper_births: matches!(kind, Kind::Runc | Kind::Docker),
        net_dir,
        cleanup,
        _rootfs: rootfs,
    })
}

/// `runc spec`/`crun spec`, then `run -d` of `sleep 1000` in the bundle.
fn oci_run(
    program: &str,
    id: &str,
    rootfs: &Rootfs,
    cleanup: &mut Cleanup,
) -> Result<(String, i32), String> {
    let bundle = rootfs.dir.with_extension("bundle");
    let _ = std::fs::remove_dir_all(&bundle);
    std::fs::create_dir_all(&bundle).map_err(|e| e.to_string())?;
    let b = bundle.clone();
    cleanup.push("remove the bundle", move || {
        let _ = std::fs::remove_dir_all(&b);
    });
    let bundle_s = bundle.to_str().unwrap().to_string();
    run(program, &["spec", "--bundle", &bundle_s])?;
    let path = bundle.join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    spec["root"]["path"] = rootfs.path().into();
    std::fs::write(&path, spec.to_string()).map_err(|e| e.to_string())?;
    let pidfile = bundle.join("pid");
    let pidfile_s = pidfile.to_str().unwrap().to_string();
    let (p, i) = (program.to_string(), id.to_string());
    cleanup.push(format!("{program} delete"), move || {
        quietly(&p, &["delete", "-f", &i])
    });
    run_detached(
        program,
        &[
            "run",
            "-d",
            "--bundle",
            &bundle_s,
            "--pid-file",
            &pidfile_s,
            id,
        ],
    )?;
    let pid = std::fs::read_to_string(&pidfile)
        .map_err(|e| format!("{}: {e}", pidfile.display()))?
        .trim()
        .parse()
        .map_err(|e| format!("pid file: {e}"))?;
    Ok((id.to_string(), pid))
}

fn inspect_pid(program: &str, name: &str) -> Result<i32, String> {
    run(program, &["inspect", "-f", "{{.State.Pid}}", name])?
        .parse()
        .map_err(|e| format!("{program} inspect: {e}"))
}

/// Every cgroup hierarchy mounted: (mount point, is cgroup2).
fn hierarchies() -> Vec<(PathBuf, bool)> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            match f.get(2).copied() {
                Some("cgroup2") => Some((PathBuf::from(f[1]), true)),
                Some("cgroup") => Some((PathBuf::from(f[1]), false)),
                _ => None,
            }
        })
        .collect()
}

/// Removes a cgroup directory and everything below it, deepest first
/// (cgroupfs only lets empty cgroups go).
fn remove_cgroup_tree(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_tree(&e.path());
        }
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        eprintln!("cleanup: rmdir {}: {e}", dir.display());
    }
}

/// Runtimes leave these cgroups behind in every hierarchy; the ones that
/// were not there before go when the test is done.
fn leftovers(cleanup: &mut Cleanup, names: &[&str]) {
    let mut absent = Vec::new();
    for (mount, _) in hierarchies() {
        for n in names {
            let p = mount.join(n);
            if !p.exists() {
                absent.push(p);
            }
        }
    }
    cleanup.push("remove leftover cgroups", move || {
        for p in absent {
            if p.exists() {
                remove_cgroup_tree(&p);
            }
        }
    });
}

/// crun refuses a hybrid layout whose cgroup2 still has controllers: give
/// each of them a v1 hierarchy of its own for the test, and take it away
/// after (emptied first, so the kernel hands the controller back).
fn cgroup2_controllers_to_v1(cleanup: &mut Cleanup) -> Result<(), String> {
    let unified = Path::new("/sys/fs/cgroup/unified");
    let Ok(ctls) = std::fs::read_to_string(unified.join("cgroup.controllers")) else {
        return Ok(());
    };
    for ctl in ctls.split_whitespace() {
        let dir = Path::new("/sys/fs/cgroup").join(ctl);
        if dir.join("cgroup.procs").exists() {
            continue;
        }
        let made = !dir.exists();
        if made {
            std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let d = dir.clone();
        let c = ctl.to_string();
        cleanup.push(format!("unmount the {ctl} v1 hierarchy"), move || {
            if let Ok(entries) = std::fs::read_dir(&d) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        remove_cgroup_tree(&e.path());
                    }
                }
            }
            // Unmounting kills the hierarchy only once no child is left,
            // and a removed cgroup lingers until its last reference goes.
            wait_for(Duration::from_secs(10), || cgroups_of(&c) == Some(1));
            quietly("umount", &[d.to_str().unwrap()]);
            if made {
                let _ = std::fs::remove_dir(&d);
            }
            if !wait_for(Duration::from_secs(5), || hierarchy_of(&c) == Some(0)) {
                eprintln!("cleanup: {c} did not go back to cgroup2");
            }
        });
        run(
            "mount",
            &["-t", "cgroup", "-o", ctl, "cgroup", dir.to_str().unwrap()],
        )?;
    }
    Ok(())
}

/// /proc/cgroups: (hierarchy id, number of cgroups) of controller `ctl`.
fn proc_cgroups(ctl: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/proc/cgroups").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.first() == Some(&ctl))
            .then(|| Some((f.get(1)?.parse().ok()?, f.get(2)?.parse().ok()?)))?
    })
}

fn cgroups_of(ctl: &str) -> Option<u32> {
    proc_cgroups(ctl).map(|(_, n)| n)
}

fn hierarchy_of(ctl: &str) -> Option<u32> {
    proc_cgroups(ctl).map(|(h, _)| h)
}

/// Polls `cond` until it holds or `limit` passes; whether it held.
fn wait_for(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// What podman's CNI network adds and leaves: its bridge, the firewall
/// plugin's chains, its address store. Removed if they were not there.
fn cni_leftovers(cleanup: &mut Cleanup) {
    let bridge = !Path::new("/sys/class/net/cni-podman0").exists();
    let chains = run("iptables", &["-S", "CNI-FORWARD"]).is_err();
    let store = !Path::new("/var/lib/cni/networks/podman").exists();
    cleanup.push("remove CNI leftovers", move || {
        if bridge && Path::new("/sys/class/net/cni-podman0").exists() {
            quietly("ip", &["link", "del", "cni-podman0"]);
        }
        if chains && run("iptables", &["-S", "CNI-FORWARD"]).is_ok() {
            quietly(
                "iptables",
                &[
                    "-D",
                    "FORWARD",
                    "-m",
                    "comment",
                    "--comment",
                    "CNI firewall plugin rules",
                    "-j",
                    "CNI-FORWARD",
                ],
            );
            quietly("iptables", &["-F", "CNI-FORWARD"]);
            quietly("iptables", &["-X", "CNI-FORWARD"]);
            quietly("iptables", &["-X", "CNI-ADMIN"]);
        }
        if store {
            let _ = std::fs::remove_dir_all("/var/lib/cni/networks/podman");
        }
    });
}

/// Starts a dockerd of our own (refusing to touch one already running)
/// and stops it, with docker0 and its cgroups, on cleanup.
fn start_dockerd(cleanup: &mut Cleanup) -> Result<(), String> {
    if on_path("docker") && run("docker", &["info"]).is_ok() {
        return Err("a dockerd already runs here; the test will not touch it".into());
    }
    leftovers(cleanup, &["docker"]);
    let bridge = !Path::new("/sys/class/net/docker0").exists();
    cleanup.push("delete docker0", move || {
        if bridge && Path::new("/sys/class/net/docker0").exists() {
            quietly("ip", &["link", "del", "docker0"]);
        }
    });
    let log = std::env::temp_dir().join(format!("nstrace-dockerd-{}.log", std::process::id()));
    let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut child = Command::new("dockerd")
        .arg("--iptables=false")
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out)
        .spawn()
        .map_err(|e| format!("dockerd: {e}"))?;
    let pid = child.id() as i32;
    let l = log.clone();
    cleanup.push("stop dockerd", move || {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                let _ = std::fs::remove_file(&l);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(&l);
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while run("docker", &["info"]).is_err() {
        if Instant::now() > deadline {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            return Err(format!(
                "dockerd did not answer in 60 s: {}",
                tail.join(" | ")
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

/// `tar -C rootfs -c . | docker import - image`.
fn docker_import(rootfs: &Rootfs, image: &str) -> Result<(), String> {
    let tar = Command::new("tar")
        .args(["-C", rootfs.path(), "-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("tar: {e}"))?;
    let out = Command::new("docker")
        .args(["import", "-", image])
        .stdin(tar.stdout.expect("piped"))
        .output()
        .map_err(|e| format!("docker import: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "docker import failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// systemd's unit-name escaping of a machine name (`-` is `\x2d`).
fn escape_unit(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c.to_string()
            } else {
                format!("\\x{:02x}", c as u32)
            }
        })
        .collect()
}

/// systemd-nspawn in `machine.slice/machine-NAME.scope`, the scope
/// systemd-machined would make (it needs systemd as PID 1, which this host
/// lacks), on every hierarchy; returns the container's pid 1.
fn nspawn(name: &str, rootfs: &Rootfs, cleanup: &mut Cleanup) -> Result<i32, String> {
    leftovers(cleanup, &["machine.slice"]);
    let propagate = PathBuf::from("/run/systemd/nspawn/propagate").join(name);
    cleanup.push("remove nspawn's propagate dir", move || {
        let _ = std::fs::remove_dir_all(&propagate);
    });
    let scope = format!("machine.slice/machine-{}.scope", escape_unit(name));
    let mut procs = Vec::new();
    // Not cpuset: a new v1 cpuset takes no task until given cpus and mems,
    // and systemd leaves scopes out of it too.
    for (mount, _) in hierarchies()
        .into_iter()
        .filter(|(m, _)| !m.join("cpuset.cpus").exists())
    {
        let dir = mount.join(&scope);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        procs.push(dir.join("cgroup.procs").to_str().unwrap().to_string());
    }
    let quoted: Vec<String> = procs.iter().map(|p| format!("'{p}'")).collect();
    let script = format!(
        "for f in {}; do echo $$ > \"$f\" || exit 1; done; exec systemd-nspawn -q -D {} -M {name} --register=no --keep-unit /bin/sleep 1000",
        quoted.join(" "),
        rootfs.path()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("systemd-nspawn: {e}"))?;
    let pid = child.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(30);
    let init = loop {
        if let Some(p) = descendants(pid).into_iter().find(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        }) {
            break p;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
            return Err(format!("systemd-nspawn exited ({status}): {}", err.trim()));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("systemd-nspawn started no container in 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    cleanup.push("stop systemd-nspawn", move || {
        // SAFETY: signalling our own child; nspawn stops its container.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    });
    Ok(init)
}

/// A cgroup that looks like docker's cgroupfs layout (`…/docker/<64 hex>`)
/// on the cgroup v1 hierarchy nstrace follows and nowhere on cgroup2: what
/// a v1-only host shows. Removed on drop.
pub struct V1OnlyCgroup {
    pub id: String,
    pub procs: PathBuf,
    top: PathBuf,
}

impl V1OnlyCgroup {
    pub fn new() -> Result<V1OnlyCgroup, String> {
        let followed = tracer::container::Hierarchies::detect();
        let Some((ctl, mount)) = followed.v1 else {
            return Err("no cgroup v1 controller hierarchy is mounted".into());
        };
        if mount.root != "/" {
            return Err(format!(
                "the {ctl} hierarchy is mounted from {}, not its root",
                mount.root
            ));
        }
        let id = format!("{:0>64x}", 0x5eed_0000_u64 + u64::from(std::process::id()));
        let top = mount
            .mount_point
            .join(format!("nstrace-v1-{}", std::process::id()));
        let dir = top.join("docker").join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(V1OnlyCgroup {
            id,
            procs: dir.join("cgroup.procs"),
            top,
        })
    }
}

impl Drop for V1OnlyCgroup {
    fn drop(&mut self) {
        remove_cgroup_tree(&self.top);
    }
}
