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
    let mut cmd = detente();
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("start detente serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read listening line");
    let addr = line
        .trim()
        .strip_prefix("detente: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let server = Server {
        child,
        url: format!("http://{addr}"),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "server not SERVING after two minutes");
        if let Ok(mut health) = HealthClient::connect(server.url.clone()).await {
            let status = health
                .check(HealthCheckRequest {
                    service: "detente.v1.Detente".into(),
                })
                .await
                .map(|r| r.into_inner().status);
            if status == Ok(ServingStatus::Serving as i32) {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
