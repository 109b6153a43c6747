//! The HTTP transport: the accept loop and each connection's life.
//!
//! `axum::serve` has no header-read timeout, no idle timeout and no limit on
//! connections, so a client trickling headers or parking thousands of idle
//! sockets could hold the server's memory and file descriptors (issue 13).
//! Here every connection is driven by hyper-util's builder (HTTP/1 and
//! HTTP/2, optionally over rustls) with:
//!
//! - a header-read timeout (HTTP/1: hyper also applies it to the wait for the
//!   next request on a kept-alive connection; a first request on any
//!   connection, HTTP/2 included, must arrive within it);
//! - an idle timeout: no byte read or written and no request being handled
//!   for that long closes the connection (HTTP/2's only idle bound, and a
//!   bound on a client that stops reading a response);
//! - a connection limit taken at accept: past it a new connection is closed
//!   at once instead of queueing, so existing ones keep working and the
//!   server keeps file descriptors for its own work;
//! - graceful shutdown: no new connections, in-flight requests finish, and
//!   what is still open after a grace period (live SSE streams) is closed.
//!
//! Each request carries the peer as `ConnectInfo<SocketAddr>` and the
//! resolved [`ClientInfo`] (address and scheme, honouring forwarded headers
//! only from trusted proxies) in its extensions.

pub mod headers;
pub mod proxy;
pub mod tls;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

pub use headers::security_headers;
pub use proxy::{client_addr, is_https, ClientInfo, TrustedProxies};

pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 60_000;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1_024;
pub const DEFAULT_MAX_SSE_CLIENTS: usize = 100;

/// File descriptors kept out of the connection budget: the database pool
/// (SQLite's WAL and shm files per connection), provider and sim sockets,
/// Codex children's pipes, logs.
const RESERVED_FDS: u64 = 256;

/// How long shutdown waits for open connections before closing them.
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How the server listens; from `switchyard serve`'s flags.
#[derive(Debug, Clone)]
pub struct TransportSettings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Live `/api/v1/decisions/stream` clients at once.
    pub max_sse_clients: usize,
    /// HTTPS with these PEM files instead of plain HTTP.
    pub tls: Option<tls::Tls>,
    /// Peers whose `Forwarded` / `X-Forwarded-*` headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Not a flag: tests shorten it.
    pub shutdown_grace: Duration,
}

impl Default for TransportSettings {
    fn default() -> Self {
        TransportSettings {
            header_timeout: Duration::from_millis(DEFAULT_HEADER_TIMEOUT_MS),
            idle_timeout: Duration::from_millis(DEFAULT_IDLE_TIMEOUT_MS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_sse_clients: DEFAULT_MAX_SSE_CLIENTS,
            tls: None,
            trusted_proxies: TrustedProxies::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

impl TransportSettings {
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// Loopback, including IPv4-mapped IPv6 (`::ffff:127.0.0.1`).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Serves `app` on `listener` until `shutdown` completes, then shuts down
/// gracefully.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    settings: &TransportSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    if !is_loopback(local.ip()) {
        tracing::warn!(
            bind = %local,
            "LISTENING BEYOND LOOPBACK: every host that can reach {local} can use this \
             server; put it behind authentication, TLS (--tls-cert/--tls-key) or a \
             reverse proxy (--trusted-proxy)"
        );
    }
    let max_connections = fit_to_fd_limit(settings.max_connections);
    let connections = Arc::new(Semaphore::new(max_connections));
    let shared = Arc::new(Shared::new(app, settings));
    let graceful = CancellationToken::new();
    let hard = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut saturated = false;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // The client gave up between SYN and accept: nothing to do.
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: retrying at once
                    // would spin; connections closing will free some.
                    tracing::error!(error = %e, "accepting a connection failed; retrying shortly");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    }
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            if !saturated {
                tracing::warn!(
                    limit = max_connections,
                    "connection limit reached: new connections are closed until some end \
                     (--max-connections)"
                );
                saturated = true;
            }
            drop(stream);
            continue;
        };
        saturated = false;
        let _ = stream.set_nodelay(true);
        tracker.spawn(connection(
            shared.clone(),
            stream,
            peer,
            permit,
            graceful.clone(),
            hard.clone(),
        ));
    }
    // Closing the listener first makes new connects fail fast instead of
    // waiting in the backlog of a server that will not accept them.
    drop(listener);
    graceful.cancel();
    tracker.close();
    if tokio::time::timeout(settings.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::info!(
            open = tracker.len(),
            "closing connections still open after the shutdown grace period"
        );
        hard.cancel();
        tracker.wait().await;
    }
    Ok(())
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The connection limit, lowered to what the file-descriptor limit leaves
/// room for after raising the soft limit as far as allowed: past it, accept
/// fails with EMFILE and nothing (not even `/healthz`) is answered.
fn fit_to_fd_limit(requested: usize) -> usize {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(fd_limit) => {
                let fitted = connections_within(requested, fd_limit);
                if fitted < requested {
                    tracing::warn!(
                        requested,
                        fd_limit,
                        using = fitted,
                        "the open-file limit leaves room for fewer connections than \
                         --max-connections; raise `ulimit -n` to allow more"
                    );
                }
                fitted
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the open-file limit");
                requested
            }
        }
    }
    #[cfg(not(unix))]
    requested
}

