//! Scenarios of issue 10, shared by the host tests (tracepoints) and the VM
//! tests (fentry, kprobe): a net number reused while the older net's death
//! is still to come, nets kept by a bind mount and then unmounted, and a
//! storm of nets. Each checks what the log says against what the test did.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use serde_json::Value;
use tracer_common::NsType;

use super::*;

/// CLOCK_BOOTTIME now, in ns: the clock of `mono_ns`.
pub fn boot_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn mono(v: &Value) -> u64 {
    v["mono_ns"].as_u64().unwrap()
}

fn gen(v: &Value) -> u64 {
    v["gen"].as_u64().unwrap_or_else(|| panic!("no gen: {v}"))
}

/// A net made by a child that then exits: its birth record and the
/// CLOCK_BOOTTIME after the child was reaped.
fn short_net(tr: &mut Tracer) -> (Value, u64) {
    let child = spawn(Make::Fork, unshare(NsType::Net.clone_flag()));
    let inum = readlink_inum(child.pid, "net");
    let pid = child.pid;
    drop(child);
    let gone = boot_ns();
    let birth = tr.expect(&format!("birth of net:[{inum}]"), |v| {
        is(v, "birth", NsType::Net, inum) && v["pid"] == pid
    });
    (birth, gone)
}

/// Its death record, checked against the truth: after the last task was
/// gone, and at most `slack` later than that.
fn death_of(tr: &mut Tracer, birth: &Value, gone: u64, slack: Duration) -> Value {
    let inum = birth["inum"].as_u64().unwrap() as u32;
    let d = tr.expect(&format!("death of net:[{inum}] gen {}", gen(birth)), |v| {
        is(v, "death", NsType::Net, inum) && v["gen"] == birth["gen"]
    });
    assert!(
        d.get("end").is_none(),
        "the kernel's own death expected: {d}"
    );
    let held = gone - mono(birth);
    let lifetime = d["lifetime_ns"]
        .as_u64()
        .unwrap_or_else(|| panic!("no lifetime: {d}"));
    assert!(
        lifetime >= held && lifetime <= held + slack.as_nanos() as u64,
        "lifetime {lifetime} ns, but the net was held {held} ns and freed within {slack:?} \
         after: {d}"
    );
    d
}

/// Issue 10's reproduction: A dies, B takes A's number and lives, C dies.
/// A and C get their deaths with lifetimes within 1 s of the truth; B gets
/// none while alive, and its own (gen + 1) once it dies. The kernel hands
/// out the lowest free number, so B usually gets A's; others may take it in
/// between, so this tries a few times.
pub fn a_b_c_reuse(tr: &mut Tracer) {
    for _ in 0..10 {
        let (a, a_gone) = short_net(tr);
        let na = a["inum"].as_u64().unwrap() as u32;
        // A's number is free once its death is in (the release is in the
        // cleanup run that reports it).
        death_of(tr, &a, a_gone, Duration::from_secs(1));
        let b = spawn(Make::Fork, unshare(NsType::Net.clone_flag()));
        if readlink_inum(b.pid, "net") != na {
            continue;
        }
        let b_birth = tr.expect("birth of B on A's number", |v| {
            is(v, "birth", NsType::Net, na) && v["pid"] == b.pid
        });
        assert_eq!(gen(&b_birth), gen(&a) + 1, "{b_birth}");
        let (c, c_gone) = short_net(tr);
        death_of(tr, &c, c_gone, Duration::from_secs(1));
        // B is still alive: no record may end it.
        let ends_b = tr.all(Duration::from_millis(500), |v| {
            is(v, "death", NsType::Net, na) && v["gen"] == b_birth["gen"]
        });
        assert!(ends_b.is_empty(), "B is alive but: {ends_b:?}");
        assert_eq!(readlink_inum(b.pid, "net"), na, "B still has the number");
        drop(b);
        let b_gone = boot_ns();
        death_of(tr, &b_birth, b_gone, Duration::from_secs(1));
        let deaths_a: Vec<Value> = tr.all(Duration::ZERO, |v| {
            is(v, "death", NsType::Net, na) && v["gen"] == a["gen"]
        });
        assert_eq!(deaths_a.len(), 1, "one death for A: {deaths_a:?}");
        return;
    }
    panic!("no net took a freed net's number in ten tries");
}

