//! The enrichment stage: puts `container`, `net_name` and `init_pid` on
//! records on their way out, in order, without ever waiting on I/O.
//!
//! A record whose answers are cached goes straight through. One that needs
//! an answer the worker has not given yet (the first record from a new
//! container, a net born a moment ago, a runtime helper's birth) is held,
//! and so is everything behind it, so the output stays in time order; it
//! leaves as soon as its answers are in, or when it has waited
//! [`StageConfig::wait_ns`] ([`StageConfig::init_wait_ns`] for an init,
//! plus [`StageConfig::settle_ns`] for a net), or when more than
//! [`StageConfig::max_held`] records wait, whichever is first, with
//! whatever is known by then. The worker answers in about a millisecond;
//! the bounds are for a machine so loaded that it does not run for a while.
//!
//! The container of a record is, in order: the container of its creator's
//! cgroup (unified, then the v1 hierarchy); for a birth by clone, the
//! container its child is in now (crun and podman clone the container's
//! init from a process outside it, then move the child into its cgroup);
//! for a net, the container its runtime says the named net belongs to.
//!
//! A named net's name is only put on a record about the same lifetime:
//! inode numbers are reused at once, so a name listed at time L is kept
//! off a record at time t if a birth of that number lies in (t, L]. Such a
//! birth has reached the stage once the engine's reorder window has passed
//! L, so a net record waits [`StageConfig::settle_ns`] past its listing.
//! Names runtimes give (`cni-…`, podman's `netns-…`, docker's sandboxes)
//! also wait for the runtime to write down their owner, within the bounds.
//!
//! Why hold rather than write the record now and a follow-up later: a
//! birth that names its container is what every reader of the log wants
//! (`report`, `jq 'select(.container.name=="web-1")'`), and joining a
//! follow-up record back to its birth is work every reader would have to
//! redo. The worker answers in about a millisecond, and records have
//! already waited 100 ms in the engine's reorder window, so holding costs
//! at most one drain tick of latency, bounded by time and count; nothing
//! is dropped or reordered.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;

use tracer_common::{NsType, Via};

use super::cgroup_dir::Hierarchy;
use super::init::{is_runtime_helper, Init, Wanted};
use super::netns::runtime_named;
use super::resolver::{Answer, ContainerResolver, NamedNet, Resolve};
use crate::pipeline::Hold;
use crate::schema::{Container, Record, RecordKind};

/// How long and how much the stage holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageConfig {
    /// Longest wait for a container or a net's name, in ns.
    pub wait_ns: u64,
    /// Longest wait for a helper-made namespace's init, in ns.
    pub init_wait_ns: u64,
    /// Records held at most; past it the oldest go out as they are.
    pub max_held: usize,
    /// How long after a listing of named nets every record up to it has
    /// surely reached the stage: the engine's reorder window plus a drain
    /// tick.
    pub settle_ns: u64,
}

impl Default for StageConfig {
    fn default() -> Self {
        StageConfig {
            wait_ns: 1_000_000_000,
            init_wait_ns: 1_500_000_000,
            max_held: 10_000,
            settle_ns: 250_000_000,
        }
    }
}

/// What a held record waits for.
#[derive(Clone, Copy, Debug, Default)]
struct Needs {
    v2: Option<u64>,
    v1: Option<u64>,
    /// The clone child, whose cgroup may be the container's.
    child: Option<u32>,
    /// Net inum and the listing it needs.
    net: Option<(u32, u64)>,
    init: Option<Wanted>,
}

struct Held {
    rec: Record,
    since_ns: u64,
    needs: Needs,
}

/// See the module docs.
pub struct ContainerStage<R: Resolve = ContainerResolver> {
    resolver: R,
    held: VecDeque<Held>,
    config: StageConfig,
    /// The last cgroup answered within this pass, per hierarchy (a record
    /// may ask both): a group of records mostly comes from one cgroup, and
    /// asking the resolver takes its lock, a lookup and a clock read.
    /// Emptied at each pass, so an answer is never older than its group.
    last: RefCell<[Option<CgroupAnswer>; 2]>,
}

type CgroupAnswer = (u64, Answer<Option<Arc<Container>>>);

impl ContainerStage<ContainerResolver> {
    /// The stage with a resolver on this host.
    pub fn start() -> ContainerStage<ContainerResolver> {
        ContainerStage::new(ContainerResolver::start(), StageConfig::default())
    }
}

