//! The background resolver: a worker thread that turns cgroup ids into
//! containers, lists named nets and finds containers' inits, and a cache
//! the event loop reads without waiting on any file.
//!
//! Every question is answered from the cache at once, as [`Answer::Known`],
//! or queued for the worker and answered [`Answer::Pending`] until it is
//! done. A cgroup id is resolved once: ids are 64-bit and never reused.
//! "Not a container" is re-checked in the background after
//! [`NEGATIVE_TTL`] (a runc container's state is written just after its
//! namespaces are made), and the old answer stands meanwhile, so a busy
//! cgroup never stalls the stream. The cache holds at most [`CACHE_CAP`]
//! cgroups; the oldest go first. A process's container (for a clone
//! child, which a runtime may move into the container's cgroup after its
//! parent cloned it) is read live and kept [`PID_TTL`], since pids are
//! reused.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::handoff::Handoff;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cgroup_dir::{CgroupDirs, Hierarchy};
use super::identify::Identifier;
use super::init::{self, Init, Wanted};
use super::netns::{self, NetNames};
use super::process::ProcessContainers;
use super::state::Meta;
use crate::decode::Clock;
use crate::schema::Container;

/// How long "not a container" stands before it is checked again.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(2);
/// Cgroups remembered at most.
pub const CACHE_CAP: usize = 16_384;
/// How long to wait for a container's init to exec its command: until
/// then it still has the runtime helper's name. docker runs `runc create`,
/// sets up the network, then `runc start`: on a loaded host that took more
/// than 800 ms. Just under the stage's hold for an init (1.5 s), so the
/// answer comes before the record must go.
pub const INIT_SETTLE: Duration = Duration::from_millis(1300);
/// How often unsettled inits are looked for again.
const INIT_RETRY: Duration = Duration::from_millis(50);
/// A named net whose owner no runtime named is searched for again after
/// this long (its runtime may not have written its state yet).
const OWNER_RETRY: Duration = Duration::from_millis(200);
/// Init questions remembered at most.
const INIT_CAP: usize = 4096;
/// How long a process's container is taken as known.
pub const PID_TTL: Duration = Duration::from_secs(2);
/// Process questions remembered at most.
const PID_CAP: usize = 4096;

/// An answer from the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer<T> {
    /// The worker has not answered yet.
    Pending,
    Known(T),
}

/// A net bound by name, and the container its runtime says it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedNet {
    pub path: String,
    pub owner: Option<Arc<Container>>,
    /// CLOCK_BOOTTIME when the listing that saw it ended: the name belongs
    /// to the lifetime of the net's inode number at that time.
    pub listed_ns: u64,
}

/// The questions the enrichment stage asks; the resolver answers them, and
/// tests answer them by hand.
pub trait Resolve {
    /// The container of cgroup `id` on hierarchy `h` (`None`: not one).
    fn container(&self, h: Hierarchy, id: u64) -> Answer<Option<Arc<Container>>>;
    /// Asks for a fresh listing of named nets; a net answer with the token
    /// returned reflects a listing made after this call.
    fn net_refresh(&self) -> u64;
    /// The name of net `inum` as of listing `token` (`None`: unnamed).
    fn net(&self, inum: u32, token: u64) -> Answer<Option<NamedNet>>;
    /// The init of a namespace a runtime helper made.
    fn init(&self, w: Wanted) -> Answer<Option<Init>>;
    /// The container process `pid` is in now.
    fn process(&self, pid: u32) -> Answer<Option<Arc<Container>>>;
    /// Asks for another search for the owner of the named net at `path`.
    fn want_owner(&self, path: &str);
}

struct CgroupSlot {
    value: Option<Option<Arc<Container>>>,
    checked: Instant,
    queued: bool,
}

struct InitSlot {
    asked: Instant,
    done: Option<Option<Init>>,
}

struct PidSlot {
    asked: Instant,
    value: Option<Option<Arc<Container>>>,
}