/// At most `requested`, leaving [`RESERVED_FDS`] of `fd_limit` for the rest
/// of the process; at least one.
pub fn connections_within(requested: usize, fd_limit: u64) -> usize {
    let room = fd_limit.saturating_sub(RESERVED_FDS).max(1);
    requested.min(usize::try_from(room).unwrap_or(usize::MAX))
}

/// What every connection task needs, built once.
struct Shared {
    app: axum::Router,
    builder: auto::Builder<TokioExecutor>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    trusted: TrustedProxies,
    streams: StreamSlots,
    header_timeout: Duration,
    idle_timeout: Duration,
}

impl Shared {
    fn new(app: axum::Router, settings: &TransportSettings) -> Shared {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_timeout)
            .keep_alive(true);
        builder.http2().timer(TokioTimer::new());
        Shared {
            app,
            builder,
            tls: settings
                .tls
                .as_ref()
                .map(|tls| tokio_rustls::TlsAcceptor::from(tls.config())),
            trusted: settings.trusted_proxies.clone(),
            streams: StreamSlots::new(settings.max_sse_clients),
            header_timeout: settings.header_timeout,
            idle_timeout: settings.idle_timeout,
        }
    }
}

async fn connection(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
    graceful: CancellationToken,
    hard: CancellationToken,
) {
    let activity = Arc::new(Activity::new());
    let io = Tracked {
        inner: tcp,
        activity: activity.clone(),
    };
    let Some(acceptor) = shared.tls.clone() else {
        drive(&shared, io, peer, false, &activity, &graceful, &hard).await;
        return;
    };
    // The handshake counts against the header timeout: a client that opens
    // a TLS connection and stalls must not hold a slot longer than one that
    // stalls in plain HTTP.
    let handshake = tokio::select! {
        r = tokio::time::timeout(shared.header_timeout, acceptor.accept(io)) => r,
        () = graceful.cancelled() => return,
    };
    match handshake {
        Ok(Ok(stream)) => drive(&shared, stream, peer, true, &activity, &graceful, &hard).await,
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

async fn drive<I>(
    shared: &Shared,
    io: I,
    peer: SocketAddr,
    tls: bool,
    activity: &Arc<Activity>,
    graceful: &CancellationToken,
    hard: &CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn({
        let app = shared.app.clone();
        let trusted = shared.trusted.clone();
        let streams = shared.streams.clone();
        let activity = activity.clone();
        move |mut req: hyper::Request<Incoming>| {
            host_from_authority(&mut req);
            let client = ClientInfo::resolve(peer, tls, req.headers(), &trusted);
            let extensions = req.extensions_mut();
            extensions.insert(ConnectInfo(peer));
            extensions.insert(client);
            extensions.insert(streams.clone());
            let busy = activity.begin_request();
            let app = app.clone();
            async move {
                let response = app.oneshot(req).await;
                drop(busy);
                response
            }
        }
    });
    let conn = shared.builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut closing = false;
    // After closing an idle connection, how long it may take (a response in
    // progress to a client that stopped reading) before it is dropped.
    let mut close_by: Option<Instant> = None;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = graceful.cancelled(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = activity.expired(shared.idle_timeout, shared.header_timeout), if !closing => {
                tracing::debug!(%peer, "closing an idle connection");
                conn.as_mut().graceful_shutdown();
                closing = true;
                close_by = Some(Instant::now() + shared.header_timeout);
            }
            () = tokio::time::sleep_until(close_by.unwrap_or_else(Instant::now)), if close_by.is_some() => return,
            () = hard.cancelled() => return,
        }
    }
}

/// HTTP/2 carries the host in `:authority`, not `Host` (RFC 9113 §8.3.1).
/// Code that checks the host (the Host guard, redirects) reads `Host`, so
/// it is set from the authority, which wins over any `Host` the client also
/// sent: one value, the one the request is really addressed to.
fn host_from_authority<B>(req: &mut hyper::Request<B>) {
    if req.version() != http::Version::HTTP_2 {
        return;
    }
    let Some(authority) = req.uri().authority() else {
        return;
    };
    if let Ok(host) = http::HeaderValue::from_str(authority.as_str()) {
        req.headers_mut().insert(http::header::HOST, host);
    }
}

/// When a connection last moved a byte, and whether a request is being
/// handled on it.
struct Activity {
    origin: Instant,
    /// Milliseconds after `origin`.
    last: AtomicU64,
    in_flight: AtomicUsize,
    served: AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    fn begin_request(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.served.store(true, Ordering::Relaxed);
        self.touch();
        Busy(self.clone())
    }

    /// Completes once the connection has been idle for `idle`, or has not
    /// begun a first request within `first_request`. A handler still running
    /// (a long test call, a doctor run) is not idleness.
    async fn expired(&self, idle: Duration, first_request: Duration) {
        loop {
            let now = Instant::now();
            let deadline = if self.in_flight.load(Ordering::Relaxed) > 0 {
                now + idle
            } else {
                let last = self.origin + Duration::from_millis(self.last.load(Ordering::Relaxed));
                let idle_at = last + idle;
                if self.served.load(Ordering::Relaxed) {
                    idle_at
                } else {
                    idle_at.min(self.origin + first_request)
                }
            };
            if deadline <= now {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A socket that records when it last moved a byte.
struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Slots for long-lived streaming responses (SSE), shared by every
/// connection of one server and put in each request's extensions.
#[derive(Clone)]
pub struct StreamSlots {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl StreamSlots {
    pub fn new(limit: usize) -> StreamSlots {
        StreamSlots {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }
}

/// Middleware for a streaming route: takes one of the server's
/// [`StreamSlots`] for as long as the response body lives, or answers 503
/// naming the limit. Without slots in the request (the router driven
/// without [`serve`], as in unit tests) streams are not limited.
pub async fn limit_streams(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use futures_util::StreamExt;

    let Some(streams) = req.extensions().get::<StreamSlots>().cloned() else {
        return next.run(req).await;
    };
    let Ok(permit) = streams.slots.try_acquire_owned() else {
        let limit = streams.limit;
        tracing::warn!(limit, "refused a live stream: too many open");
        let body = app::error::AppError {
            code: "unavailable".into(),
            message: format!(
                "too many live streams: at most {limit} may be open at once \
                 (--max-sse-clients); close one or try again later"
            ),
            details: Vec::new(),
            current_hash: None,
        };
        return (
            http::StatusCode::SERVICE_UNAVAILABLE,
            [(http::header::RETRY_AFTER, "5")],
            axum::Json(body),
        )
            .into_response();
    };
    let response = next.run(req).await;
    // The slot is the body's: it is released when the client goes away and
    // the body is dropped, not when the handler returns.
    response.map(|body| {
        axum::body::Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _held = &permit;
            chunk
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::connections_within;

    #[test]
    fn the_connection_limit_leaves_file_descriptors_for_the_rest() {
        // The review's box: 512 descriptors, and 3,000 idle connections
        // made /healthz unanswerable.
        assert_eq!(connections_within(1_024, 512), 256);
        assert_eq!(connections_within(1_024, 1_048_576), 1_024);
        assert_eq!(connections_within(10, 100), 1);
    }
}