impl<R: Resolve> ContainerStage<R> {
    pub fn new(resolver: R, config: StageConfig) -> ContainerStage<R> {
        ContainerStage {
            resolver,
            held: VecDeque::new(),
            config,
            last: RefCell::new([None, None]),
        }
    }

    /// The resolver's answer for cgroup `id`, or the one given for it
    /// earlier in this pass.
    fn container(&self, h: Hierarchy, id: u64) -> Answer<Option<Arc<Container>>> {
        let mut last = self.last.borrow_mut();
        let slot = &mut last[usize::from(h == Hierarchy::V1)];
        match slot {
            Some((known, answer)) if *known == id => answer.clone(),
            _ => {
                let answer = self.resolver.container(h, id);
                if let Answer::Known(_) = answer {
                    *slot = Some((id, answer.clone()));
                }
                answer
            }
        }
    }

    /// Asks the resolver what `rec` needs.
    fn ask(&self, rec: &Record) -> Needs {
        let mut n = Needs {
            v2: rec.cgroup_id,
            v1: rec.cgroup1_id,
            child: rec.child_pid.filter(|_| rec.event == RecordKind::Birth),
            ..Needs::default()
        };
        if let (Some(NsType::Net), Some(inum)) = (rec.ns_type, rec.inum) {
            // A net made or entered now may be bound by name a moment
            // later (ip netns add unshares, then bind-mounts): such records
            // wait for a listing made after they arrived. Others use the
            // latest.
            let token = if matches!(rec.event, RecordKind::Birth | RecordKind::Join) {
                self.resolver.net_refresh()
            } else {
                1
            };
            n.net = Some((inum, token));
        }
        if rec.event == RecordKind::Birth && rec.via == Some(Via::Unshare) {
            if let (Some(t), Some(inum), Some(pid), Some(comm)) =
                (rec.ns_type, rec.inum, rec.pid, rec.comm.as_deref())
            {
                if is_runtime_helper(comm) {
                    n.init = Some(Wanted {
                        ns_type: t,
                        inum,
                        creator: pid,
                    });
                }
            }
        }
        n
    }

    fn release(&mut self, now_ns: u64, force: bool, out: &mut Vec<Record>) {
        while let Some(front) = self.held.front() {
            let mut wait = if front.needs.init.is_some() {
                self.config.init_wait_ns
            } else {
                self.config.wait_ns
            };
            if front.needs.net.is_some() {
                // Room for a listing that came late to settle.
                wait += self.config.settle_ns;
            }
            let due = force
                || now_ns.saturating_sub(front.since_ns) >= wait
                || self.held.len() > self.config.max_held;
            let answers = self.answers(&front.needs, now_ns);
            if !(due || answers.complete) {
                break;
            }
            let mut held = self.held.pop_front().expect("front exists");
            let later = self.held.iter().map(|h| &h.rec);
            let name_ok = self.name_ok(&answers, &held.rec, later, now_ns);
            answers.fill(&mut held.rec, name_ok);
            out.push(held.rec);
        }
    }

    /// Whether the net name in `answers` may go on `rec`: its listing has
    /// settled, and no birth of `rec`'s number among the `later` records,
    /// after `rec` and no later than the listing, took the name for a
    /// newer net.
    fn name_ok<'a>(
        &self,
        answers: &Answers,
        rec: &Record,
        mut later: impl Iterator<Item = &'a Record>,
        now_ns: u64,
    ) -> bool {
        answers.net_listed_ns().is_some_and(|listed| {
            now_ns >= listed.saturating_add(self.config.settle_ns)
                && !later.any(|h| {
                    h.event == RecordKind::Birth
                        && h.ns_type == rec.ns_type
                        && h.inum == rec.inum
                        && h.mono_ns > rec.mono_ns
                        && h.mono_ns <= listed
                })
        })
    }

    fn answers(&self, n: &Needs, now_ns: u64) -> Answers {
        let r = &self.resolver;
        let v2 = n.v2.map(|id| self.container(Hierarchy::V2, id));
        // The v1 hierarchy is asked only when the unified one names no
        // container (a v1-only host, where every cgroup2 id is the root's),
        // and the clone child only when neither does.
        let v1 = match &v2 {
            Some(Answer::Known(Some(_))) => None,
            _ => n.v1.map(|id| self.container(Hierarchy::V1, id)),
        };
        let by_cgroup = matches!(v2, Some(Answer::Known(Some(_))))
            || matches!(v1, Some(Answer::Known(Some(_))));
        let child = if by_cgroup {
            None
        } else {
            n.child.map(|pid| r.process(pid))
        };
        let net = n.net.map(|(inum, token)| r.net(inum, token));
        let init = n.init.map(|w| r.init(w));
        let mut net_done = known(&net);
        if let Some(Answer::Known(Some(named))) = &net {
            net_done = now_ns >= named.listed_ns.saturating_add(self.config.settle_ns);
            let has_container = by_cgroup || matches!(child, Some(Answer::Known(Some(_))));
            if named.owner.is_none() && !has_container && runtime_named(&named.path) {
                r.want_owner(&named.path);
                net_done = false;
            }
        }
        let complete = known(&v2) && known(&v1) && known(&child) && known(&init) && net_done;
        Answers {
            v2,
            v1,
            child,
            net,
            init,
            complete,
        }
    }
}

