//! systemd-nspawn machines: the cgroup (`machine-<name>.scope`) gives the
//! name; systemd-machined's `/run/systemd/machines/<name>` adds the tree or
//! image it runs (`ROOT=`).

use std::path::Path;

use super::bounded::{self, STATE_CAP};

/// The `ROOT=` of machine `name`, if machined registered it.
pub fn root_of(machines: &Path, name: &str) -> Option<String> {
    // A machine name is a host name: no '/' can lead the read elsewhere,
    // but check rather than trust the cgroup it came from.
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    let bytes = bounded::read_file(&machines.join(name), STATE_CAP).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .find_map(|l| l.strip_prefix("ROOT="))
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_root_and_refuses_odd_names() {
        let dir = std::env::temp_dir().join(format!("nstrace-machines-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("box1"),
            "# This is private data. Do not parse.\nNAME=box1\nSCOPE=machine-box1.scope\n\
             SERVICE=systemd-nspawn\nROOT=/var/lib/machines/box1\nCLASS=container\n",
        )
        .unwrap();
        assert_eq!(
            root_of(&dir, "box1").as_deref(),
            Some("/var/lib/machines/box1")
        );
        assert_eq!(root_of(&dir, "box2"), None);
        assert_eq!(root_of(&dir, "../etc"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
