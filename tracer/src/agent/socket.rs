//! The query socket: a Unix socket only root can open (0600 in a 0700
//! directory, and the peer's uid checked with SO_PEERCRED), one request
//! and one response per connection (agent/protocol.rs).
//!
//! Bounded so that no client can hurt the others: a request larger than
//! [`MAX_REQUEST`] or not complete within [`READ_TIMEOUT`] gets an error;
//! at most [`MAX_CLIENTS`] are served at once and any more are told the
//! agent is busy (past four times as many, they are closed unanswered).

use std::{
    fs,
    io::ErrorKind,
    os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot, Semaphore},
};

use super::protocol::{Request, Response, MAX_REQUEST};

pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_CLIENTS: usize = 16;
/// How much of an over-long request is read and dropped before answering.
const MAX_DISCARD: usize = 16 * MAX_REQUEST;

/// How long a request may wait for the event loop's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// A request for the event loop, with where its answer goes.
pub struct Ask {
    pub request: Request,
    pub reply: oneshot::Sender<Response>,
}

/// The socket file, removed again when dropped.
pub struct SocketFile {
    path: PathBuf,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Creates PATH's directory (0700) if needed, refuses to take over a
/// socket another agent answers on, and binds PATH with mode 0600. Must
/// run inside the tokio runtime.
pub fn bind(path: &Path) -> Result<(UnixListener, SocketFile)> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    prepare_dir(dir)?;
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => bail!(
            "{}: another nstrace agent answers on this socket: stop it first, or give this one \
             another --socket",
            path.display()
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        // A socket left by an agent that did not stop cleanly.
        Err(_) => {
            let meta = fs::symlink_metadata(path)
                .with_context(|| format!("{}: cannot look at it", path.display()))?;
            if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
                bail!(
                    "{}: exists and is not a socket: remove it or give another --socket",
                    path.display()
                );
            }
            fs::remove_file(path)
                .with_context(|| format!("{}: cannot remove the stale socket", path.display()))?;
        }
    }
    // The socket is made 0600 by the umask, so there is no moment at which
    // someone else could connect.
    // SAFETY: umask has no preconditions; nothing else in this process
    // creates files while the runtime is starting.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener =
        bound.with_context(|| format!("{}: cannot bind the query socket", path.display()))?;
    Ok((
        listener,
        SocketFile {
            path: path.to_path_buf(),
        },
    ))
}

fn prepare_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("{}: cannot create the socket's directory", dir.display())),
        Err(e) => Err(e).with_context(|| format!("{}: cannot look at the socket's directory", dir.display())),
        Ok(m) if !m.is_dir() => bail!("{}: is not a directory", dir.display()),
        Ok(m) if m.uid() != 0 => bail!(
            "{}: the socket's directory must belong to root (it belongs to uid {}): only root may ask \
             the agent",
            dir.display(),
            m.uid()
        ),
        Ok(m) => {
            if m.mode() & 0o077 != 0 {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("{}: cannot make the socket's directory 0700", dir.display()))?;
            }
            Ok(())
        }
    }
}

/// Serves until the task is dropped; each request goes to `asks`.
pub async fn serve<Q: From<Ask> + Send + 'static>(listener: UnixListener, asks: mpsc::Sender<Q>) {
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    let refusals = Arc::new(Semaphore::new(4 * MAX_CLIENTS));
    loop {
        let mut stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                log::warn!("query socket: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Told in a task of its own (bounded too), which reads what the
            // client sent so that it gets the answer, not a reset: a Unix
            // socket closed with unread data in it resets its peer
            // (unix_release_sock), whose read then fails after the answer.
            if let Ok(p) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream)).await;
                    let busy = Response::error(format!(
                        "busy: {MAX_CLIENTS} clients are being served; try again"
                    ));
                    let _ = reply(&mut stream, &busy).await;
                    drop(p);
                });
            }
            continue;
        };
        let asks = asks.clone();
        tokio::spawn(async move {
            let response = match one(&mut stream, &asks).await {
                Ok(r) => r,
                Err(r) => r,
            };
            let _ = reply(&mut stream, &response).await;
            drop(permit);
        });
    }
}

async fn one<Q: From<Ask>>(
    stream: &mut UnixStream,
    asks: &mpsc::Sender<Q>,
) -> Result<Response, Response> {
    // Who asks is checked once the request is read (and then not used if
    // refused), so that a refused client gets its answer, not a reset.
    let read = tokio::time::timeout(READ_TIMEOUT, read_request(stream)).await;
    match stream.peer_cred() {
        Ok(c) if c.uid() == 0 => {}
        Ok(c) => {
            return Err(Response::error(format!(
                "permission denied: only root may ask the agent (you are uid {})",
                c.uid()
            )))
        }
        Err(e) => {
            return Err(Response::error(format!(
                "cannot tell who you are (SO_PEERCRED): {e}"
            )))
        }
    }
    let raw = match read {
        Ok(Ok(raw)) => raw,
        Ok(Err(e)) => return Err(Response::error(e)),
        Err(_) => {
            return Err(Response::error(format!(
                "no complete request within {} s: send one JSON object ending in a newline",
                READ_TIMEOUT.as_secs()
            )))
        }
    };
    let request: Request = serde_json::from_slice(&raw).map_err(|e| {
        Response::error(format!(
            "not a request: {e}; send e.g. {{\"request\":\"why\",\"type\":\"net\",\"inum\":4026532008}} \
             (see docs/agent.md)"
        ))
    })?;
    let (tx, rx) = oneshot::channel();
    if asks.send(Ask { request, reply: tx }.into()).await.is_err() {
        return Err(Response::error("the agent is stopping"));
    }
    match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
        Ok(Ok(r)) => Ok(r),
        _ => Err(Response::error("the agent did not answer in time")),
    }
}

/// Reads one line (or everything up to the end of the stream). Past
/// MAX_REQUEST bytes the rest of the line is read and dropped, up to
/// [`MAX_DISCARD`], so that the error reaches a client that is still
/// sending (closing on unread input would reset the connection).
async fn read_request(stream: &mut UnixStream) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 16 << 10];
    let mut seen = 0usize;
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the request: {e}"))?;
        let part = &chunk[..n];
        let end = part.iter().position(|&b| b == b'\n');
        let take = &part[..end.unwrap_or(n)];
        seen += take.len();
        if seen <= MAX_REQUEST {
            buf.extend_from_slice(take);
        }
        if n == 0 || end.is_some() || seen > MAX_DISCARD {
            return if seen > MAX_REQUEST {
                Err(format!("request larger than {MAX_REQUEST} bytes: refused"))
            } else {
                Ok(buf)
            };
        }
    }
}

async fn reply(stream: &mut UnixStream, r: &Response) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(r)
        .unwrap_or_else(|_| br#"{"ok":false,"error":"cannot encode the answer"}"#.to_vec());
    line.push(b'\n');
    // A client that stopped reading cannot hold this task forever.
    match tokio::time::timeout(READ_TIMEOUT, stream.write_all(&line)).await {
        Ok(r) => r?,
        Err(_) => return Ok(()),
    }
    stream.shutdown().await
}
