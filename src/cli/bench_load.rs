//! `detente bench-load`: a load generator for a detente server on this
//! machine. Bounded in requests and in time, and loopback only, so it can
//! never be pointed at someone else's service.
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use super::client::{Client, ConnectArgs};

#[derive(Args, Debug)]
pub struct BenchLoadArgs {
    /// The server (loopback addresses only).
    #[arg(long, env = "DETENTE_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Concurrent callers, each on its own connection.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Requests in all (each classifies one statement).
    #[arg(long, default_value_t = 1000)]
    pub requests: usize,
    /// Stop after this many seconds even if requests remain.
    #[arg(long, default_value_t = 120)]
    pub max_seconds: u64,
    /// Statements to send, one per line (cycled).
    #[arg(long, default_value = "benches/data/statements.txt")]
    pub statements: std::path::PathBuf,
}

fn loopback_only(url: &str) -> Result<()> {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host = rest.split('/').next().unwrap_or(rest);
    let host = match host.rsplit_once(':') {
        Some((h, _)) => h,
        None => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ok = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(
        ok,
        "bench-load only targets servers on this machine (loopback), not {host}"
    );
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn run(args: BenchLoadArgs) -> Result<ExitCode> {
    loopback_only(&args.server)?;
    let text = std::fs::read_to_string(&args.statements)
        .with_context(|| format!("cannot read {}", args.statements.display()))?;
    let statements: Arc<Vec<String>> = Arc::new(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect(),
    );
    anyhow::ensure!(!statements.is_empty(), "no statements");
    let concurrency = args.concurrency.clamp(1, 1024);
    let rt = super::runtime()?;
    rt.block_on(async move {
        let next = Arc::new(AtomicUsize::new(0));
        let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let mut client = Client::connect(&args.server, &args.connect).await?;
            let (next, statements) = (next.clone(), statements.clone());
            let total = args.requests;
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total || Instant::now() >= deadline {
                        break;
                    }
                    let s = statements[i % statements.len()].clone();
                    let t = Instant::now();
                    match client.classify(vec![s]).await {
                        Ok(_) => latencies.push(t.elapsed().as_secs_f64() * 1000.0),
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await?;
            all.extend(l);
            errors += e;
        }
        let elapsed = start.elapsed().as_secs_f64();
        all.sort_by(f64::total_cmp);
        println!(
            "{}",
            json!({
                "concurrency": concurrency,
                "requests": all.len(),
                "errors": errors,
                "seconds": (elapsed * 100.0).round() / 100.0,
                "requests_per_s": ((all.len() as f64 / elapsed) * 10.0).round() / 10.0,
                "p50_ms": (percentile(&all, 0.50) * 10.0).round() / 10.0,
                "p95_ms": (percentile(&all, 0.95) * 10.0).round() / 10.0,
                "p99_ms": (percentile(&all, 0.99) * 10.0).round() / 10.0,
            })
        );
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        assert!(loopback_only("http://127.0.0.1:50051").is_ok());
        assert!(loopback_only("http://localhost:1").is_ok());
        assert!(loopback_only("http://[::1]:50051").is_ok());
        assert!(loopback_only("http://10.0.0.5:50051").is_err());
        assert!(loopback_only("http://example.com:443").is_err());
    }
}
