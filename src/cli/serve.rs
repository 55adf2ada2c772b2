//! `detente serve`: the gRPC server.
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::ModelArgs;
use detente::queue::QueueOptions;
use detente::server::{self, Limits, ServeOptions};

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
    };
    let rt = super::runtime()?;
    rt.block_on(server::serve(
        opts,
        args.model.options(),
        |addr| {
            // Scripts and tests read this line to learn the port (e.g. with --addr 127.0.0.1:0).
            println!("detente: listening on {addr}");
            tracing::info!(%addr, "listening; loading the model");
        },
        server::shutdown_signal(),
    ))?;
    Ok(ExitCode::SUCCESS)
}
