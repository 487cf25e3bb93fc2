//! One namespace lifetime, kept small: the engine holds one per live
//! namespace, 100,000 of them in well under 30 MB.

use foldhash::{HashMap, HashMapExt as _};

use tracer_common::{Event, NsType, Via, COMM_LEN};

/// "Not yet" for the timestamps below: an `Option<u64>` would double them.
const NONE: u64 = u64::MAX;

fn opt(ns: u64) -> Option<u64> {
    (ns != NONE).then_some(ns)
}

/// How the engine first learned of a lifetime.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Its birth was traced: the lifetime is known from start to end.
    Born,
    /// Found alive by the /proc scan when tracing began.
    Present,
    /// First seen through a join, evict, put or death: alive before tracing
    /// began and not discovered, or its birth record was lost.
    Unseen,
}

/// A command name stored once (four bytes instead of sixteen);
/// [`Engine::comm`](crate::lifecycle::Engine::comm) gives back its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommId(u32);

/// Every distinct comm seen, stored once. Namespaces are made by a handful of
/// programs (runc, containerd-shim, ip, unshare, systemd), so this stays tiny.
pub struct Comms {
    names: Vec<[u8; COMM_LEN]>,
    ids: HashMap<[u8; COMM_LEN], CommId>,
    /// The last one interned: a storm comes from one program.
    last: Option<([u8; COMM_LEN], CommId)>,
}

impl Default for Comms {
    fn default() -> Self {
        Comms {
            names: Vec::new(),
            ids: HashMap::new(),
            last: None,
        }
    }
}

impl Comms {
    pub fn intern(&mut self, comm: &[u8; COMM_LEN]) -> CommId {
        if let Some((last, id)) = &self.last {
            if last == comm {
                return *id;
            }
        }
        if let Some(&id) = self.ids.get(comm) {
            self.last = Some((*comm, id));
            return id;
        }
        let id = CommId(self.names.len() as u32);
        self.names.push(*comm);
        self.ids.insert(*comm, id);
        id
    }

    pub fn get(&self, id: CommId) -> &[u8; COMM_LEN] {
        &self.names[id.0 as usize]
    }
}

/// A task that entered the namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinRef {
    pub mono_ns: u64,
    pub pid: u32,
    pub comm: CommId,
    pub via: Via,
}

/// What most namespaces never have: joins (the first and the latest; the
/// rest are only counted), references dropped, nsfs evictions and the
/// deferred free. One box for all of it, made at the first join, put,
/// evict or cleanup run: a namespace that only lives costs its pointer.
#[derive(Debug)]
struct Extra {
    joins: u32,
    puts: u32,
    evictions: u32,
    first_join: Option<JoinRef>,
    last_join: Option<JoinRef>,
    last_put_ns: u64,
    last_evict_ns: u64,
    cookie: u64,
    cleanup_batch: u64,
    cleanup_start_ns: u64,
    cleanup_end_ns: u64,
}

impl Default for Extra {
    fn default() -> Self {
        Extra {
            joins: 0,
            puts: 0,
            evictions: 0,
            first_join: None,
            last_join: None,
            last_put_ns: NONE,
            last_evict_ns: NONE,
            cookie: 0,
            cleanup_batch: NONE,
            cleanup_start_ns: NONE,
            cleanup_end_ns: NONE,
        }
    }
}

/// Who made a namespace and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BirthInfo {
    pub pid: u32,
    pub comm: CommId,
    pub via: Via,
    /// clone/clone3/unshare flags.
    pub flags: u64,
}

/// [`Lifetime::marks`]: a /proc scan saw a task in it.
const HAD_TASKS: u8 = 1;
/// [`Lifetime::marks`]: its `linger` record went out.
const LINGERED: u8 = 2;

/// One lifetime of `(type, inum, gen)`. A death removes it from the engine
/// (the `death` record carries what is left to say), so only live
/// namespaces cost memory: 80 bytes each, the rare parts boxed.
#[derive(Debug)]
pub struct Lifetime {
    /// An [`NsType`] (a `u32` on the wire), as its index in `NsType::ALL`.
    ns_type: u8,
    inum: u32,
    gen: u32,
    tasks: u32,
    /// Birth time, scan time (present) or first-seen time (unseen).
    open_ns: u64,
    ns_id: u64,
    ptr: u64,
    flags: u64,
    pid: u32,
    comm: CommId,
    owner: u32,
    parent: u32,
    via: u8,
    origin: Origin,
    /// [`HAD_TASKS`] and [`LINGERED`].
    marks: u8,
    last_task_left_ns: u64,
    extra: Option<Box<Extra>>,
}

impl Lifetime {
    pub(super) fn born(ev: &Event, ns_type: NsType, gen: u32, comm: CommId) -> Lifetime {
        Lifetime {
            pid: ev.pid,
            comm,
            via: Via::from_u32(ev.via).unwrap_or(Via::None) as u8,
            flags: ev.flags,
            owner: ev.owner_inum,
            parent: ev.parent_inum,
            ..Lifetime::blank(
                ns_type,
                ev.inum,
                gen,
                Origin::Born,
                ev.ts_ns,
                ev.ns_id,
                ev.ptr,
            )
        }
    }

