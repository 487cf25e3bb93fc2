//! Naming a namespace: `type:[inode]`, as the kernel prints it.

use std::fmt;

use tracer_common::NsType;

/// One namespace, named the way `/proc/PID/ns/*` links name it. Inode
/// numbers come from one allocator shared by every type, so at any moment
/// the inode alone is unique; the type makes a stale number easier to spot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NsRef {
    pub ns_type: NsType,
    pub inum: u32,
}

impl NsRef {
    pub fn new(ns_type: NsType, inum: u32) -> NsRef {
        NsRef { ns_type, inum }
    }

    /// Parses the text of an nsfs link (`net:[4026531840]`). The `*_for_children`
    /// names appear when the nsfs dentry was first made through those links.
    pub fn parse_link(text: &str) -> Option<NsRef> {
        let (name, rest) = text.split_once(":[")?;
        let inum = rest.strip_suffix(']')?.parse().ok()?;
        Some(NsRef::new(type_from_link_name(name)?, inum))
    }
}

impl fmt::Display for NsRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:[{}]", self.ns_type.name(), self.inum)
    }
}

pub use crate::ns_types_arg::{parse_type as type_from_name, type_names};

/// Like [`type_from_name`], but also accepts the names nsfs gives the
/// `*_for_children` links.
pub fn type_from_link_name(name: &str) -> Option<NsType> {
    match name {
        "pid_for_children" => Some(NsType::Pid),
        "time_for_children" => Some(NsType::Time),
        _ => type_from_name(name),
    }
}

/// The type whose `CLONE_NEW*` flag `NS_GET_NSTYPE` returned.
pub fn type_from_clone_flag(flag: u64) -> Option<NsType> {
    NsType::ALL.into_iter().find(|t| t.clone_flag() == flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_link_text() {
        assert_eq!(
            NsRef::parse_link("net:[4026531840]"),
            Some(NsRef::new(NsType::Net, 4026531840))
        );
        assert_eq!(
            NsRef::parse_link("pid_for_children:[4026531836]"),
            Some(NsRef::new(NsType::Pid, 4026531836))
        );
        assert_eq!(NsRef::parse_link("socket:[123]"), None);
        assert_eq!(NsRef::parse_link("net:[x]"), None);
        assert_eq!(NsRef::parse_link("/dev/null"), None);
    }

    #[test]
    fn display_round_trips() {
        for t in NsType::ALL {
            let r = NsRef::new(t, 4026532000);
            assert_eq!(NsRef::parse_link(&r.to_string()), Some(r));
        }
    }

    #[test]
    fn clone_flags_map_back() {
        for t in NsType::ALL {
            assert_eq!(type_from_clone_flag(t.clone_flag()), Some(t));
        }
    }
}