/// The stage in the pipeline: the event loop steps the pipeline every
/// drain tick while records are held, so each leaves within its bound.
impl<R: Resolve> Hold for ContainerStage<R> {
    fn pass(&mut self, records: &mut Vec<Record>, now_ns: u64) {
        self.last.replace([None, None]);
        // Nothing held: records whose answers are all cached are filled
        // where they are, without a move (the common case, and a record is
        // a few hundred bytes).
        let mut ready = 0;
        if self.held.is_empty() {
            while ready < records.len() {
                let answers = self.answers(&self.ask(&records[ready]), now_ns);
                if !answers.complete {
                    break;
                }
                let (rec, later) = records[ready..].split_first_mut().expect("in range");
                let name_ok = self.name_ok(&answers, rec, later.iter(), now_ns);
                answers.fill(rec, name_ok);
                ready += 1;
            }
        }
        for rec in records.drain(ready..) {
            let needs = self.ask(&rec);
            self.held.push_back(Held {
                rec,
                since_ns: now_ns,
                needs,
            });
        }
        self.release(now_ns, false, records)
    }

    /// Appends everything held (the tracer is stopping), after waiting up
    /// to [`StageConfig::wait_ns`] for answers still pending.
    fn finish(&mut self, records: &mut Vec<Record>, now_ns: u64) {
        let start = std::time::Instant::now();
        while !self.held.is_empty() && (start.elapsed().as_nanos() as u64) < self.config.wait_ns {
            self.last.replace([None, None]);
            self.release(now_ns, false, records);
            if !self.held.is_empty() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        self.release(now_ns, true, records)
    }

    fn held(&self) -> usize {
        self.held.len()
    }
}

struct Answers {
    v2: Option<Answer<Option<Arc<Container>>>>,
    v1: Option<Answer<Option<Arc<Container>>>>,
    child: Option<Answer<Option<Arc<Container>>>>,
    net: Option<Answer<Option<NamedNet>>>,
    init: Option<Answer<Option<Init>>>,
    complete: bool,
}

/// Answered, or not asked.
fn known<T>(a: &Option<Answer<T>>) -> bool {
    !matches!(a, Some(Answer::Pending))
}

impl Answers {
    fn net_listed_ns(&self) -> Option<u64> {
        match &self.net {
            Some(Answer::Known(Some(n))) => Some(n.listed_ns),
            _ => None,
        }
    }

