//! The question the engine asks before it calls a namespace lingering: is
//! it alive, and who holds it? Asked of a [`HolderSource`] once the
//! namespace has had no task for the grace period; only a scan taken after
//! that deadline can answer, so a namespace that died in the meantime (a
//! net waiting for its cleanup run, a uts freed with its last task) is never
//! reported as lingering.

use tracer_common::NsType;

use crate::discovery::{Inventory, NsRef};
use crate::schema::{Holder, HolderKind};

/// What a holder scan says about one namespace whose linger deadline passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HolderAnswer {
    /// No scan taken at or after `not_before_mono_ns` is ready yet: the engine asks again at the next poll.
    NotYet,
    /// A scan taken after the deadline found it alive, held by these (never empty).
    Found(Vec<Holder>),
    /// A scan taken after the deadline did not find it; `searched` says what was searched, in words.
    NotFound { searched: String },
    /// Holder scans are off (--no-scan): the engine falls back to what the trace itself saw.
    NotScanned,
}

/// Answers the engine's linger questions.
pub trait HolderSource {
    fn holders(&mut self, ns_type: NsType, inum: u32, not_before_mono_ns: u64) -> HolderAnswer;

    /// Whether a question answered [`HolderAnswer::NotYet`] could get
    /// another answer if asked again now. The engine asks its waiting
    /// questions again only then: with 100,000 namespaces waiting for a
    /// paced scan, asking all of them at every poll was half the agent's
    /// CPU and stalled the ring's reader. A source that answers at once
    /// always says yes.
    fn may_answer_more(&mut self) -> bool {
        true
    }

    /// Whether this poll's answers are all given: every further question
    /// would be put off to the next poll, so the engine stops asking.
    fn spent(&self) -> bool {
        false
    }
}

/// Scans are off: every question gets [`HolderAnswer::NotScanned`].
pub struct NoScan;

impl HolderSource for NoScan {
    fn holders(&mut self, _: NsType, _: u32, _: u64) -> HolderAnswer {
        HolderAnswer::NotScanned
    }
}

/// What one finished discovery scan says about `(ns_type, inum)`. `at` is
/// the scan's time as the user reads it. A namespace the scan found but
/// could name no holder of (reached only as the owner or parent of another)
/// is alive: it gets one `unknown` holder saying what was searched.
pub fn answer_from_inventory(
    inv: &Inventory,
    at: &str,
    ns_type: NsType,
    inum: u32,
) -> HolderAnswer {
    let searched = searched(inv, at);
    match inv.get(NsRef::new(ns_type, inum)) {
        Some(ns) if !ns.holders.is_empty() => HolderAnswer::Found(ns.holders.clone()),
        Some(_) => HolderAnswer::Found(vec![Holder {
            kind: HolderKind::Unknown,
            detail: Some(format!(
                "alive (the scan reached it through another namespace's owner or parent) \
                 but no holder found; searched {searched}"
            )),
            ..Holder::default()
        }]),
        None => HolderAnswer::NotFound { searched },
    }
}

fn searched(inv: &Inventory, at: &str) -> String {
    let mounts = inv
        .namespaces
        .keys()
        .filter(|r| r.ns_type == NsType::Mnt)
        .count();
    format!(
        "a /proc scan at {at}: every task's namespaces, open files, sockets and tun \
         devices, and the bind and proc mounts of {mounts} mount namespaces"
    )
}
