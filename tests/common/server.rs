//! Starts the real `detente serve` on a free loopback port.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

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
    start_with(extra, &[], None).await
}

/// Like [`start`], with environment variables, and TLS when `ca` (the PEM of
/// the CA behind `--tls-cert`) is given. Reads the metrics line when present.
pub async fn start_with(extra: &[&str], env: &[(&str, &str)], ca: Option<&[u8]>) -> Server {
    let mut cmd = detente();
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .envs(env.iter().copied())
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
        if let Ok(channel) = server.channel().await {
            let mut health = HealthClient::new(channel);
            let status = health
                .check(HealthCheckRequest {
                    service: "detente.v1.Detente".into(),
                })
                .await
                .map(|r| r.into_inner().status)
                .ok();
            if status == Some(ServingStatus::Serving as i32) {
                return server;
            }
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
