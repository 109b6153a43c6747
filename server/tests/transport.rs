//! The HTTP transport against slow, idle and excess clients (issue 13: a
//! trickling client held a connection past 70 s, 3,000 idle ones took
//! 280 MB and, at the file limit, /healthz), security headers, TLS and
//! forwarded headers. Timeouts are configured small; every wait is for the
//! server to close a socket, under a generous outer bound.

mod common;

use common::{Api, TestServer};
use server::net::proxy::parse_trusted_proxy;
use server::net::tls::Tls;
use server::net::{TransportSettings, TrustedProxies};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far longer than any configured timeout here, and shorter than hyper's
/// own 30 s header default, so a server without these bounds fails.
const OUTER: Duration = Duration::from_secs(15);

fn settings(f: impl FnOnce(&mut TransportSettings)) -> TransportSettings {
    let mut t = TransportSettings {
        header_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        ..TransportSettings::default()
    };
    f(&mut t);
    t
}

/// A logged-in test server with `transport`.
async fn start(data_dir: &std::path::Path, transport: TransportSettings) -> TestServer {
    TestServer::start_with(data_dir, move |s| s.transport = transport).await
}

/// A server without the test client's logged-in connections, for tests
/// that count connections or speak TLS. Its first admin has
/// [`common::ADMIN_PASSWORD`].
struct Bare {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Bare {
    async fn start(data_dir: &std::path::Path, transport: TransportSettings) -> Bare {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut settings = server::settings::Settings::for_data_dir(addr, data_dir);
        settings.self_exe = Some(env!("CARGO_BIN_EXE_switchyard").into());
        settings.admin_password = Some(server::settings::Password(common::ADMIN_PASSWORD.into()));
        settings.transport = transport;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve::serve(settings, listener, async {
            let _ = stopped.await;
        }));
        Bare { addr, stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Reads until the server closes the connection (EOF or reset); `None` if
/// it is still open after [`OUTER`].
async fn until_closed(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(OUTER, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| seen)
}

/// One keep-alive `GET` on a raw connection; the status line and body, or
/// `None` if the server closed the connection instead of answering.
async fn get_on(conn: &mut TcpStream, path: &str) -> Option<(String, String)> {
    let host = conn.peer_addr().unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    if conn.write_all(request.as_bytes()).await.is_err() {
        return None;
    }
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(OUTER, async {
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    let status = head.lines().next().unwrap_or_default().to_owned();
                    return Some((status, body.to_owned()));
                }
            }
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("no answer and no close")
}

#[tokio::test]
async fn trickled_headers_are_cut_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let header_timeout = Duration::from_millis(300);
    let server = start(dir.path(), settings(|t| t.header_timeout = header_timeout)).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nX-Trickle: ")
        .await
        .unwrap();
    // One byte of one header at a time: never too many headers, never too
    // large, never complete.
    let mut trickle = tokio::time::interval(Duration::from_millis(50));
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(OUTER, async {
        loop {
            tokio::select! {
                n = conn.read(&mut buf) => if matches!(n, Ok(0) | Err(_)) { return },
                _ = trickle.tick() => if conn.write_all(b"a").await.is_err() { return },
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a client trickling its headers kept the connection for {OUTER:?}"
    );
    assert!(started.elapsed() >= header_timeout);
    server.stop().await;
}

#[tokio::test]
async fn a_connection_that_never_sends_a_request_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        settings(|t| t.header_timeout = Duration::from_millis(300)),
    )
    .await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        until_closed(&mut conn).await.is_some(),
        "a silent connection stayed open for {OUTER:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        settings(|t| t.idle_timeout = Duration::from_millis(300)),
    )
    .await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let (status, body) = get_on(&mut conn, "/healthz").await.expect("answered");
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "ok\n")
    );
    assert!(
        until_closed(&mut conn).await.is_some(),
        "an idle keep-alive connection stayed open for {OUTER:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn http2_is_served_and_an_idle_http2_connection_is_closed() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        settings(|t| t.idle_timeout = Duration::from_millis(300)),
    )
    .await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake::<_, _, Empty<axum::body::Bytes>>(
        TokioExecutor::new(),
        TokioIo::new(tcp),
    )
    .await
    .unwrap();
    let conn = tokio::spawn(conn);
    let request = http::Request::get(format!("http://{}/healthz", server.addr))
        .body(Empty::new())
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"ok\n");
    // The client keeps the connection; the server must end it.
    let ended = tokio::time::timeout(OUTER, conn).await;
    assert!(
        ended.is_ok(),
        "an idle HTTP/2 connection stayed open for {OUTER:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn past_the_connection_limit_new_connections_are_closed_and_old_ones_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = Bare::start(dir.path(), settings(|t| t.max_connections = 3)).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut conn = TcpStream::connect(server.addr).await.unwrap();
        // Answered, so it holds one of the server's slots.
        assert!(get_on(&mut conn, "/healthz").await.is_some());
        open.push(conn);
    }
    let mut excess = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(
        get_on(&mut excess, "/healthz").await,
        None,
        "a connection past the limit was served"
    );
    // The connections already open are unaffected.
    let (status, _) = get_on(&mut open[0], "/healthz").await.expect("answered");
    assert_eq!(status, "HTTP/1.1 200 OK");
    // Once clients leave, new connections are answered again.
    open.truncate(1);
    let answered = tokio::time::timeout(OUTER, async {
        let mut retry = tokio::time::interval(Duration::from_millis(20));
        loop {
            retry.tick().await;
            let mut conn = TcpStream::connect(server.addr).await.unwrap();
            if let Some((status, _)) = get_on(&mut conn, "/healthz").await {
                return status;
            }
        }
    })
    .await
    .expect("/healthz never answered again after connections closed");
    assert_eq!(answered, "HTTP/1.1 200 OK");
    server.stop().await;
}

