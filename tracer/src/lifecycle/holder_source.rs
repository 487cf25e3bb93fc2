//! Who holds a lingering namespace, asked of a source that may need time
//! to find out (a /proc scan takes hundreds of milliseconds on a busy
//! host, and the event loop must not wait for it).
//!
//! This is the interface the lifetimes branch (issue 10) gives the engine;
//! it is defined here, in one place, until that branch is merged, and then
//! replaced by theirs.

use tracer_common::NsType;

use crate::schema::Holder;

/// What a [`HolderSource`] knows about one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HolderAnswer {
    /// No scan taken at or after the time asked for is ready yet: the
    /// engine asks again at its next poll.
    NotYet,
    /// A scan taken after that time found the namespace with these holders.
    Found(Vec<Holder>),
    /// A scan taken after that time did not find the namespace; `searched`
    /// says what it looked through.
    NotFound { searched: String },
    /// Nothing is scanned (`--no-scan`).
    NotScanned,
}

/// Answers "who holds (type, inum)", from a scan taken no earlier than
/// `not_before_mono_ns` (CLOCK_BOOTTIME).
pub trait HolderSource {
    fn holders(&mut self, ns_type: NsType, inum: u32, not_before_mono_ns: u64) -> HolderAnswer;
}

/// A function that answers at once (tests, and callers that scan inline):
/// an empty list is "not found".
impl<F: FnMut(NsType, u32) -> Vec<Holder>> HolderSource for F {
    fn holders(&mut self, ns_type: NsType, inum: u32, _not_before: u64) -> HolderAnswer {
        let found = self(ns_type, inum);
        if found.is_empty() {
            HolderAnswer::NotFound {
                searched: String::new(),
            }
        } else {
            HolderAnswer::Found(found)
        }
    }
}
