//! The guest kernels: Debian's cloud kernels of bookworm (6.1), trixie (6.12)
//! and sid (the newest), resolved to a package name at run time and cached
//! under target/vm/kernels/<package>/ so a second run downloads nothing.
//!
//! The cloud flavour is small and builds in everything a guest with an
//! initramfs and a serial console needs, so no modules are shipped.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{bail, Context as _, Result};

use super::apt::PrivateApt;
use crate::setup;

/// The meta package every suite has; it depends on the current versioned image.
const META_PACKAGE: &str = "linux-image-cloud-amd64";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelChoice {
    /// Debian 12 bookworm.
    #[value(name = "6.1")]
    V6_1,
    /// Debian 13 trixie.
    #[value(name = "6.12")]
    V6_12,
    /// Debian sid: whatever is newest there today.
    Newest,
}

impl KernelChoice {
    pub const ALL: [KernelChoice; 3] = [
        KernelChoice::V6_1,
        KernelChoice::V6_12,
        KernelChoice::Newest,
    ];

    pub fn label(self) -> &'static str {
        match self {
            KernelChoice::V6_1 => "6.1",
            KernelChoice::V6_12 => "6.12",
            KernelChoice::Newest => "newest",
        }
    }

    fn suite(self) -> &'static str {
        match self {
            KernelChoice::V6_1 => "bookworm",
            KernelChoice::V6_12 => "trixie",
            KernelChoice::Newest => "sid",
        }
    }

    /// The prefix the resolved image must have, so a suite that moved to
    /// another kernel series fails loudly instead of testing the wrong one.
    fn expected_prefix(self) -> &'static str {
        match self {
            KernelChoice::V6_1 => "linux-image-6.1.",
            KernelChoice::V6_12 => "linux-image-6.12.",
            KernelChoice::Newest => "linux-image-",
        }
    }
}

pub struct Kernel {
    pub choice: KernelChoice,
    /// The kernel release, as `uname -r` prints it in the guest.
    pub release: String,
    pub vmlinuz: PathBuf,
}

/// Resolves, downloads if not cached, and returns one kernel image.
pub fn fetch(vm_dir: &Path, choice: KernelChoice, refresh: bool) -> Result<Kernel> {
    let suite = choice.suite();
    let apt = PrivateApt::new(vm_dir, suite);
    let fresh_lists = apt.update(refresh)?;
    // Resolving costs a few apt-cache runs of about a second each; the answer
    // only changes with the package list.
    let resolved = vm_dir.join("kernels").join(format!("{suite}.resolved"));
    let remembered = if fresh_lists {
        None
    } else {
        fs::read_to_string(&resolved).ok().and_then(|s| {
            let (package, release) = s.trim().split_once(' ')?;
            Some((package.to_string(), release.to_string()))
        })
    };
    let (package, release) = match remembered {
        Some(r) => r,
        None => {
            let r = resolve(&apt, choice)?;
            fs::create_dir_all(vm_dir.join("kernels"))
                .and_then(|()| fs::write(&resolved, format!("{} {}\n", r.0, r.1)))
                .with_context(|| format!("writing {}", resolved.display()))?;
            r
        }
    };

    let cache = vm_dir.join("kernels").join(&package);
    let vmlinuz = cache.join("vmlinuz");
    if vmlinuz.is_file() {
        eprintln!(
            "xtask: vm: {}: {package} (cached in {})",
            choice.label(),
            cache.display()
        );
        return Ok(Kernel {
            choice,
            release,
            vmlinuz,
        });
    }

    let size = apt.download_size(&package)?;
    eprintln!(
        "xtask: vm: downloading {package} from Debian {suite} ({:.1} MB) for its vmlinuz",
        size as f64 / 1e6
    );
    let started = Instant::now();
    let work = vm_dir.join(format!("download-{package}"));
    let _ = fs::remove_dir_all(&work);
    let deb = apt.download(&package, &work)?;
    let root = work.join("root");
    setup::run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
    let found = find_vmlinuz(&root, &release)?;
    fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    // Copy then rename, so an interrupted run never leaves a half image
    // that the next run would take as cached.
    let partial = cache.join("vmlinuz.partial");
    fs::copy(&found, &partial)
        .with_context(|| format!("copying {} to {}", found.display(), partial.display()))?;
    fs::rename(&partial, &vmlinuz)
        .with_context(|| format!("renaming {} to {}", partial.display(), vmlinuz.display()))?;
    fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    eprintln!(
        "xtask: vm: {package}: {:.1} MB in {:.1} s, kernel cached at {}",
        size as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        vmlinuz.display()
    );
    Ok(Kernel {
        choice,
        release,
        vmlinuz,
    })
}

/// Deletes cached kernels that no suite resolves to any more (Debian moved
/// on), so target/vm does not grow by a kernel per sid upload.
pub fn prune(vm_dir: &Path) -> Result<()> {
    let dir = vm_dir.join("kernels");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    let mut current = Vec::new();
    let mut cached = Vec::new();
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.extension().is_some_and(|e| e == "resolved") {
            let text =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            current.extend(text.split_whitespace().next().map(str::to_string));
        } else if path.is_dir() {
            cached.push(path);
        }
    }
    for path in cached {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !current.iter().any(|c| c == name) {
            eprintln!(
                "xtask: vm: removing {}, no longer current in Debian",
                path.display()
            );
            fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// The package that holds the suite's current cloud vmlinuz, and its
/// kernel release.
fn resolve(apt: &PrivateApt, choice: KernelChoice) -> Result<(String, String)> {
    let suite = choice.suite();
    let image = apt
        .depends(META_PACKAGE)?
        .into_iter()
        .find(|d| d.starts_with("linux-image-") && d.ends_with("-cloud-amd64"))
        .with_context(|| {
            format!("{META_PACKAGE} in Debian {suite} depends on no linux-image-*-cloud-amd64")
        })?;
    if !image.starts_with(choice.expected_prefix()) {
        bail!(
            "Debian {suite}'s cloud kernel is now {image}, not {}*: update KernelChoice in {}",
            choice.expected_prefix(),
            file!()
        );
    }
    let release = image["linux-image-".len()..].to_string();
    // Newer packaging (sid since 7.x) moved vmlinuz into linux-binary-<release>;
    // the image package only depends on it.
    let binary = format!("linux-binary-{release}");
    let package = if apt.depends(&image)?.contains(&binary) {
        binary
    } else {
        image
    };
    Ok((package, release))
}

fn find_vmlinuz(root: &Path, release: &str) -> Result<PathBuf> {
    let candidates = [
        root.join(format!("boot/vmlinuz-{release}")),
        root.join(format!("usr/lib/modules/{release}/vmlinuz")),
        root.join(format!("lib/modules/{release}/vmlinuz")),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "the package holds no kernel image; looked for {}",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}
