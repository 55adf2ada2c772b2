//! `detente serve`: the gRPC server.
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use super::ModelArgs;
use detente::queue::QueueOptions;
use detente::server::{self, ApiKeys, Limits, ServeOptions, TlsPem};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: expose it deliberately.
    #[arg(long, env = "DETENTE_ADDR", default_value = "127.0.0.1:50051")]
    pub addr: SocketAddr,
    /// Largest article accepted, in bytes.
    #[arg(long, env = "DETENTE_MAX_ARTICLE_BYTES", default_value_t = 1 << 20)]
    pub max_article_bytes: usize,
    /// Statements per ClassifyStatements request.
    #[arg(long, env = "DETENTE_MAX_STATEMENTS", default_value_t = 1024)]
    pub max_statements: usize,
    /// Bytes per statement in ClassifyStatements.
    #[arg(long, env = "DETENTE_MAX_STATEMENT_BYTES", default_value_t = 64 << 10)]
    pub max_statement_bytes: usize,
    /// Quotations per article.
    #[arg(long, env = "DETENTE_MAX_QUOTES", default_value_t = 2000)]
    pub max_quotes: usize,
    /// Statements waiting for the model before new requests get RESOURCE_EXHAUSTED.
    #[arg(long, env = "DETENTE_MAX_QUEUED_STATEMENTS", default_value_t = 4096)]
    pub max_queued_statements: usize,
    /// Largest gRPC message accepted, in bytes.
    #[arg(long, env = "DETENTE_MAX_MESSAGE_BYTES", default_value_t = 4 << 20)]
    pub max_message_bytes: usize,
    /// HTTP/2 streams per connection.
    #[arg(long, env = "DETENTE_MAX_CONCURRENT_STREAMS", default_value_t = 256)]
    pub max_concurrent_streams: u32,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "DETENTE_DRAIN_SECONDS", default_value_t = 30)]
    pub drain_seconds: u64,
    /// Seconds between SIGTERM and closing the listener, with health already
    /// NOT_SERVING, so load balancers steer away first (5 suits Kubernetes).
    #[arg(long, env = "DETENTE_SHUTDOWN_DELAY_SECONDS", default_value_t = 0.0)]
    pub shutdown_delay_seconds: f64,
    /// Longest a unary request may run, in seconds (0: no cap); past it the
    /// caller gets DEADLINE_EXCEEDED. A client's shorter deadline
    /// (grpc-timeout) wins; AnalyzeArticles streams end only at the client's.
    #[arg(long, env = "DETENTE_REQUEST_TIMEOUT_SECONDS", default_value_t = 120.0)]
    pub request_timeout_seconds: f64,
    /// Serve Prometheus metrics at http://ADDR/metrics (off by default).
    #[arg(long, env = "DETENTE_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// File of accepted API keys, one per line; clients then must send
    /// `authorization: Bearer <key>`. Health and reflection stay open.
    #[arg(long, env = "DETENTE_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// PEM certificate chain: serve TLS (needs --tls-key).
    #[arg(long, env = "DETENTE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "DETENTE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let opts = ServeOptions {
        addr: args.addr,
        limits: Limits {
            max_article_bytes: args.max_article_bytes,
            max_statements: args.max_statements,
            max_statement_bytes: args.max_statement_bytes,
            max_quotes: args.max_quotes,
            ..Limits::default()
        },
        queue: QueueOptions {
            max_queued: args.max_queued_statements,
            ..QueueOptions::default()
        },
        max_message_bytes: args
            .max_message_bytes
            .max(args.max_article_bytes + (64 << 10)),
        max_concurrent_streams: args.max_concurrent_streams,
        drain: Duration::from_secs(args.drain_seconds),
        shutdown_delay: Duration::try_from_secs_f64(args.shutdown_delay_seconds)
            .context("--shutdown-delay-seconds must be a non-negative number")?,
        request_timeout: Some(
            Duration::try_from_secs_f64(args.request_timeout_seconds)
                .context("--request-timeout-seconds must be a non-negative number")?,
        )
        .filter(|t| !t.is_zero()),
        metrics_addr: args.metrics_addr,
        api_keys: args
            .api_key_file
            .as_deref()
            .map(ApiKeys::from_file)
            .transpose()
            .context("--api-key-file")?,
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsPem {
                cert: std::fs::read(cert)
                    .with_context(|| format!("--tls-cert {}", cert.display()))?,
                key: std::fs::read(key).with_context(|| format!("--tls-key {}", key.display()))?,
            }),
            _ => None,
        },
    };
    let tls = opts.tls.is_some();
    let rt = super::runtime()?;
    rt.block_on(server::serve(
        opts,
        args.model.options(),
        |bound| {
            // Scripts and tests read these lines to learn the ports (e.g. with
            // --addr 127.0.0.1:0): the metrics line first, when there is one,
            // then the listening line. Write errors are ignored: a reader that
            // has gone must not stop the server.
            let mut out = std::io::stdout();
            if let Some(m) = bound.metrics {
                let _ = writeln!(out, "detente: metrics on http://{m}/metrics");
            }
            let _ = writeln!(out, "detente: listening on {}", bound.grpc);
            let _ = out.flush();
            tracing::info!(addr = %bound.grpc, tls, "listening; loading the model");
        },
        server::shutdown_signal(),
    ))?;
    Ok(ExitCode::SUCCESS)
}