/// A net kept only by a bind mount of its nsfs file at `target` (as `ip
/// netns add` and `unshare --net=FILE` do), then unmounted: it dies, and
/// no linger names it after the umount. `grace` is the tracer's
/// `--linger-grace`: the umount comes well before it ends, and the test
/// waits until it has passed.
pub fn bind_mounted_net_unmounted(tr: &mut Tracer, target: &str, grace: Duration) {
    std::fs::write(target, b"").unwrap();
    let child = spawn(Make::Fork, unshare(NsType::Net.clone_flag()));
    let inum = readlink_inum(child.pid, "net");
    let dst = bind_mount(&format!("/proc/{}/ns/net", child.pid), target);
    let birth = tr.expect("birth of the bound net", |v| {
        is(v, "birth", NsType::Net, inum) && v["pid"] == child.pid
    });
    drop(child);
    std::thread::sleep(grace / 4);
    // Taken before: the last reference may go, and the cleanup run finish,
    // before umount2 returns to this thread.
    let unmounted = boot_ns();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::umount2(dst.as_ptr(), libc::MNT_DETACH) }, 0);
    let _ = std::fs::remove_file(target);
    let d = tr.expect("death after umount", |v| {
        is(v, "death", NsType::Net, inum) && v["gen"] == birth["gen"]
    });
    assert!(
        mono(&d) >= unmounted,
        "died before the umount at {unmounted} ({target}): {d}"
    );
    assert!(d.get("end").is_none(), "{d}");
    // Past the linger deadline of its last task, plus time for a poll.
    let until = Instant::now() + grace + Duration::from_secs(2);
    let lingers = tr.all(until - Instant::now(), |v| {
        is(v, "linger", NsType::Net, inum) && v["gen"] == birth["gen"]
    });
    assert!(
        lingers.iter().all(|l| mono(l) < unmounted),
        "a linger after the umount, for a net that is gone: {lingers:?}"
    );
}

/// [`bind_mounted_net_unmounted`] as `ip netns add` then `ip netns del` do
/// (under /run/netns), and as `unshare --net=FILE true` then `umount FILE`
/// do.
pub fn ip_netns_and_net_file(tr: &mut Tracer, grace: Duration) {
    std::fs::create_dir_all("/run/netns").unwrap();
    let ip = format!("/run/netns/nstrace-test-{}", std::process::id());
    bind_mounted_net_unmounted(tr, &ip, grace);
    let file = format!("/tmp/nstrace-bound-net-{}", std::process::id());
    bind_mounted_net_unmounted(tr, &file, grace);
}

/// Every `lost` record so far, for a failure message: the ring's losses
/// and the runs of each program the kernel skipped (a birth or death
/// missing from a storm is explained there, or nowhere), with the
/// tracer's stderr (which says when this kernel cannot count skips).
fn losses(tr: &Tracer) -> String {
    let lost: Vec<String> = tr
        .seen()
        .iter()
        .filter(|v| v["event"] == "lost")
        .map(|v| match v.get("program") {
            Some(p) => format!(
                "{} runs of {} skipped by the kernel",
                v["count"],
                p.as_str().unwrap_or("?")
            ),
            None => format!("{} records lost in the ring", v["count"]),
        })
        .collect();
    format!(
        "losses: {}\nnstrace stderr:\n{}",
        if lost.is_empty() {
            "none reported (no ring loss, no skipped program run)".to_string()
        } else {
            lost.join(", ")
        },
        tr.stderr()
    )
}

/// A storm whose records were not all seen (the ring lost some, or the
/// kernel skipped a run of one of our programs, as kprobes do when another
/// kprobe program is running on the CPU) proves nothing either way: the
/// loss is reported, so it is not silent, but the check needs every record.
/// Such a storm is run again, up to three times; a storm without a loss
/// must be exact.
pub fn net_storm(tr: &mut Tracer, n: usize) {
    const TRIES: usize = 3;
    for attempt in 1..=TRIES {
        match net_storm_once(tr, n) {
            Ok(()) => return,
            Err(void) => eprintln!("storm {attempt} of {TRIES} is void: {void}"),
        }
    }
    panic!(
        "{TRIES} storms in a row lost records, none could be checked; {}",
        losses(tr)
    );
}