    pub(super) fn present(
        ns_type: NsType,
        inum: u32,
        gen: u32,
        ns_id: u64,
        mono_ns: u64,
    ) -> Lifetime {
        Lifetime::blank(ns_type, inum, gen, Origin::Present, mono_ns, ns_id, 0)
    }

    pub(super) fn unseen(ev: &Event, ns_type: NsType, gen: u32) -> Lifetime {
        Lifetime::blank(
            ns_type,
            ev.inum,
            gen,
            Origin::Unseen,
            ev.ts_ns,
            ev.ns_id,
            ev.ptr,
        )
    }

    fn blank(
        ns_type: NsType,
        inum: u32,
        gen: u32,
        origin: Origin,
        open_ns: u64,
        ns_id: u64,
        ptr: u64,
    ) -> Lifetime {
        Lifetime {
            ns_type: ns_type as u8,
            inum,
            gen,
            tasks: 0,
            open_ns,
            ns_id,
            ptr,
            flags: 0,
            pid: 0,
            comm: CommId(u32::MAX),
            owner: 0,
            parent: 0,
            via: Via::None as u8,
            origin,
            marks: 0,
            last_task_left_ns: NONE,
            extra: None,
        }
    }

    /// Applies one /proc scan's task count. Returns the last-task-left time
    /// when this scan is the one that sets it (see the module docs).
    pub(super) fn observe(&mut self, tasks: u32, mono_ns: u64) -> Option<u64> {
        self.tasks = tasks;
        if tasks > 0 {
            self.marks |= HAD_TASKS;
            self.last_task_left_ns = NONE;
            return None;
        }
        if self.last_task_left_ns != NONE {
            return None;
        }
        self.last_task_left_ns = if self.ever_had_tasks() {
            mono_ns
        } else {
            self.open_ns
        };
        Some(self.last_task_left_ns)
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    pub(super) fn note_join(&mut self, join: JoinRef) {
        let x = self.extra_mut();
        x.joins = x.joins.saturating_add(1);
        x.first_join.get_or_insert(join);
        x.last_join = Some(join);
    }

    pub(super) fn note_evict(&mut self, mono_ns: u64) {
        let r = self.extra_mut();
        r.evictions = r.evictions.saturating_add(1);
        r.last_evict_ns = mono_ns;
    }

    pub(super) fn note_put(&mut self, mono_ns: u64, cookie: u64) {
        let r = self.extra_mut();
        r.puts = r.puts.saturating_add(1);
        r.last_put_ns = mono_ns;
        if cookie != 0 {
            r.cookie = cookie;
        }
    }

    pub(super) fn note_cleanup_start(&mut self, batch: u64, mono_ns: u64) {
        let r = self.extra_mut();
        r.cleanup_batch = batch;
        r.cleanup_start_ns = mono_ns;
    }

    pub(super) fn note_cleanup_end(&mut self, mono_ns: u64) {
        self.extra_mut().cleanup_end_ns = mono_ns;
    }

    pub(super) fn set_lingered(&mut self) {
        self.marks |= LINGERED;
    }

    pub(super) fn fill_ns_id(&mut self, ns_id: u64) {
        if self.ns_id == 0 {
            self.ns_id = ns_id;
        }
    }

    /// Learns the kernel address of a namespace known so far only by
    /// number (found by the start-up scan).
    pub(super) fn fill_ptr(&mut self, ptr: u64) {
        if self.ptr == 0 {
            self.ptr = ptr;
        }
    }

    /// The namespaces this one keeps alive by being alive: its owning user
    /// namespace (`child` when this is itself a user namespace) and its
    /// parent pid or user namespace. Returned as ((type, inum), is_child).
    pub(super) fn holds(&self) -> impl Iterator<Item = ((NsType, u32), bool)> {
        let ns_type = self.ns_type();
        let owner =
            (self.owner != 0).then_some(((NsType::User, self.owner), ns_type == NsType::User));
        let parent = (self.parent != 0
            && matches!(ns_type, NsType::Pid | NsType::User)
            && !(ns_type == NsType::User && self.parent == self.owner))
            .then_some(((ns_type, self.parent), true));
        owner.into_iter().chain(parent)
    }

    pub fn ns_type(&self) -> NsType {
        NsType::ALL[usize::from(self.ns_type)]
    }

    pub fn inum(&self) -> u32 {
        self.inum
    }

    /// Whether this is a lifetime of number `inum` of type `ns_type`: the
    /// table by number compares with this at every probe.
    #[inline]
    pub(super) fn is(&self, (ns_type, inum): (NsType, u32)) -> bool {
        self.inum == inum && self.ns_type == ns_type as u8
    }

    pub fn gen(&self) -> u32 {
        self.gen
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// `ns_common.ns_id` (6.18+).
    pub fn ns_id(&self) -> Option<u64> {
        (self.ns_id != 0).then_some(self.ns_id)
    }

    /// Kernel address of the namespace; never shown to users.
    pub(super) fn ptr(&self) -> u64 {
        self.ptr
    }

    /// Birth time for [`Origin::Born`], scan time for [`Origin::Present`],
    /// first-seen time for [`Origin::Unseen`].
    pub fn opened_ns(&self) -> u64 {
        self.open_ns
    }

    pub fn birth(&self) -> Option<BirthInfo> {
        (self.origin == Origin::Born).then(|| BirthInfo {
            pid: self.pid,
            comm: self.comm,
            via: Via::from_u32(self.via.into()).unwrap_or(Via::None),
            flags: self.flags,
        })
    }

    /// Inode of the owning user namespace (for a user namespace, its
    /// parent), if its birth was seen.
    pub fn owner(&self) -> Option<u32> {
        (self.owner != 0).then_some(self.owner)
    }

    /// Inode of the parent pid or user namespace, if its birth was seen.
    pub fn parent(&self) -> Option<u32> {
        (self.parent != 0).then_some(self.parent)
    }

    pub fn joins(&self) -> u32 {
        self.extra.as_ref().map_or(0, |x| x.joins)
    }

    pub fn first_join(&self) -> Option<JoinRef> {
        self.extra.as_ref().and_then(|x| x.first_join)
    }

    pub fn last_join(&self) -> Option<JoinRef> {
        self.extra.as_ref().and_then(|x| x.last_join)
    }

    /// Tasks in it at the latest /proc scan.
    pub fn tasks(&self) -> u32 {
        self.tasks
    }

    pub fn ever_had_tasks(&self) -> bool {
        self.marks & HAD_TASKS != 0
    }

    pub fn last_task_left_ns(&self) -> Option<u64> {
        opt(self.last_task_left_ns)
    }

    pub fn lingered(&self) -> bool {
        self.marks & LINGERED != 0
    }

    pub fn puts(&self) -> u32 {
        self.extra.as_ref().map_or(0, |r| r.puts)
    }

    pub fn last_put_ns(&self) -> Option<u64> {
        self.extra.as_ref().and_then(|r| opt(r.last_put_ns))
    }

    /// `net.net_cookie` from the last put (net only).
    pub fn cookie(&self) -> Option<u64> {
        self.extra
            .as_ref()
            .and_then(|r| (r.cookie != 0).then_some(r.cookie))
    }

    pub fn evictions(&self) -> u32 {
        self.extra.as_ref().map_or(0, |r| r.evictions)
    }

    pub fn last_evict_ns(&self) -> Option<u64> {
        self.extra.as_ref().and_then(|r| opt(r.last_evict_ns))
    }

    /// The `cleanup_net` run that took this net, and when it started.
    pub fn cleanup(&self) -> Option<(u64, u64)> {
        let r = self.extra.as_ref()?;
        (r.cleanup_batch != NONE).then_some((r.cleanup_batch, r.cleanup_start_ns))
    }

    /// When the run that took this net ended without its death being seen.
    pub fn cleanup_end_ns(&self) -> Option<u64> {
        self.extra.as_ref().and_then(|r| opt(r.cleanup_end_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_stays_small() {
        // 80 bytes inline, plus the key and generation, is ~12.6 MiB of
        // hash table for 100,000 namespaces; joins and refs are boxed and
        // rare.
        assert!(
            std::mem::size_of::<Lifetime>() <= 80,
            "Lifetime grew to {} bytes",
            std::mem::size_of::<Lifetime>()
        );
        // The niche in Origin/bool keeps Option<Lifetime> the same size.
        assert_eq!(
            std::mem::size_of::<Option<Lifetime>>(),
            std::mem::size_of::<Lifetime>()
        );
    }

    #[test]
    fn the_type_stored_as_a_byte_reads_back() {
        for t in NsType::ALL {
            assert_eq!(Lifetime::present(t, 7, 1, 0, 100).ns_type(), t);
        }
    }

    #[test]
    fn comms_are_stored_once() {
        let mut c = Comms::default();
        let a = c.intern(b"runc:[2:INIT]\0\0\0");
        let b = c.intern(b"ip\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(c.intern(b"runc:[2:INIT]\0\0\0"), a);
        assert_ne!(a, b);
        assert_eq!(&c.get(b)[..2], b"ip");
        assert_eq!(c.names.len(), 2);
    }

    #[test]
    fn last_task_left_is_the_first_empty_scan_or_the_opening() {
        let mut l = Lifetime::present(NsType::Net, 7, 1, 0, 100);
        assert_eq!(l.observe(2, 200), None);
        assert_eq!(l.observe(0, 300), Some(300));
        assert_eq!(l.observe(0, 400), None, "set once per emptying");
        assert_eq!(l.last_task_left_ns(), Some(300));
        assert_eq!(l.observe(1, 500), None);
        assert_eq!(l.last_task_left_ns(), None, "a task came back");

        let mut never = Lifetime::present(NsType::Net, 8, 1, 0, 100);
        assert_eq!(never.observe(0, 900), Some(100));
    }
}
