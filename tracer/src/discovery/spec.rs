//! The NS argument of `nstrace why`: an inode number, `type:[inode]`, or a
//! path to a namespace file.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::nsfs;
use super::nsref::{type_from_name, type_names, NsRef};

/// What the user asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NsSpec {
    /// An inode number alone: any type.
    Inode(u32),
    /// `type:[inode]`.
    Typed(NsRef),
    /// A namespace file, resolved to what it names.
    Path(PathBuf, NsRef),
}

const FORMS: &str = "give an inode number (4026531840), TYPE:[INODE] (net:[4026531840]) \
or a namespace file (/proc/PID/ns/net, /run/netns/NAME)";

impl NsSpec {
    pub fn parse(arg: &str) -> anyhow::Result<NsSpec> {
        if let Ok(inum) = arg.parse::<u32>() {
            return Ok(NsSpec::Inode(inum));
        }
        if arg.contains('/') {
            let path = PathBuf::from(arg);
            let id = resolve_path(&path)?;
            return Ok(NsSpec::Path(path, id));
        }
        if let Some((name, rest)) = arg.split_once(':') {
            let ns_type = type_from_name(name).with_context(|| {
                format!(
                    "{arg:?}: unknown namespace type {name:?}; types are {}",
                    type_names()
                )
            })?;
            let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
                bail!("{arg:?}: malformed namespace; write it as {name}:[INODE], e.g. {name}:[4026531840]");
            };
            let inum = inner.parse::<u32>().map_err(|_| {
                anyhow::anyhow!(
                    "{arg:?}: malformed namespace: {inner:?} is not an inode number; \
                     write it as {name}:[INODE], e.g. {name}:[4026531840]"
                )
            })?;
            return Ok(NsSpec::Typed(NsRef::new(ns_type, inum)));
        }
        bail!("{arg:?} is not a namespace: {FORMS}")
    }
}

/// For `/proc/PID/ns/TYPE` (or `/proc/PID/task/TID/ns/TYPE`) of a process
/// that no longer exists, its pid: its namespace is dead to `why` (exit 1),
/// not a bad argument.
pub fn exited_process(arg: &str) -> Option<u32> {
    let rest = arg.strip_prefix("/proc/")?;
    let (pid, rest) = rest.split_once('/')?;
    let pid: u32 = pid.parse().ok()?;
    let ns = match rest.strip_prefix("task/") {
        Some(t) => t.split_once('/')?.1,
        None => rest,
    };
    ns.strip_prefix("ns/")?;
    let gone = matches!(
        std::fs::symlink_metadata(arg),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH))
    );
    gone.then_some(pid)
}

/// The namespace a file names; an error unless it is an nsfs file.
fn resolve_path(path: &Path) -> anyhow::Result<NsRef> {
    let shown = path.display();
    let nsfs = nsfs::is_nsfs(path).with_context(|| format!("{shown}: cannot read it"))?;
    if !nsfs {
        bail!("{shown} is not a namespace file (nsfs): {FORMS}");
    }
    let fd = nsfs::open(path).with_context(|| format!("{shown}: cannot open it"))?;
    nsfs::identify(fd.as_fd()).with_context(|| format!("{shown}: cannot identify its namespace"))
}

#[cfg(test)]
mod tests {
    use tracer_common::NsType;

    use super::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(
            NsSpec::parse("4026531840").unwrap(),
            NsSpec::Inode(4026531840)
        );
        assert_eq!(
            NsSpec::parse("net:[4026531840]").unwrap(),
            NsSpec::Typed(NsRef::new(NsType::Net, 4026531840))
        );
        let own = std::fs::read_link("/proc/self/ns/uts").unwrap();
        match NsSpec::parse("/proc/self/ns/uts").unwrap() {
            NsSpec::Path(_, id) => assert_eq!(id.to_string(), own.to_str().unwrap()),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn a_namespace_file_of_an_exited_process_is_told_apart() {
        assert_eq!(exited_process("/proc/4000001/ns/net"), Some(4_000_001));
        assert_eq!(
            exited_process("/proc/4000001/task/4000002/ns/uts"),
            Some(4_000_001)
        );
        assert_eq!(exited_process("/proc/self/ns/net"), None);
        let me = std::process::id();
        assert_eq!(exited_process(&format!("/proc/{me}/ns/net")), None);
        assert_eq!(exited_process("/proc/4000001/status"), None);
        assert_eq!(exited_process("/run/netns/x"), None);
    }

    #[test]
    fn rejects_bad_forms_with_the_fix() {
        let e = format!("{:#}", NsSpec::parse("net:[x]").unwrap_err());
        assert!(e.contains("\"x\" is not an inode number"), "{e}");
        let e = format!("{:#}", NsSpec::parse("foo:[1]").unwrap_err());
        assert!(
            e.contains("unknown namespace type \"foo\"; types are mnt, uts"),
            "{e}"
        );
        let e = format!("{:#}", NsSpec::parse("net:4026531840").unwrap_err());
        assert!(e.contains("write it as net:[INODE]"), "{e}");
        let e = format!("{:#}", NsSpec::parse("/etc/hostname").unwrap_err());
        assert!(
            e.contains("/etc/hostname is not a namespace file (nsfs)"),
            "{e}"
        );
        let e = format!("{:#}", NsSpec::parse("banana").unwrap_err());
        assert!(
            e.contains("\"banana\" is not a namespace: give an inode number"),
            "{e}"
        );
    }
}