#[tokio::test]
async fn past_the_sse_limit_the_stream_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), settings(|t| t.max_sse_clients = 2)).await;
    let url = format!("{}/api/v1/decisions/stream", server.base);
    // A client each, so each stream has its own connection.
    let open = || {
        let http = Api::with_token(&server.base, &server.admin_token).http;
        let url = url.clone();
        async move { http.get(&url).send().await.unwrap() }
    };
    let first = open().await;
    let second = open().await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open().await;
    assert_eq!(third.status(), 503);
    assert_eq!(third.headers()["retry-after"], "5");
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["code"], "unavailable");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("at most 2") && message.contains("--max-sse-clients"),
        "{message}"
    );
    // Other endpoints are not limited by it.
    assert_eq!(server.get("/api/v1/decisions").await.0, 200);
    // A client that leaves frees its slot.
    drop(first);
    let reopened = tokio::time::timeout(OUTER, async {
        let mut retry = tokio::time::interval(Duration::from_millis(20));
        loop {
            retry.tick().await;
            let response = open().await;
            if response.status() == 200 {
                return response;
            }
        }
    })
    .await
    .expect("a closed stream's slot was never released");
    drop((second, reopened));
    server.stop().await;
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} on {}", response.url()))
        .to_str()
        .unwrap()
}

