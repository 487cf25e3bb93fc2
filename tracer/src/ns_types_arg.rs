//! Parsing namespace types given on the command line (`-t net,user`).

use anyhow::{bail, Result};
use tracer_common::NsType;

/// Parses a comma-separated list of type names; names the bad value and
/// lists the valid ones.
pub fn parse_type_list(list: &str) -> Result<Vec<NsType>> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match parse_type(name) {
            Some(t) => {
                if !out.contains(&t) {
                    out.push(t)
                }
            }
            None => bail!(
                "unknown namespace type '{name}'; valid types: {}",
                type_names()
            ),
        }
    }
    if out.is_empty() {
        bail!(
            "no namespace type given; valid types: {}",
            NsType::ALL.map(NsType::name).join(", ")
        );
    }
    Ok(out)
}

/// One type name, as nstrace and /proc/PID/ns name it.
pub fn parse_type(name: &str) -> Option<NsType> {
    NsType::ALL.into_iter().find(|t| t.name() == name)
}

/// Every type name, for error messages and `--help`.
pub fn type_names() -> String {
    NsType::ALL.map(NsType::name).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_names_the_bad_value() {
        assert_eq!(
            parse_type_list("net, user,net").unwrap(),
            vec![NsType::Net, NsType::User]
        );
        let err = parse_type_list("net,netns").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown namespace type 'netns'; valid types: mnt, uts, ipc, pid, net, user, cgroup, time"
        );
        assert!(parse_type_list(",").is_err());
    }
}
