//! A private apt state for one Debian suite under target/vm/apt-<suite>: its
//! own sources.list, package lists and cache, so fetching kernels from other
//! suites never touches the host's apt configuration or lists. The host's
//! keyrings are still used, so the indexes are signature-checked.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, SystemTime},
};

use anyhow::{bail, Context as _, Result};

use crate::setup;

/// How long downloaded package lists count as current. Within this window a
/// second run resolves kernel names from the lists it has and downloads
/// nothing; after it, names are resolved afresh (sid moves several times a day).
const LISTS_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

pub struct PrivateApt {
    suite: String,
    dir: PathBuf,
}

impl PrivateApt {
    pub fn new(vm_dir: &Path, suite: &str) -> Self {
        Self {
            suite: suite.to_string(),
            dir: vm_dir.join(format!("apt-{suite}")),
        }
    }

    /// Downloads the suite's package list unless a current one is here
    /// (`refresh` forces it), and says whether it did. If the download fails
    /// but an older list exists, says so and keeps using it, so cached
    /// kernels still run offline.
    pub fn update(&self, refresh: bool) -> Result<bool> {
        let stamp = self.dir.join("updated");
        let age = fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok());
        if !refresh && age.is_some_and(|age| age < LISTS_MAX_AGE) {
            return Ok(false);
        }
        fs::create_dir_all(self.dir.join("lists/partial"))
            .and_then(|()| fs::create_dir_all(self.dir.join("cache/archives/partial")))
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let mirror = host_debian_mirror()?;
        // Only the Packages index: translations and AppStream data would
        // triple the download for nothing.
        let sources = format!("deb [target=Packages] {mirror} {} main\n", self.suite);
        fs::write(self.dir.join("sources.list"), sources)
            .with_context(|| format!("writing {}", self.dir.join("sources.list").display()))?;
        eprintln!(
            "xtask: vm: updating the package list of Debian {} from {mirror} (about 11 MB) into {}",
            self.suite,
            self.dir.display()
        );
        let mut cmd = self.command("apt-get");
        cmd.args(["update", "-qq"]);
        match setup::run(&mut cmd) {
            Ok(()) => {
                fs::write(&stamp, b"").with_context(|| format!("writing {}", stamp.display()))?;
                Ok(true)
            }
            Err(err) if age.is_some() => {
                eprintln!(
                    "xtask: vm: warning: could not update Debian {}, using the package list \
                     downloaded {} hours ago: {err:#}",
                    self.suite,
                    age.unwrap_or_default().as_secs() / 3600
                );
                Ok(false)
            }
            Err(err) => Err(err.context(format!(
                "downloading the Debian {} package list failed",
                self.suite
            ))),
        }
    }

    /// Packages `package` depends on directly, alternatives included.
    pub fn depends(&self, package: &str) -> Result<Vec<String>> {
        let mut cmd = self.command("apt-cache");
        cmd.args([
            "depends",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
        ])
        .args(["--no-breaks", "--no-replaces", "--no-enhances", package]);
        let out = setup::output(&mut cmd)?;
        Ok(parse_depends(&out))
    }

    /// Size in bytes that downloading `package` costs, from the index.
    pub fn download_size(&self, package: &str) -> Result<u64> {
        let out =
            setup::output(
                self.command("apt-cache")
                    .args(["show", "--no-all-versions", package]),
            )?;
        let size = out
            .lines()
            .find_map(|l| l.strip_prefix("Size: "))
            .with_context(|| format!("`apt-cache show {package}` has no Size field"))?;
        size.trim()
            .parse()
            .with_context(|| format!("bad Size {size:?} for {package}"))
    }

    /// Downloads `package`'s .deb into `into` and returns its path.
    pub fn download(&self, package: &str, into: &Path) -> Result<PathBuf> {
        fs::create_dir_all(into).with_context(|| format!("creating {}", into.display()))?;
        let mut cmd = self.command("apt-get");
        cmd.current_dir(into).args(["download", "-qq", package]);
        setup::run(&mut cmd)?;
        let prefix = format!("{package}_");
        fs::read_dir(into)
            .with_context(|| format!("reading {}", into.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
            })
            .with_context(|| format!("{cmd:?} left no {prefix}*.deb in {}", into.display()))
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        for (key, value) in [
            ("Dir::Etc::sourcelist", self.dir.join("sources.list")),
            ("Dir::Etc::sourceparts", PathBuf::from("-")),
            ("Dir::State::Lists", self.dir.join("lists")),
            ("Dir::Cache", self.dir.join("cache")),
        ] {
            cmd.arg("-o").arg(format!("{key}={}", value.display()));
        }
        cmd
    }
}

/// The Debian mirror the host itself uses, so CI machines behind a local
/// mirror or proxy keep using it.
fn host_debian_mirror() -> Result<String> {
    let deb822 = Path::new("/etc/apt/sources.list.d/debian.sources");
    if let Ok(text) = fs::read_to_string(deb822) {
        if let Some(uri) = text
            .lines()
            .filter_map(|l| l.strip_prefix("URIs:"))
            .flat_map(str::split_whitespace)
            .find(|u| !u.contains("security"))
        {
            return Ok(uri.to_string());
        }
    }
    let legacy = Path::new("/etc/apt/sources.list");
    if let Ok(text) = fs::read_to_string(legacy) {
        if let Some(uri) = text.lines().find_map(|l| {
            let mut words = l.split_whitespace().filter(|w| !w.starts_with('['));
            (words.next() == Some("deb"))
                .then(|| words.next())
                .flatten()
        }) {
            if !uri.contains("security") {
                return Ok(uri.to_string());
            }
        }
    }
    bail!(
        "found no Debian mirror in {} or {}: the VM tests fetch Debian kernels with apt",
        deb822.display(),
        legacy.display()
    )
}

fn parse_depends(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            // A leading '|' marks an alternative to the next line.
            let l = l.trim_start().trim_start_matches('|');
            l.strip_prefix("Depends: ")
                .or_else(|| l.strip_prefix("PreDepends: "))
        })
        .map(|name| name.trim().to_string())
        // Virtual packages print as <name>; a kernel is never one.
        .filter(|name| !name.starts_with('<'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_lists_real_packages_and_alternatives() {
        let out = "linux-image-7.2.13+deb14-cloud-amd64\n  PreDepends: linux-base\n |Depends: dracut\n  Depends: initramfs-tools\n  Depends: <linux-initramfs-tool>\n    dracut\n  Depends: linux-binary-7.2.13+deb14-cloud-amd64\n";
        assert_eq!(
            parse_depends(out),
            [
                "linux-base",
                "dracut",
                "initramfs-tools",
                "linux-binary-7.2.13+deb14-cloud-amd64"
            ]
        );
    }
}