/// The nonce a page's CSP allows, and every `nonce="…"` in its HTML.
fn nonces(policy: &str, html: &str) -> (String, Vec<String>) {
    let allowed = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the page's CSP")
        .to_owned();
    let used = html
        .split("nonce=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    (allowed, used)
}

#[tokio::test]
async fn security_headers_on_pages_api_answers_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let get = |path: &str| server.http.get(format!("{}{path}", server.base)).send();
    let page = get("/").await.unwrap();
    let api = get("/api/v1/agents").await.unwrap();
    let api_error = get("/api/v1/agents/no-such-agent").await.unwrap();
    let missing_page = get("/no-such-page").await.unwrap();
    assert_eq!(
        [
            page.status(),
            api.status(),
            api_error.status(),
            missing_page.status()
        ],
        [200, 200, 404, 404]
    );
    for response in [&page, &api, &api_error, &missing_page] {
        assert_eq!(header(response, "x-content-type-options"), "nosniff");
        assert_eq!(header(response, "x-frame-options"), "DENY");
        assert_eq!(header(response, "referrer-policy"), "same-origin");
        assert_eq!(
            header(response, "cross-origin-opener-policy"),
            "same-origin"
        );
        let policy = header(response, "content-security-policy");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        // Plain HTTP from an untrusted peer: no HSTS.
        assert!(response
            .headers()
            .get("strict-transport-security")
            .is_none());
    }
    for response in [&api, &api_error] {
        assert_eq!(header(response, "cache-control"), "no-store");
        assert!(header(response, "content-security-policy").starts_with("default-src 'none'"));
    }
    // Pages: a fresh nonce per response, and exactly the one every inline
    // script of that response carries (the hydration script among them).
    let mut seen = Vec::new();
    for response in [page, missing_page, get("/").await.unwrap()] {
        let policy = header(&response, "content-security-policy").to_owned();
        assert!(policy.contains("'wasm-unsafe-eval'"), "{policy}");
        let html = response.text().await.unwrap();
        let (allowed, used) = nonces(&policy, &html);
        assert!(html.contains("<script type=\"module\" nonce="), "{html}");
        assert!(
            !used.is_empty() && used.iter().all(|n| *n == allowed),
            "{allowed} vs {used:?}"
        );
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script type=\"module\" nonce=").count()
                + html.matches("<script nonce=").count(),
            "an inline script without the nonce: {html}"
        );
        seen.push(allowed);
    }
    assert!(seen[0] != seen[1] && seen[0] != seen[2] && seen[1] != seen[2]);
    server.stop().await;
}

/// A self-signed certificate for `localhost` and its key, as PEM files.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    (cert_path, key_path, cert.pem())
}

