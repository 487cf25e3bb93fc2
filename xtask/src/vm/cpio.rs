//! A writer for the newc ("070701") cpio format, the one the kernel unpacks as
//! an initramfs. Written here rather than shelling out to `cpio` so the image
//! needs no tool on the host and no root rights for device nodes.
//!
//! Format: https://github.com/torvalds/linux/blob/v6.12/Documentation/driver-api/early-userspace/buffer-format.rst

use std::{
    fs::File,
    io::{self, Write},
    path::Path,
};

use anyhow::{ensure, Context as _, Result};

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;

pub struct Writer<W: Write> {
    out: W,
    /// Bytes written so far, for the 4-byte alignment newc requires.
    offset: u64,
    next_ino: u32,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            offset: 0,
            // Inode 0 is left out: some unpackers treat it as "no inode".
            next_ino: 1,
        }
    }

    pub fn dir(&mut self, path: &str, perm: u32) -> Result<()> {
        // A directory has two links: its name and its own `.`.
        self.header(path, S_IFDIR | perm, 2, 0, (0, 0))
    }

    pub fn file_bytes(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<()> {
        self.header(path, S_IFREG | perm, 1, data.len() as u64, (0, 0))?;
        self.write(data)?;
        self.pad()
    }

    /// Streams `source` into the archive, so large test binaries never sit in
    /// memory whole.
    pub fn file_from(&mut self, path: &str, perm: u32, source: &Path) -> Result<()> {
        let mut file =
            File::open(source).with_context(|| format!("opening {}", source.display()))?;
        let len = file
            .metadata()
            .with_context(|| format!("reading the size of {}", source.display()))?
            .len();
        self.header(path, S_IFREG | perm, 1, len, (0, 0))?;
        let copied = io::copy(&mut file, &mut self.out)
            .with_context(|| format!("copying {} into the archive", source.display()))?;
        ensure!(
            copied == len,
            "{} changed size while being archived ({len} -> {copied} bytes)",
            source.display()
        );
        self.offset += copied;
        self.pad()
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.header(path, S_IFLNK | 0o777, 1, target.len() as u64, (0, 0))?;
        self.write(target.as_bytes())?;
        self.pad()
    }

    pub fn char_device(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> Result<()> {
        self.header(path, S_IFCHR | perm, 1, 0, (major, minor))
    }

    /// Writes the end-of-archive entry and hands back the output.
    pub fn finish(mut self) -> Result<W> {
        self.header("TRAILER!!!", 0, 1, 0, (0, 0))?;
        self.out.flush().context("flushing the archive")?;
        Ok(self.out)
    }

    fn header(
        &mut self,
        path: &str,
        mode: u32,
        nlink: u32,
        size: u64,
        rdev: (u32, u32),
    ) -> Result<()> {
        ensure!(
            !path.starts_with('/'),
            "cpio entry {path:?} must be relative to the archive root"
        );
        let size = u32::try_from(size).with_context(|| {
            format!("{path}: newc holds files below 4 GiB, this one has {size} bytes")
        })?;
        let ino = self.next_ino;
        self.next_ino += 1;
        // The name length counts its terminating NUL.
        let namesize = path.len() as u32 + 1;
        // Fields: ino mode uid gid nlink mtime filesize devmajor devminor
        // rdevmajor rdevminor namesize check. mtime 0 keeps images reproducible.
        let header = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{:08x}",
            0, 0, 0, 0, 0, rdev.0, rdev.1, 0
        );
        self.write(header.as_bytes())?;
        self.write(path.as_bytes())?;
        self.write(&[0])?;
        self.pad()
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).context("writing the archive")?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> Result<()> {
        let rem = (self.offset % 4) as usize;
        if rem != 0 {
            self.write(&[0; 4][rem..])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_aligned_and_trailer_ends_the_archive() {
        let mut w = Writer::new(Vec::new());
        w.dir("bin", 0o755).unwrap();
        w.file_bytes("bin/x", 0o755, b"abcde").unwrap();
        w.symlink("sh", "bin/x").unwrap();
        w.char_device("console", 0o600, 5, 1).unwrap();
        let out = w.finish().unwrap();

        assert_eq!(out.len() % 4, 0);
        assert!(out.starts_with(b"070701"));
        // Header of the file: 110 bytes + "bin/x\0" (6) = 116, aligned; then
        // 5 bytes of data padded to 8.
        let file_at = out.windows(6).position(|w| w == b"bin/x\0").unwrap();
        assert_eq!(&out[file_at + 6..file_at + 11], b"abcde");
        assert_eq!(&out[file_at + 11..file_at + 14], &[0, 0, 0]);
        let trailer = out.windows(10).rposition(|w| w == b"TRAILER!!!").unwrap();
        assert_eq!(&out[trailer - 110..trailer - 104], b"070701");
    }

    #[test]
    fn device_numbers_go_in_rdev() {
        let mut w = Writer::new(Vec::new());
        w.char_device("console", 0o600, 5, 1).unwrap();
        let out = w.finish().unwrap();
        let header = std::str::from_utf8(&out[..110]).unwrap();
        // rdevmajor and rdevminor are the 10th and 11th fields.
        assert_eq!(&header[6 + 9 * 8..6 + 10 * 8], "00000005");
        assert_eq!(&header[6 + 10 * 8..6 + 11 * 8], "00000001");
        assert_eq!(&header[6 + 8..6 + 16], "00002180"); // S_IFCHR | 0o600
    }
}
