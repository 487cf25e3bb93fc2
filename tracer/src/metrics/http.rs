//! A minimal HTTP/1.1 responder for `GET /metrics`: one request per
//! connection, then close. Bounded like the query socket: the request head
//! is read for at most [`READ_TIMEOUT`] and [`MAX_HEAD`] bytes, and at
//! most [`MAX_CLIENTS`] connections are served at once (more wait in the
//! kernel's backlog).

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::{mpsc, oneshot, Semaphore},
};

pub const MAX_HEAD: usize = 8 << 10;
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_CLIENTS: usize = 8;

/// A scrape, answered by whoever owns the metrics (the event loop).
pub struct Scrape {
    pub openmetrics: bool,
    pub reply: oneshot::Sender<(String, &'static str)>,
}

/// Serves until the task is dropped; each scrape is sent on `scrapes`.
pub async fn serve<Q: From<Scrape> + Send + 'static>(
    listener: TcpListener,
    scrapes: mpsc::Sender<Q>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                log::warn!("metrics: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let scrapes = scrapes.clone();
        tokio::spawn(async move {
            if let Err(e) = one(stream, scrapes).await {
                log::debug!("metrics: {e}");
            }
            drop(permit);
        });
    }
}

async fn one<Q: From<Scrape>>(
    mut stream: TcpStream,
    scrapes: mpsc::Sender<Q>,
) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => {
            return respond(&mut stream, 431, "text/plain", "request head too large\n").await
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => return respond(&mut stream, 408, "text/plain", "request timed out\n").await,
    };
    let Some((method, path, accept)) = parse_head(&head) else {
        return respond(&mut stream, 400, "text/plain", "not an HTTP/1.x request\n").await;
    };
    if path != "/metrics" && !path.starts_with("/metrics?") {
        return respond(
            &mut stream,
            404,
            "text/plain",
            "only /metrics is served here\n",
        )
        .await;
    }
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, 405, "text/plain", "only GET is served\n").await;
    }
    let (tx, rx) = oneshot::channel();
    let scrape = Scrape {
        openmetrics: accept.contains("application/openmetrics-text"),
        reply: tx,
    };
    if scrapes.send(scrape.into()).await.is_err() {
        return respond(&mut stream, 503, "text/plain", "nstrace is stopping\n").await;
    }
    match rx.await {
        Ok((body, content_type)) if method == "GET" => {
            respond(&mut stream, 200, content_type, &body).await
        }
        Ok((_, content_type)) => respond(&mut stream, 200, content_type, "").await,
        Err(_) => respond(&mut stream, 503, "text/plain", "nstrace is stopping\n").await,
    }
}

/// Reads up to the blank line ending the head; `None` if it is too large.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Some(buf));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Ok(Some(buf));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

/// Method, path and the Accept header of a request head.
fn parse_head(head: &[u8]) -> Option<(&str, &str, String)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.lines();
    let mut first = lines.next()?.split(' ');
    let (method, path, version) = (first.next()?, first.next()?, first.next()?);
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let accept = lines
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("accept"))
        .map(|(_, v)| v.trim().to_string())
        .collect::<Vec<_>>()
        .join(",");
    Some((method, path, accept))
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_or_refused() {
        let (m, p, a) = parse_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n").unwrap();
        assert_eq!((m, p), ("GET", "/metrics"));
        assert!(a.contains("openmetrics"));
        assert!(parse_head(b"GET /metrics SPDY/3\r\n\r\n").is_none());
        assert!(parse_head(b"\xff\xfe").is_none());
        assert!(parse_head(b"").is_none());
    }
}