/// A child makes `n` nets one after the other (each unshare drops the one
/// before), then exits. Every birth must end in exactly one death (the
/// kernel's, or an explicit `end: reused`), no death may name a lifetime
/// that was never opened, and no linger may name one of these nets: nothing
/// held them but the child. `Err` when a loss since the storm began voids
/// the check.
fn net_storm_once(tr: &mut Tracer, n: usize) -> Result<(), String> {
    let start = boot_ns();
    let child = spawn(Make::Fork, move || {
        for _ in 0..n {
            // SAFETY: a plain syscall.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return errno();
            }
        }
        0
    });
    let pid = child.pid;
    drop(child);
    let born = |v: &Value| v["event"] == "birth" && v["type"] == "net" && v["pid"] == pid;
    let key = |v: &Value| (v["inum"].as_u64().unwrap(), gen(v));
    let since = |v: &Value| v["mono_ns"].as_u64().is_some_and(|t| t >= start);
    let lost_since = |tr: &mut Tracer| {
        tr.all(Duration::ZERO, |v| v["event"] == "lost" && since(v))
            .len()
    };
    // Wait until every birth has an end, or a minute passes in which no
    // new end came.
    let mut seen_ends = 0;
    let mut quiet_since = Instant::now();
    loop {
        let births: BTreeSet<(u64, u64)> = tr.all(Duration::ZERO, born).iter().map(key).collect();
        let ended = tr
            .all(Duration::from_secs(1), |v| {
                v["event"] == "death" && v["type"] == "net" && v.get("gen").is_some()
            })
            .iter()
            .map(key)
            .filter(|k| births.contains(k))
            .count();
        if births.len() == n && ended >= n {
            break;
        }
        if ended > seen_ends {
            seen_ends = ended;
            quiet_since = Instant::now();
        }
        if quiet_since.elapsed() >= Duration::from_secs(20) && lost_since(tr) > 0 {
            return Err(format!(
                "{ended} of {} births ended ({n} unshares); {}",
                births.len(),
                losses(tr)
            ));
        }
        assert!(
            quiet_since.elapsed() < Duration::from_secs(60),
            "{ended} of {} births ended ({n} unshares), none for a minute; {}",
            births.len(),
            losses(tr)
        );
    }
    if lost_since(tr) > 0 {
        return Err(losses(tr));
    }
    let births: Vec<Value> = tr.all(Duration::ZERO, born);
    assert_eq!(births.len(), n, "one birth per unshare; {}", losses(tr));
    let mut ends: BTreeMap<(u64, u64), Vec<Value>> = BTreeMap::new();
    for d in tr.all(Duration::ZERO, |v| {
        v["event"] == "death" && v["type"] == "net" && since(v)
    }) {
        match d.get("gen") {
            Some(_) => ends.entry(key(&d)).or_default().push(d),
            None => panic!("a net death charged to no lifetime during the storm: {d}"),
        }
    }
    let opened: BTreeSet<(u64, u64)> = tr
        .all(Duration::ZERO, |v| {
            ["birth", "present", "join", "put"].contains(&v["event"].as_str().unwrap_or(""))
                && v["type"] == "net"
        })
        .iter()
        .map(key)
        .collect();
    for (k, ds) in &ends {
        assert!(
            opened.contains(k) || ds.iter().all(|d| d.get("lifetime_ns").is_none()),
            "a death of net {k:?}, a lifetime that was never opened: {ds:?}"
        );
    }
    for b in &births {
        let ds = ends.get(&key(b)).map_or(&[][..], Vec::as_slice);
        assert_eq!(ds.len(), 1, "birth {b}\nends: {ds:?}\n{}", losses(tr));
    }
    let storm: BTreeSet<(u64, u64)> = births.iter().map(key).collect();
    let lingers = tr.all(Duration::ZERO, |v| {
        v["event"] == "linger" && v["type"] == "net" && storm.contains(&key(v))
    });
    assert!(
        lingers.is_empty(),
        "lingers for nets only the storm's task held: {lingers:?}"
    );
    Ok(())
}
