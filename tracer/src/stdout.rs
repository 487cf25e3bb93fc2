//! Writing a command's answer to standard output. A write error there (a
//! full disk behind `> file`, `/dev/full`) is an error naming standard
//! output; a reader that went away (`| head`, EPIPE) ends the command
//! quietly with exit code 0, as grep and ripgrep do.

use std::io::Write as _;

use anyhow::Context as _;

/// Writes `text` to standard output and flushes it, so that an error
/// surfaces here rather than being lost when the process exits.
pub fn print(text: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text)
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

/// Whether `err` comes from a reader that closed its end of our pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_found_under_context() {
        let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("cannot write to standard output");
        assert!(is_broken_pipe(&e));
        let e = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::ENOSPC))
            .context("cannot write to standard output");
        assert!(!is_broken_pipe(&e));
    }
}