    /// Puts what is known on `rec`; the net's name (and owner) only if
    /// `name_ok`.
    fn fill(self, rec: &mut Record, name_ok: bool) {
        let found = |a: Option<Answer<Option<Arc<Container>>>>| match a {
            Some(Answer::Known(Some(c))) => Some(c),
            _ => None,
        };
        let mut container = found(self.v2)
            .or_else(|| found(self.v1))
            .or_else(|| found(self.child));
        if let (Some(Answer::Known(Some(net))), true) = (self.net, name_ok) {
            // The creator's cgroup says more than the runtime's say-so: a
            // net made by podman itself, before its container existed, is
            // named for the container only through the runtime.
            container = container.or(net.owner);
            rec.net_name = Some(net.path);
        }
        if let Some(c) = container {
            rec.container = Some(c);
        }
        if let Some(Answer::Known(Some(init))) = self.init {
            rec.init_pid = Some(init.pid);
            rec.init_comm = Some(init.comm);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use crate::schema::Runtime;

    type Found = Option<Arc<Container>>;

    /// Answers set by hand; unanswered questions are pending.
    #[derive(Default)]
    struct Fake {
        containers: RefCell<HashMap<(Hierarchy, u64), Found>>,
        net_done: RefCell<u64>,
        nets: RefCell<HashMap<u32, NamedNet>>,
        inits: RefCell<HashMap<Wanted, Option<Init>>>,
        pids: RefCell<HashMap<u32, Option<Arc<Container>>>>,
        owner_asks: RefCell<Vec<String>>,
    }

    impl Resolve for &Fake {
        fn container(&self, h: Hierarchy, id: u64) -> Answer<Option<Arc<Container>>> {
            match self.containers.borrow().get(&(h, id)) {
                Some(c) => Answer::Known(c.clone()),
                None => Answer::Pending,
            }
        }
        fn net_refresh(&self) -> u64 {
            *self.net_done.borrow() + 1
        }
        fn net(&self, inum: u32, token: u64) -> Answer<Option<NamedNet>> {
            if *self.net_done.borrow() < token {
                return Answer::Pending;
            }
            Answer::Known(self.nets.borrow().get(&inum).cloned())
        }
        fn init(&self, w: Wanted) -> Answer<Option<Init>> {
            match self.inits.borrow().get(&w) {
                Some(i) => Answer::Known(i.clone()),
                None => Answer::Pending,
            }
        }
        fn process(&self, pid: u32) -> Answer<Option<Arc<Container>>> {
            match self.pids.borrow().get(&pid) {
                Some(c) => Answer::Known(c.clone()),
                None => Answer::Pending,
            }
        }
        fn want_owner(&self, path: &str) {
            self.owner_asks.borrow_mut().push(path.to_string());
        }
    }

    const MS: u64 = 1_000_000;

    fn birth(mono: u64, t: NsType, inum: u32, cgroup: u64) -> Record {
        let mut r = Record::new(RecordKind::Birth, mono, format!("t{mono}"));
        r.ns_type = Some(t);
        r.inum = Some(inum);
        r.pid = Some(100);
        r.comm = Some("sh".into());
        r.via = Some(Via::Clone);
        r.cgroup_id = Some(cgroup);
        r
    }

    fn web() -> Arc<Container> {
        let mut c = Container::new(Runtime::Docker, "a".repeat(64));
        c.name = Some("web-1".into());
        Arc::new(c)
    }

    type Stage<'a> = ContainerStage<&'a Fake>;

    fn push(s: &mut Stage<'_>, r: Record, now_ns: u64) -> Vec<Record> {
        let mut v = vec![r];
        s.pass(&mut v, now_ns);
        v
    }

    fn poll(s: &mut Stage<'_>, now_ns: u64) -> Vec<Record> {
        let mut v = Vec::new();
        s.pass(&mut v, now_ns);
        v
    }

    fn finish(s: &mut Stage<'_>, now_ns: u64) -> Vec<Record> {
        let mut v = Vec::new();
        s.finish(&mut v, now_ns);
        v
    }

    fn monos(v: &[Record]) -> Vec<u64> {
        v.iter().map(|r| r.mono_ns).collect()
    }

    #[test]
    fn known_answers_pass_at_once_and_pending_ones_hold_the_line() {
        let fake = Fake::default();
        fake.containers
            .borrow_mut()
            .insert((Hierarchy::V2, 1), None);
        let mut s = ContainerStage::new(&fake, StageConfig::default());
        // Cgroup 1 is known: straight through, no container.
        let out = push(&mut s, birth(1, NsType::Uts, 10, 1), 0);
        assert_eq!(monos(&out), [1]);
        assert_eq!(out[0].container, None);
        // Cgroup 2 is new: held, and the record after it too.
        assert!(push(&mut s, birth(2, NsType::Uts, 11, 2), 0).is_empty());
        assert!(push(&mut s, birth(3, NsType::Uts, 12, 1), 0).is_empty());
        assert_eq!(s.held(), 2);
        fake.containers
            .borrow_mut()
            .insert((Hierarchy::V2, 2), Some(web()));
        let out = poll(&mut s, 10 * MS);
        assert_eq!(monos(&out), [2, 3]);
        assert_eq!(
            out[0].container.as_ref().unwrap().name.as_deref(),
            Some("web-1")
        );
        assert_eq!(out[1].container, None);
    }

    #[test]
    fn holds_are_bounded_by_time_and_count() {
        let fake = Fake::default();
        let config = StageConfig {
            max_held: 3,
            wait_ns: 500 * MS,
            ..StageConfig::default()
        };
        let mut s = ContainerStage::new(&fake, config);
        assert!(push(&mut s, birth(1, NsType::Uts, 10, 7), 0).is_empty());
        assert!(poll(&mut s, 499 * MS).is_empty());
        // Unanswered after the wait: out without a container.
        let out = poll(&mut s, 500 * MS);
        assert_eq!(monos(&out), [1]);
        assert_eq!(out[0].container, None);
        for m in 2..=4 {
            assert!(push(&mut s, birth(m, NsType::Uts, 10, 7), 600 * MS).is_empty());
        }
        // The fourth held one pushes the oldest out.
        assert_eq!(
            monos(&push(&mut s, birth(5, NsType::Uts, 10, 7), 600 * MS)),
            [2]
        );
        assert_eq!(monos(&finish(&mut s, 600 * MS)), [3, 4, 5]);
        assert_eq!(s.held(), 0);
    }

    #[test]
    fn v1_answers_when_unified_knows_nothing() {
        let fake = Fake::default();
        fake.containers
            .borrow_mut()
            .insert((Hierarchy::V2, 1), None);
        let mut s = ContainerStage::new(&fake, StageConfig::default());
        let mut r = birth(1, NsType::Pid, 10, 1);
        r.cgroup1_id = Some(99);
        assert!(push(&mut s, r, 0).is_empty());
        fake.containers
            .borrow_mut()
            .insert((Hierarchy::V1, 99), Some(web()));
        let out = poll(&mut s, MS);
        assert_eq!(out[0].container.as_ref().unwrap().id, "a".repeat(64));
    }

    fn named(path: &str, owner: Option<Arc<Container>>, listed_ns: u64) -> NamedNet {
        NamedNet {
            path: path.into(),
            owner,
            listed_ns,
        }
    }

    #[test]
    fn named_nets_wait_for_a_fresh_settled_listing_and_name_their_owner() {
        let fake = Fake::default();
        fake.containers
            .borrow_mut()
            .insert((Hierarchy::V2, 1), None);
        let mut s = ContainerStage::new(&fake, StageConfig::default());
        let mut r = birth(1, NsType::Net, 4026532248, 1);
        r.comm = Some("podman".into());
        r.via = Some(Via::Unshare);
        assert!(push(&mut s, r, 0).is_empty());
        fake.nets.borrow_mut().insert(
            4026532248,
            named("/run/netns/netns-b8d49c66", None, 10 * MS),
        );
        // The listing it waits for is not done yet.
        assert!(poll(&mut s, MS).is_empty());
        *fake.net_done.borrow_mut() = 1;
        // Done, but not settled: a birth up to 10 ms may still come.
        assert!(poll(&mut s, 100 * MS).is_empty());
        // Settled, but podman has not written down its owner: asked for.
        assert!(poll(&mut s, 300 * MS).is_empty());
        assert!(fake
            .owner_asks
            .borrow()
            .iter()
            .all(|p| p == "/run/netns/netns-b8d49c66"));
        assert!(!fake.owner_asks.borrow().is_empty());
        fake.nets.borrow_mut().insert(
            4026532248,
            named("/run/netns/netns-b8d49c66", Some(web()), 10 * MS),
        );
        let out = poll(&mut s, 310 * MS);
        assert_eq!(
            out[0].net_name.as_deref(),
            Some("/run/netns/netns-b8d49c66")
        );
        assert_eq!(
            out[0].container.as_ref().unwrap().name.as_deref(),
            Some("web-1")
        );
        // A later death of it uses the latest listing, and a name ip gives
        // waits for no owner.
        fake.nets
            .borrow_mut()
            .insert(4026532248, named("/run/netns/mine", None, 10 * MS));
        let mut d = Record::new(RecordKind::Death, 5, "t5".into());
        d.ns_type = Some(NsType::Net);
        d.inum = Some(4026532248);
        let out = push(&mut s, d, 320 * MS);
        assert_eq!(out[0].net_name.as_deref(), Some("/run/netns/mine"));
        assert_eq!(out[0].container, None);
    }

    /// Inode numbers are reused at once: a name listed after a newer net
    /// took the number is kept off the older net's records.
    #[test]
    fn a_name_stays_with_its_own_lifetime() {
        let fake = Fake::default();
        fake.containers
            .borrow_mut()
            .insert((Hierarchy::V2, 1), None);
        fake.nets
            .borrow_mut()
            .insert(7, named("/run/netns/new", None, 50 * MS));
        let mut s = ContainerStage::new(&fake, StageConfig::default());
        let mut old = birth(10 * MS, NsType::Net, 7, 1);
        old.event = RecordKind::Join;
        let new = birth(20 * MS, NsType::Net, 7, 1);
        assert!(push(&mut s, old, 0).is_empty());
        assert!(push(&mut s, new, 0).is_empty());
        *fake.net_done.borrow_mut() = 5;
        let out = poll(&mut s, 300 * MS);
        assert_eq!(monos(&out), [10 * MS, 20 * MS]);
        assert_eq!(out[0].net_name, None);
        assert_eq!(out[1].net_name.as_deref(), Some("/run/netns/new"));
    }

    /// On a loaded machine the listing may come late: the record waits for
    /// it to settle rather than lose the name.
    #[test]
    fn a_late_listing_still_names_the_net() {
        let fake = Fake::default();
        fake.containers
            .borrow_mut()
            .insert((Hierarchy::V2, 1), None);
        let mut s = ContainerStage::new(&fake, StageConfig::default());
        assert!(push(&mut s, birth(1, NsType::Net, 7, 1), 0).is_empty());
        fake.nets
            .borrow_mut()
            .insert(7, named("/run/netns/demo", None, 900 * MS));
        *fake.net_done.borrow_mut() = 1;
        assert!(poll(&mut s, 1100 * MS).is_empty());
        let out = poll(&mut s, 1250 * MS);
        assert_eq!(out[0].net_name.as_deref(), Some("/run/netns/demo"));
    }

    /// crun clones the container's init from outside its cgroup, then
    /// moves the child in: the child's container is the birth's.
    #[test]
    fn a_clone_child_names_the_container() {
        let fake = Fake::default();
        fake.containers
            .borrow_mut()
            .insert((Hierarchy::V2, 1), None);
        let mut s = ContainerStage::new(&fake, StageConfig::default());
        let mut r = birth(1, NsType::Uts, 10, 1);
        r.comm = Some("crun".into());
        r.child_pid = Some(20309);
        assert!(push(&mut s, r, 0).is_empty());
        fake.pids.borrow_mut().insert(20309, Some(web()));
        let out = poll(&mut s, MS);
        assert_eq!(
            out[0].container.as_ref().unwrap().name.as_deref(),
            Some("web-1")
        );
    }

    #[test]
    fn a_runtime_helpers_birth_names_the_init() {
        let fake = Fake::default();
        fake.containers
            .borrow_mut()
            .insert((Hierarchy::V2, 1), Some(web()));
        *fake.net_done.borrow_mut() = 9;
        let mut s = ContainerStage::new(&fake, StageConfig::default());
        let mut r = birth(1, NsType::Pid, 4026532251, 1);
        r.pid = Some(24573);
        r.comm = Some("runc:[1:CHILD]".into());
        r.via = Some(Via::Unshare);
        assert!(push(&mut s, r, 0).is_empty());
        // Past the container wait, still within the init wait.
        assert!(poll(&mut s, 1100 * MS).is_empty());
        let w = Wanted {
            ns_type: NsType::Pid,
            inum: 4026532251,
            creator: 24573,
        };
        fake.inits.borrow_mut().insert(
            w,
            Some(Init {
                pid: 24575,
                comm: "sleep".into(),
            }),
        );
        let out = poll(&mut s, 1101 * MS);
        assert_eq!(
            (out[0].init_pid, out[0].init_comm.as_deref()),
            (Some(24575), Some("sleep"))
        );
        // An ordinary unshare asks for no init.
        let mut r = birth(2, NsType::Uts, 12, 1);
        r.via = Some(Via::Unshare);
        r.comm = Some("unshare".into());
        let out = push(&mut s, r, 1102 * MS);
        assert_eq!(out[0].init_pid, None);
    }
}