#[derive(Default)]
struct State {
    cgroups: HashMap<(Hierarchy, u64), CgroupSlot>,
    order: VecDeque<(Hierarchy, u64)>,
    queue: VecDeque<(Hierarchy, u64)>,
    inits: HashMap<Wanted, InitSlot>,
    init_order: VecDeque<Wanted>,
    pids: HashMap<u32, PidSlot>,
    pid_queue: Vec<u32>,
    nets: HashMap<u32, String>,
    nets_listed_ns: u64,
    /// Canonical net path → the container its runtime put there.
    owners: HashMap<String, Arc<Container>>,
    owner_tried: HashMap<String, Instant>,
    /// Named nets whose owner a held record still waits for.
    owner_wanted: HashSet<String>,
    net_done: u64,
    net_wanted: u64,
    stop: bool,
}

impl State {
    fn pending_inits(&self) -> Vec<Wanted> {
        self.inits
            .iter()
            .filter(|(_, s)| s.done.is_none())
            .map(|(w, _)| *w)
            .collect()
    }

    fn has_work(&self) -> bool {
        !self.queue.is_empty()
            || !self.pid_queue.is_empty()
            || self.net_wanted > self.net_done
            || self.inits.values().any(|s| s.done.is_none())
    }

    /// Work that waits for time to pass rather than for a question.
    fn has_retries(&self) -> bool {
        !self.owner_wanted.is_empty() || self.inits.values().any(|s| s.done.is_none())
    }
}

type Shared = Handoff<State>;

/// See the module docs. Dropping it stops the worker.
pub struct ContainerResolver {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

impl ContainerResolver {
    /// Starts the worker on this host's runtimes, mounts and named nets.
    pub fn start() -> ContainerResolver {
        ContainerResolver::start_with(Identifier::host(), NetNames::host())
    }

    pub fn start_with(ident: Identifier, names: NetNames) -> ContainerResolver {
        let shared = Arc::new(Shared::new(State {
            // The first listing of named nets, for records that do not
            // ask for a fresh one.
            net_wanted: 1,
            ..State::default()
        }));
        let worker = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("nstrace-containers".into())
                .spawn(move || work(&shared, &ident, &names))
                .map_err(|e| log::warn!("containers will not be named: starting the resolver: {e}"))
                .ok()
        };
        ContainerResolver { shared, worker }
    }

    /// The container of cgroup2 id `cgroup_id`, if already known; a miss
    /// is queued and answered later.
    pub fn lookup(&self, cgroup_id: u64) -> Option<Arc<Container>> {
        match self.container(Hierarchy::V2, cgroup_id) {
            Answer::Known(c) => c,
            Answer::Pending => None,
        }
    }
}

impl Drop for ContainerResolver {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Resolve for ContainerResolver {
    fn container(&self, h: Hierarchy, id: u64) -> Answer<Option<Arc<Container>>> {
        let key = (h, id);
        let mut st = self.shared.lock();
        let answer = match st.cgroups.get_mut(&key) {
            Some(slot) => {
                let stale =
                    matches!(slot.value, Some(None)) && slot.checked.elapsed() > NEGATIVE_TTL;
                let answer = match &slot.value {
                    Some(v) => Answer::Known(v.clone()),
                    None => Answer::Pending,
                };
                if stale && !slot.queued {
                    slot.queued = true;
                    st.queue.push_back(key);
                    self.shared.wake.notify_one();
                }
                answer
            }
            None => {
                st.cgroups.insert(
                    key,
                    CgroupSlot {
                        value: None,
                        checked: Instant::now(),
                        queued: true,
                    },
                );
                st.order.push_back(key);
                st.queue.push_back(key);
                while st.order.len() > CACHE_CAP {
                    if let Some(old) = st.order.pop_front() {
                        st.cgroups.remove(&old);
                    }
                }
                self.shared.wake.notify_one();
                Answer::Pending
            }
        };
        answer
    }

    fn net_refresh(&self) -> u64 {
        let mut st = self.shared.lock();
        st.net_wanted = st.net_wanted.max(st.net_done + 1);
        self.shared.wake.notify_one();
        st.net_wanted
    }

