//! Asking a running agent, for `nstrace why`: plain blocking I/O with
//! timeouts, so a stuck agent cannot hang the command.

use std::{
    io::{ErrorKind, Read as _, Write as _},
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

use super::protocol::{Request, Response};

const TIMEOUT: Duration = Duration::from_secs(5);
/// Answers larger than this are not read (a why answer is a few KiB).
const MAX_ANSWER: u64 = 16 << 20;

/// Why no answer came.
#[derive(Debug)]
pub enum Unanswered {
    /// Nothing listens on the socket: no agent runs.
    NoAgent,
    /// The socket is there and we may not use it.
    Denied(String),
    Failed(String),
}

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unanswered::NoAgent => f.write_str("no agent is running"),
            Unanswered::Denied(e) | Unanswered::Failed(e) => f.write_str(e),
        }
    }
}

/// Sends `request` to the agent at `socket` and reads its answer.
pub fn ask(socket: &Path, request: &Request) -> Result<Response, Unanswered> {
    let mut s = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Err(Unanswered::NoAgent)
        }
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return Err(Unanswered::Denied(format!(
                "{}: {e}: only root may ask the agent",
                socket.display()
            )))
        }
        Err(e) => return Err(Unanswered::Failed(format!("{}: {e}", socket.display()))),
    };
    let failed = |what: &str, e: std::io::Error| {
        Unanswered::Failed(format!("{}: {what}: {e}", socket.display()))
    };
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| failed("set timeout", e))?;
    s.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| failed("set timeout", e))?;
    let mut line = serde_json::to_vec(request).expect("requests always encode");
    line.push(b'\n');
    // An agent that refuses us may answer and close before reading what
    // we send: its answer is still worth reading.
    let sent = s.write_all(&line);
    let mut answer = Vec::new();
    let read = (&s).take(MAX_ANSWER).read_to_end(&mut answer);
    if answer.is_empty() {
        sent.map_err(|e| failed("sending the request", e))?;
        read.map_err(|e| failed("reading the answer", e))?;
    }
    let response: Response = serde_json::from_slice(&answer).map_err(|e| {
        Unanswered::Failed(format!(
            "{}: the agent's answer is not JSON: {e}",
            socket.display()
        ))
    })?;
    match (&response.ok, &response.error) {
        (false, Some(e)) if e.starts_with("permission denied") => {
            Err(Unanswered::Denied(e.clone()))
        }
        (false, Some(e)) => Err(Unanswered::Failed(e.clone())),
        _ => Ok(response),
    }
}
