//! The inputs of `report`: regular files, which may be opened twice (once
//! to find their place among rotated files, once to read them), and
//! streams (pipes, `-` for standard input, process substitution, FIFOs,
//! devices), which are read once. And reading lines from either with a
//! bound on memory and on time whatever the bytes are.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Lines longer than this are skipped unread: no record comes close (the
/// longest, a `linger` with many holders, is a few KiB), and a corrupt file
/// without newlines must not be pulled into memory whole.
pub const MAX_LINE: usize = 1 << 20;

/// Read buffer per input.
pub const BUF: usize = 256 * 1024;

/// The name a problem gives standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// What a name on the command line is.
pub enum Kind {
    /// A regular file: opened when its turn comes.
    Regular,
    /// Opened now and read once.
    Stream(Box<dyn BufRead>),
    /// Could not be looked at; the reason is reported at its turn.
    Unusable(String),
}

/// One input, as named, with its identity (device, inode) when known.
pub struct Input {
    pub name: PathBuf,
    pub id: Option<(u64, u64)>,
    pub kind: Kind,
}

/// Looks at `arg` (`-` is standard input) and opens it if it is a stream.
pub fn classify(arg: &Path) -> Input {
    if arg.as_os_str() == "-" {
        let id = File::open("/proc/self/fd/0")
            .and_then(|f| f.metadata())
            .ok()
            .map(|m| (m.dev(), m.ino()));
        return Input {
            name: PathBuf::from(STDIN_NAME),
            id,
            kind: Kind::Stream(Box::new(BufReader::with_capacity(BUF, io::stdin()))),
        };
    }
    let name = arg.to_path_buf();
    let meta = match std::fs::metadata(arg) {
        Ok(m) => m,
        // Reported, with the OS's words, when its turn comes.
        Err(_) => {
            return Input {
                name,
                id: None,
                kind: Kind::Regular,
            }
        }
    };
    let id = Some((meta.dev(), meta.ino()));
    let ft = meta.file_type();
    if ft.is_file() || ft.is_dir() {
        return Input {
            name,
            id,
            kind: Kind::Regular,
        };
    }
    let kind = match open_stream(arg, ft.is_fifo()) {
        Ok(f) => Kind::Stream(Box::new(BufReader::with_capacity(BUF, f))),
        Err(e) => Kind::Unusable(format!("cannot open: {e}")),
    };
    Input { name, id, kind }
}

/// Opens a FIFO or device for reading without hanging silently: a FIFO
/// with no writer is waited for, with a message after a second.
fn open_stream(path: &Path, fifo: bool) -> io::Result<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    if fifo {
        let mut pfd = libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 1000) } == 0 {
            eprintln!(
                "nstrace: {}: waiting for a writer on this FIFO",
                crate::sanitize::escape(&path.to_string_lossy())
            );
            // SAFETY: as above.
            while unsafe { libc::poll(&mut pfd, 1, -1) } < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    // Back to blocking reads, now that there is data or a writer came.
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let fl = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(f.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK);
    }
    Ok(f)
}

/// What `read_line` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, in the buffer without its `\n`.
    Complete,
    /// The input ended without a `\n`: the buffer holds what there was.
    Torn,
    /// Longer than MAX_LINE: skipped, the buffer is empty.
    TooLong,
    /// `budget` bytes read without finding the end of the line.
    Endless,
    Eof,
}

/// Reads one line into `buf` without its `\n`, keeping at most MAX_LINE
/// bytes of it and consuming at most `budget` bytes: an input that never
/// ends (/dev/zero) stops here in bounded time.
pub fn read_line(input: &mut dyn BufRead, buf: &mut Vec<u8>, budget: u64) -> io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    let mut used = 0u64;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            if !any {
                return Ok(Line::Eof);
            }
            return Ok(if too_long { Line::TooLong } else { Line::Torn });
        }
        any = true;
        let (take, done) = match memchr(chunk) {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if !too_long && buf.len() + take <= MAX_LINE {
            buf.extend_from_slice(&chunk[..take]);
        } else {
            too_long = true;
            buf.clear();
        }
        let consumed = if done { take + 1 } else { take };
        input.consume(consumed);
        used += consumed as u64;
        if done {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
        if used >= budget {
            buf.clear();
            return Ok(Line::Endless);
        }
    }
}

fn memchr(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_input_stops_at_the_budget() {
        let mut zero = BufReader::new(File::open("/dev/zero").unwrap());
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut zero, &mut buf, 3 << 20).unwrap(),
            Line::Endless
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn lines_are_cut_at_max_line_whatever_their_bytes() {
        let mut text = vec![0u8; MAX_LINE + 10];
        text.push(b'\n');
        text.extend_from_slice(b"ok\n");
        let mut r = &text[..];
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut r, &mut buf, u64::MAX).unwrap(),
            Line::TooLong
        );
        assert_eq!(
            read_line(&mut r, &mut buf, u64::MAX).unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"ok");
        assert_eq!(read_line(&mut r, &mut buf, u64::MAX).unwrap(), Line::Eof);
    }
}