    fn net(&self, inum: u32, token: u64) -> Answer<Option<NamedNet>> {
        let st = self.shared.lock();
        if st.net_done < token {
            return Answer::Pending;
        }
        Answer::Known(st.nets.get(&inum).map(|path| NamedNet {
            path: path.clone(),
            owner: st.owners.get(path).cloned(),
            listed_ns: st.nets_listed_ns,
        }))
    }

    fn process(&self, pid: u32) -> Answer<Option<Arc<Container>>> {
        let mut st = self.shared.lock();
        if let Some(slot) = st.pids.get(&pid) {
            if slot.asked.elapsed() < PID_TTL {
                return match &slot.value {
                    Some(v) => Answer::Known(v.clone()),
                    None => Answer::Pending,
                };
            }
        }
        if st.pids.len() >= PID_CAP {
            st.pids.retain(|_, s| s.asked.elapsed() < PID_TTL);
        }
        st.pids.insert(
            pid,
            PidSlot {
                asked: Instant::now(),
                value: None,
            },
        );
        st.pid_queue.push(pid);
        self.shared.wake.notify_one();
        Answer::Pending
    }

    fn want_owner(&self, path: &str) {
        let mut st = self.shared.lock();
        if !st.owners.contains_key(path) && st.owner_wanted.insert(path.to_string()) {
            self.shared.wake.notify_one();
        }
    }

