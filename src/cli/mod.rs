//! The `detente` command line: argument definitions and dispatch. Each
//! subcommand lives in its own file and stays thin over the library.
mod analyze;
mod bench;
mod bench_load;
mod classify;
mod client;
mod eval;
mod extract;
mod info;
mod input;
mod output;
mod serve;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use detente::ModelOptions;
use detente::model::BatchLimits;

const EXAMPLES: &str = "\
Examples:
  detente analyze examples/ceasefire-talks.txt
  detente analyze --format json article.txt
  detente classify \"We are ready to talk.\" \"Any attack will be answered.\"
  detente serve --addr 127.0.0.1:50051
  detente analyze --server http://127.0.0.1:50051 article.txt";

#[derive(Parser, Debug)]
#[command(
    name = "detente",
    version,
    about = "Finds quoted statements in news articles, labels their stance \
             (optimistic, threatening, conciliatory, neutral) and scores each article's tension.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "DETENTE_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// More logging (-v: info, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyze articles: quotations, speakers, stances and the tension score.
    #[command(
        after_help = "Examples:\n  detente analyze article.txt\n  detente analyze --format json a.txt b.txt\n  cat article.txt | detente analyze -\n  detente analyze --server http://127.0.0.1:50051 article.txt"
    )]
    Analyze(analyze::AnalyzeArgs),
    /// Label statements given as arguments, or one per line on stdin.
    #[command(
        after_help = "Examples:\n  detente classify \"We will respond with force.\"\n  detente classify --format jsonl < statements.txt"
    )]
    Classify(classify::ClassifyArgs),
    /// Find quotations and their speakers (no model needed).
    #[command(
        after_help = "Examples:\n  detente extract article.txt\n  detente extract --format json article.txt"
    )]
    Extract(extract::ExtractArgs),
    /// Show the model, its labels and the stance head's metrics.
    #[command(
        after_help = "Examples:\n  detente info\n  detente info --server http://127.0.0.1:50051"
    )]
    Info(info::InfoArgs),
    /// Serve the gRPC API (detente.v1, health, reflection).
    #[command(
        after_help = "Examples:\n  detente serve\n  detente serve --addr 0.0.0.0:50051 --max-batch-size 64"
    )]
    Serve(serve::ServeArgs),
    /// Train the stance head on a labeled corpus.
    #[command(
        after_help = "Examples:\n  detente train --data models/data --out models/stance-head"
    )]
    Train(train::TrainArgs),
    /// Score the stance head on a labeled JSON Lines file.
    #[command(
        after_help = "Examples:\n  detente eval --data labeled.jsonl\n  detente eval --data labeled.jsonl --server http://127.0.0.1:50051"
    )]
    Eval(eval::EvalArgs),
    /// Time in-process classification (statements/s), for scripts/bench-compare.
    #[command(hide = true)]
    Bench(bench::BenchArgs),
    /// Load a detente server on this machine: throughput and p50/p95/p99 latency.
    #[command(
        after_help = "Examples:\n  detente bench-load --server http://127.0.0.1:50051 --concurrency 8 --requests 2000"
    )]
    BenchLoad(bench_load::BenchLoadArgs),
    /// Print shell completions.
    #[command(
        after_help = "Examples:\n  detente completions bash > /etc/bash_completion.d/detente"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from these same definitions.
    #[command(
        hide = true,
        after_help = "Examples:\n  detente man > detente.1 && man ./detente.1"
    )]
    Man,
}

/// Where the model comes from.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Encoder: a Hugging Face repo id (looked up in the HF cache, then
    /// downloaded unless HF_HUB_OFFLINE=1) or a local directory.
    #[arg(long, env = "DETENTE_MODEL", default_value = detente::model::DEFAULT_MODEL)]
    pub model: String,
    /// Revision of the repo (branch, tag or commit hash).
    #[arg(long, env = "DETENTE_REVISION", default_value = detente::model::DEFAULT_REVISION)]
    pub revision: String,
    /// Directory of the stance head (head.safetensors, config.json, and the
    /// adapter and lexical model when it has them).
    #[arg(long, env = "DETENTE_HEAD")]
    pub head: Option<PathBuf>,
    /// Statements per forward pass.
    #[arg(long, env = "DETENTE_MAX_BATCH_SIZE", default_value_t = 32)]
    pub max_batch_size: usize,
    /// Padded tokens per forward pass (batch size × longest statement).
    #[arg(long, env = "DETENTE_MAX_BATCH_TOKENS", default_value_t = 8192)]
    pub max_batch_tokens: usize,
    /// Arithmetic of the encoder's linear layers: bf16 is about twice as fast
    /// on CPUs with AVX-512 BF16 and agrees with f32 on all but a fraction of
    /// a percent of labels; auto picks bf16 where the CPU has it.
    #[arg(long, env = "DETENTE_PRECISION", value_enum, default_value_t = PrecisionArg::Auto)]
    pub precision: PrecisionArg,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    Auto,
    F32,
    Bf16,
}

impl From<PrecisionArg> for detente::model::Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::Auto => Self::Auto,
            PrecisionArg::F32 => Self::F32,
            PrecisionArg::Bf16 => Self::Bf16,
        }
    }
}

impl ModelArgs {
    pub fn options(&self) -> ModelOptions {
        ModelOptions {
            model: self.model.clone(),
            revision: self.revision.clone(),
            head: self
                .head
                .clone()
                .unwrap_or_else(detente::analyzer::default_head_dir),
            limits: BatchLimits {
                max_batch_size: self.max_batch_size,
                max_batch_tokens: self.max_batch_tokens,
            },
            precision: self.precision.into(),
        }
    }
}

/// Runs a parsed command. Errors reach `main` as one line; partial failures
/// (some inputs bad) come back as exit code 1.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Analyze(a) => analyze::run(a, quiet),
        Command::Classify(a) => classify::run(a),
        Command::Extract(a) => extract::run(a),
        Command::Info(a) => info::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Train(a) => train::run(a, quiet),
        Command::Eval(a) => eval::run(a, quiet),
        Command::Bench(a) => bench::run(a),
        Command::BenchLoad(a) => bench_load::run(a),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "detente", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A current-thread runtime for the client side of the CLI.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
