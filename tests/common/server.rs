//! Starts the real `detente serve` on a free loopback port, and the small
//! request and assertion blocks the server and CLI tests share.
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::pin::Pin;
use std::process::{Child, Command, Output, Stdio};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use detente::proto::{self, detente_client::DetenteClient};
use tonic::transport::Channel;
pub use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// The service name health reports on.
pub const DETENTE: &str = "detente.v1.Detente";

/// A running server, killed on drop.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// `http://ADDR/metrics` when started with `--metrics-addr`.
    pub metrics: Option<String>,
    /// PEM of the CA that signed the server's certificate, when serving TLS.
    pub ca: Option<Vec<u8>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn detente() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_detente"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env_remove("DETENTE_SERVER");
    cmd
}

/// Starts `detente serve --addr 127.0.0.1:0 EXTRA...` and waits (up to two
/// minutes) until health says SERVING.
pub async fn start(extra: &[&str]) -> Server {
    launch(extra, None).await
}

/// Like [`start`], with `--metrics-addr 127.0.0.1:0` so that
/// [`Server::metric`] can read the Prometheus metrics.
pub async fn start_metered(extra: &[&str]) -> Server {
    let mut args = vec!["--metrics-addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    launch(&args, None).await
}

/// Like [`start`], serving TLS: `ca` is the PEM of the CA behind `--tls-cert`.
pub async fn start_tls(extra: &[&str], ca: &[u8]) -> Server {
    launch(extra, Some(ca)).await
}

async fn launch(extra: &[&str], ca: Option<&[u8]>) -> Server {
    let mut cmd = detente();
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("start detente serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut metrics = None;
    let addr = loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read listening line");
        if let Some(m) = line.trim().strip_prefix("detente: metrics on ") {
            metrics = Some(m.to_string());
            continue;
        }
        break line
            .trim()
            .strip_prefix("detente: listening on ")
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .to_string();
    };
    let scheme = if ca.is_some() { "https" } else { "http" };
    let server = Server {
        child,
        url: format!("{scheme}://{addr}"),
        metrics,
        ca: ca.map(<[u8]>::to_vec),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "server not SERVING after two minutes"
        );
        if let Ok(channel) = server.channel().await
            && health(channel, DETENTE).await == Some(ServingStatus::Serving)
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn channel(url: &str) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(url.to_string())?
        .connect()
        .await
}

/// A TLS channel trusting `ca` (the server's certificate names `localhost`).
pub async fn tls_channel(
    url: &str,
    ca: &[u8],
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca))
        .domain_name("localhost");
    tonic::transport::Endpoint::from_shared(url.to_string())?
        .tls_config(tls)?
        .connect()
        .await
}

impl Server {
    /// A detente client on a new connection to this server.
    pub async fn client(&self) -> DetenteClient<Channel> {
        DetenteClient::new(self.channel().await.expect("connect to the server"))
    }

    /// A new connection to this server, over TLS when it serves TLS.
    pub async fn channel(&self) -> Result<tonic::transport::Channel, tonic::transport::Error> {
        match &self.ca {
            Some(ca) => tls_channel(&self.url, ca).await,
            None => channel(&self.url).await,
        }
    }

    /// One metric's value from /metrics: the sum over every series whose
    /// name and labels start with `prefix` (e.g. `detente_requests_total{code="OK"`).
    pub async fn metric(&self, prefix: &str) -> f64 {
        let url = self
            .metrics
            .as_deref()
            .expect("started with --metrics-addr");
        let text = http_get(url).await;
        text.lines()
            .filter(|l| !l.starts_with('#') && l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// A plain HTTP/1.0 GET on loopback, returning the body.
pub async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http:// URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    stream
        .write_all(format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((_, body)) => body.to_string(),
        None => text,
    }
}

/// What health answers for `service` ("" for the process), or `None` when
/// the call fails.
pub async fn health(channel: Channel, service: &str) -> Option<ServingStatus> {
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .ok()?
        .into_inner()
        .status;
    ServingStatus::try_from(status).ok()
}

/// A ClassifyStatements request for `statements`.
pub fn statements(statements: &[&str]) -> proto::ClassifyStatementsRequest {
    proto::ClassifyStatementsRequest {
        statements: statements.iter().map(|s| s.to_string()).collect(),
    }
}

/// Asserts that the server labels one statement, and labels it for its caller.
pub async fn answers_one_statement(client: &mut DetenteClient<Channel>) {
    let text = "We are ready to talk.";
    let r = client
        .classify_statements(statements(&[text]))
        .await
        .expect("the server answers")
        .into_inner()
        .results;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].text, text);
}

/// Asserts that a call failed with `code` and a message naming `needle`
/// (e.g. the flag that sets the limit); returns the status.
pub fn refused<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    needle: &str,
) -> tonic::Status {
    let err = result.expect_err("the call should have failed");
    assert_eq!(err.code(), code, "{err:?}");
    assert!(err.message().contains(needle), "{}", err.message());
    err
}

/// The stdout of a run that must have succeeded (else: its status and stderr).
pub fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).expect("UTF-8 stdout")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One JSON value per line.
pub fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// Writes `contents` to `name` in `dir`; returns the path as a flag value.
pub fn write_file(dir: &tempfile::TempDir, name: &str, contents: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("write a test file");
    path.to_str().expect("UTF-8 temporary path").to_string()
}

/// An HTTP/2 connection without tonic's client-side deadline timer.
///
/// tonic's `Channel` enforces a request's `grpc-timeout` itself and reports
/// its own expiry as CANCELLED, usually a moment before the server's answer
/// arrives; over this connection a caller sees the code the server sent.
#[derive(Clone)]
pub struct PlainH2(hyper::client::conn::http2::SendRequest<tonic::body::Body>);

impl tower::Service<http::Request<tonic::body::Body>> for PlainH2 {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, hyper::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(self.0.send_request(req))
    }
}

/// A detente client over a [`PlainH2`] connection to a plaintext `http://` URL.
pub async fn plain_h2_client(url: &str) -> DetenteClient<PlainH2> {
    let addr = url.strip_prefix("http://").expect("a plaintext server");
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the server");
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    DetenteClient::with_origin(PlainH2(send), url.parse().expect("server URL"))
}