    fn init(&self, w: Wanted) -> Answer<Option<Init>> {
        let mut st = self.shared.lock();
        if let Some(slot) = st.inits.get(&w) {
            return match &slot.done {
                Some(v) => Answer::Known(v.clone()),
                None => Answer::Pending,
            };
        }
        st.inits.insert(
            w,
            InitSlot {
                asked: Instant::now(),
                done: None,
            },
        );
        st.init_order.push_back(w);
        while st.init_order.len() > INIT_CAP {
            if let Some(old) = st.init_order.pop_front() {
                st.inits.remove(&old);
            }
        }
        self.shared.wake.notify_one();
        Answer::Pending
    }
}

/// The worker: waits for questions, answers them with file I/O done
/// outside the lock, and stores the answers.
fn work(shared: &Shared, ident: &Identifier, names: &NetNames) {
    let mut dirs = CgroupDirs::open(&ident.hierarchies);
    let mut processes = ProcessContainers::new(ident.clone());
    loop {
        let (jobs, pids, net_target, inits, owners_wanted) = {
            let mut st = shared.lock();
            while !st.stop && !st.has_work() && !st.has_retries() {
                st = shared.wait(st);
            }
            if st.stop {
                return;
            }
            let jobs: Vec<_> = st.queue.drain(..).collect();
            let pids = std::mem::take(&mut st.pid_queue);
            let net = (st.net_wanted > st.net_done).then_some(st.net_wanted);
            let owners: Vec<String> = st.owner_wanted.drain().collect();
            (jobs, pids, net, st.pending_inits(), owners)
        };

        let resolved: Vec<_> = jobs
            .iter()
            .map(|&(h, id)| {
                let meta = dirs.path(h, id).and_then(|p| ident.identify(h, &p));
                ((h, id), meta)
            })
            .collect();
        let of_pids: Vec<_> = pids
            .iter()
            .map(|&pid| (pid, processes.of_pid(pid)))
            .collect();
        // A process's cgroup can move; each round asks afresh.
        processes = ProcessContainers::new(ident.clone());
        let listing = net_target.map(|t| (t, names.scan(), Clock::boot_ns()));
        let mut searched = search_owners(shared, ident, owners_wanted);
        if let Some((_, nets, _)) = &listing {
            let named: Vec<String> = nets
                .values()
                .filter(|p| netns::runtime_named(p))
                .cloned()
                .collect();
            searched.extend(search_owners(shared, ident, named));
        }
        let found = if inits.is_empty() {
            HashMap::new()
        } else {
            init::find(&inits)
        };

        let retry = {
            let mut st = shared.lock();
            for (key, meta) in resolved {
                store_cgroup(&mut st, key, meta);
            }
            for (pid, c) in of_pids {
                if let Some(slot) = st.pids.get_mut(&pid) {
                    slot.value = Some(c);
                }
            }
            for (path, owner) in searched {
                match owner {
                    Some(c) => {
                        st.owners.insert(path, c);
                    }
                    None => {
                        st.owner_tried.insert(path, Instant::now());
                    }
                }
            }
            if let Some((target, nets, listed_ns)) = listing {
                // Forget what is known of nets no longer bound: their
                // paths can name another net next time.
                let bound: HashSet<&String> = nets.values().collect();
                st.owner_tried.retain(|p, _| bound.contains(p));
                st.owners.retain(|p, _| bound.contains(p));
                st.nets = nets;
                st.nets_listed_ns = listed_ns;
                st.net_done = st.net_done.max(target);
            }
            for w in inits {
                let Some(slot) = st.inits.get_mut(&w) else {
                    continue;
                };
                let init = found.get(&w);
                if init.is_some_and(Init::settled) || slot.asked.elapsed() >= INIT_SETTLE {
                    slot.done = Some(init.cloned());
                }
            }
            st.has_retries()
        };
        if retry {
            // Inits not yet exec'd, owners not yet written: look again
            // shortly, sooner if asked something.
            let st = shared.lock();
            if !st.stop && !st.has_work() {
                drop(shared.wait_for(st, INIT_RETRY));
            }
        }
    }
}

fn store_cgroup(st: &mut State, key: (Hierarchy, u64), meta: Option<Meta>) {
    let container = meta.map(|m| {
        let c = Arc::new(m.container.clone());
        if let Some(path) = netns::owner_key(&m) {
            st.owners.insert(path, Arc::clone(&c));
        }
        c
    });
    let Some(slot) = st.cgroups.get_mut(&key) else {
        // Evicted while resolving: too old to matter.
        return;
    };
    // A container once found stays found; a container's cgroup that the
    // re-check could no longer read (it ended) keeps its name.
    if container.is_some() || !matches!(slot.value, Some(Some(_))) {
        slot.value = Some(container);
    }
    slot.checked = Instant::now();
    slot.queued = false;
}

/// Owners of the named nets at `paths` that have none yet, searched in
/// runtime state; each path at most every [`OWNER_RETRY`].
fn search_owners(
    shared: &Shared,
    ident: &Identifier,
    paths: Vec<String>,
) -> Vec<(String, Option<Arc<Container>>)> {
    let due: Vec<String> = {
        let st = shared.lock();
        paths
            .into_iter()
            .filter(|p| !st.owners.contains_key(p))
            .filter(|p| {
                st.owner_tried
                    .get(p)
                    .is_none_or(|t| t.elapsed() >= OWNER_RETRY)
            })
            .collect()
    };
    due.into_iter()
        .map(|path| {
            let owner = netns::find_owner(&ident.roots, &path).map(|m| Arc::new(m.container));
            (path, owner)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::cgroupfs::Hierarchies;
    use crate::container::state::Roots;

    fn wait_known<T>(mut f: impl FnMut() -> Answer<T>) -> T {
        for _ in 0..200 {
            if let Answer::Known(v) = f() {
                return v;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the resolver never answered");
    }

    /// Our own cgroup is no container; an id that names no cgroup is
    /// answered "none" too, and both answers are cached.
    #[test]
    fn answers_from_the_worker_then_from_the_cache() {
        let base = std::env::temp_dir().join(format!("nstrace-resolver-{}", std::process::id()));
        let r = ContainerResolver::start_with(
            Identifier {
                roots: Roots::under(&base),
                hierarchies: Hierarchies::detect(),
            },
            NetNames::host(),
        );
        assert_eq!(r.container(Hierarchy::V2, u64::MAX - 3), Answer::Pending);
        assert_eq!(
            wait_known(|| r.container(Hierarchy::V2, u64::MAX - 3)),
            None
        );
        assert_eq!(
            r.container(Hierarchy::V2, u64::MAX - 3),
            Answer::Known(None)
        );
        assert_eq!(r.lookup(u64::MAX - 3), None);
        // The first listing of named nets is made unasked.
        let token = r.net_refresh();
        assert_eq!(wait_known(|| r.net(1, token)), None);
        drop(r);
    }
}