#[tokio::test]
async fn with_a_certificate_the_server_speaks_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = self_signed(dir.path());
    let tls = Tls::load(&cert, &key).unwrap();
    let server = Bare::start(dir.path(), settings(|t| t.tls = Some(tls))).await;
    let addr = server.addr;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .resolve("localhost", addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", addr.port());
    let response = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("HTTPS with the given certificate");
    assert_eq!(response.status(), 200);
    // ALPN offers h2.
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(
        header(&response, "strict-transport-security"),
        "max-age=31536000"
    );
    assert_eq!(response.text().await.unwrap(), "ok\n");
    // A login from the HTTPS origin is accepted, and its cookie is Secure.
    let login = client
        .post(format!("{base}/auth/login"))
        .header("origin", &base)
        .form(&[
            ("name", "admin"),
            ("password", common::ADMIN_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = header(&login, "set-cookie").to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    let agents = client
        .get(format!("{base}/api/v1/agents"))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(agents.status(), 200);
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::get(format!("http://{addr}/healthz")).await;
    assert!(plain.is_err(), "{plain:?}");
    server.stop().await;
}

#[test]
fn unusable_tls_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = self_signed(dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a key").unwrap();
    let e = format!("{:#}", Tls::load(&cert, &garbage).unwrap_err());
    assert!(e.contains("--tls-key") && e.contains("garbage.pem"), "{e}");
    let e = format!("{:#}", Tls::load(&garbage, &key).unwrap_err());
    assert!(e.contains("--tls-cert") && e.contains("garbage.pem"), "{e}");
    // A key that is not the certificate's.
    let (_, other_key, _) = self_signed(&{
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        other
    });
    let e = format!("{:#}", Tls::load(&cert, &other_key).unwrap_err());
    assert!(e.contains("do not make a usable pair"), "{e}");
}

/// A server whose only route answers with what the transport says about
/// the caller.
async fn whoami(trusted: &[&str]) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    use axum::extract::{ConnectInfo, Request};
    let app = axum::Router::new().route(
        "/whoami",
        axum::routing::get(
            |ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request| async move {
                format!(
                    "{} {} {}",
                    server::net::client_addr(&req),
                    server::net::is_https(&req),
                    peer.ip()
                )
            },
        ),
    );
    let transport = settings(|t| {
        t.trusted_proxies = TrustedProxies::new(
            trusted
                .iter()
                .map(|n| parse_trusted_proxy(n).unwrap())
                .collect(),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        server::net::serve(listener, app, &transport, async {
            let _ = stopped.await;
        })
        .await
    });
    (addr, stop)
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let spoofed = |addr: SocketAddr| {
        reqwest::Client::new()
            .get(format!("http://{addr}/whoami"))
            .header("x-forwarded-for", "203.0.113.9")
            .header("x-forwarded-proto", "https")
            .send()
    };
    let (untrusted, _stop_untrusted) = whoami(&[]).await;
    let answer = spoofed(untrusted).await.unwrap().text().await.unwrap();
    assert_eq!(answer, "127.0.0.1 false 127.0.0.1");
    let (elsewhere, _stop_elsewhere) = whoami(&["10.0.0.0/8"]).await;
    let answer = spoofed(elsewhere).await.unwrap().text().await.unwrap();
    assert_eq!(answer, "127.0.0.1 false 127.0.0.1");
    let (trusted, _stop_trusted) = whoami(&["127.0.0.1"]).await;
    let answer = spoofed(trusted).await.unwrap().text().await.unwrap();
    assert_eq!(answer, "203.0.113.9 true 127.0.0.1");
    let answer = reqwest::Client::new()
        .get(format!("http://{trusted}/whoami"))
        .header("forwarded", "for=\"[2001:db8::7]:5000\";proto=https")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(answer, "2001:db8::7 true 127.0.0.1");
}

#[tokio::test]
async fn hsts_follows_a_trusted_proxys_word_on_https() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        settings(|t| {
            t.trusted_proxies = TrustedProxies::new(vec![parse_trusted_proxy("127.0.0.1").unwrap()])
        }),
    )
    .await;
    let response = server
        .http
        .get(format!("{}/healthz", server.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "strict-transport-security"),
        "max-age=31536000"
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_ends_even_with_live_streams_and_idle_connections() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        settings(|t| t.shutdown_grace = Duration::from_millis(300)),
    )
    .await;
    let stream = server
        .http
        .get(format!("{}/api/v1/decisions/stream", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    assert!(get_on(&mut idle, "/healthz").await.is_some());
    let addr = server.addr;
    assert!(
        tokio::time::timeout(OUTER, server.stop()).await.is_ok(),
        "shutdown waited on a live stream for {OUTER:?}"
    );
    assert!(until_closed(&mut idle).await.is_some());
    // Nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
    drop(stream);
}

#[test]
fn a_bind_beyond_loopback_is_announced() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--bind", "0.0.0.0:0", "--no-demo"])
        .args(["--public-url", "http://switchyard.test:3000", "--data-dir"])
        .arg(dir.path())
        .arg("--site-root")
        .arg(dir.path().join("site"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + OUTER * 2;
    let mut log = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(line) if line.contains("LISTENING BEYOND LOOPBACK") => break true,
            Ok(line) => log.push(line),
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        found,
        "no warning for --bind 0.0.0.0; log:\n{}",
        log.join("\n")
    );
}

#[test]
fn bad_transport_flags_stop_the_server_before_it_opens_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--site-root", "."])
            .args(extra)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let e = serve(&["--tls-cert", missing, "--tls-key", missing]);
    assert!(e.contains("--tls-cert") && e.contains("missing.pem"), "{e}");
    let e = serve(&["--tls-cert", missing]);
    assert!(e.contains("--tls-key"), "{e}");
    let e = serve(&["--trusted-proxy", "proxy.local"]);
    assert!(
        e.contains("`proxy.local` is not an IP address or network"),
        "{e}"
    );
    let e = serve(&["--max-connections", "0"]);
    assert!(e.contains("--max-connections"), "{e}");
    assert!(!dir.path().join("switchyard.db").exists());
}
