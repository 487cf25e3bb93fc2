//! The guest's root file system: busybox, the /init script, nstrace and the
//! test binaries, as one uncompressed newc archive. The kernel has everything
//! built in that these need, so the same image boots every guest kernel.

use std::{
    fs::File,
    io::BufWriter,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Context as _, Result};

use super::{cpio, guest_bins::GuestBinaries};

/// A static busybox, from Debian's busybox-static (installed by setup.rs).
const BUSYBOX: &str = "/usr/bin/busybox";
const INIT: &str = include_str!("init.sh");

pub struct Plan<'a> {
    pub bins: &'a GuestBinaries,
    pub methods: &'a [&'a str],
    /// Extra libtest arguments, after `--test-threads=1`.
    pub test_args: &'a [String],
}

pub fn write(path: &Path, plan: &Plan) -> Result<()> {
    let mut files = vec![("bin/nstrace".to_string(), plan.bins.nstrace.clone())];
    for test in &plan.bins.tests {
        files.push((format!("tests/{}", test.name), test.path.clone()));
    }
    write_image(path, &config(plan), &files)
}

/// An image with busybox, /init, `config` as /etc/nstrace-vm.conf (which
/// /init sources) and `files` (path in the guest, path on this host).
pub(crate) fn write_image(path: &Path, config: &str, files: &[(String, PathBuf)]) -> Result<()> {
    let busybox = PathBuf::from(BUSYBOX);
    ensure!(
        busybox.is_file(),
        "{BUSYBOX} is missing; `cargo xtask setup` installs it (Debian busybox-static)"
    );
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = cpio::Writer::new(BufWriter::new(file));
    for dir in ["bin", "dev", "etc", "proc", "sys", "tmp", "tests"] {
        w.dir(dir, 0o755)?;
    }
    // The kernel opens /dev/console for init's stdin/out/err before init
    // runs, so it must exist before devtmpfs is mounted.
    w.char_device("dev/console", 0o600, 5, 1)?;
    w.file_from("bin/busybox", 0o755, &busybox)?;
    w.symlink("bin/sh", "busybox")?;
    w.file_bytes("init", 0o755, INIT.as_bytes())?;
    w.file_bytes("etc/nstrace-vm.conf", 0o644, config.as_bytes())?;
    for (guest, host) in files {
        w.file_from(guest, 0o755, host)?;
    }
    w.finish()
        .with_context(|| format!("writing {}", path.display()))?
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Shell assignments /init sources: which tests and methods, and the libtest
/// arguments as positional parameters so each keeps its own word.
fn config(plan: &Plan) -> String {
    let names: Vec<&str> = plan.bins.tests.iter().map(|t| t.name.as_str()).collect();
    let args: Vec<String> = plan.test_args.iter().map(|a| shell_quote(a)).collect();
    format!(
        "METHODS={}\nTESTS={}\nset -- {}\n",
        shell_quote(&plan.methods.join(" ")),
        shell_quote(&names.join(" ")),
        args.join(" ")
    )
}

pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::guest_bins::TestBinary;

    #[test]
    fn config_quotes_every_argument() {
        let bins = GuestBinaries {
            tests: vec![
                TestBinary {
                    name: "vm_a".into(),
                    path: "/x".into(),
                },
                TestBinary {
                    name: "vm_b".into(),
                    path: "/y".into(),
                },
            ],
            nstrace: "/n".into(),
        };
        let args = ["--exact".to_string(), "it's one".to_string()];
        let plan = Plan {
            bins: &bins,
            methods: &["fentry", "kprobe"],
            test_args: &args,
        };
        assert_eq!(
            config(&plan),
            "METHODS='fentry kprobe'\nTESTS='vm_a vm_b'\nset -- '--exact' 'it'\\''s one'\n"
        );
    }
}
