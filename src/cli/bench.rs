//! `detente bench`: statements/s of in-process classification, printed as
//! JSON lines in the same shape as `scripts/bench_peer.py`, so
//! `scripts/bench-compare` can set them side by side.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use super::ModelArgs;
use detente::Analyzer;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Statements, one per line.
    #[arg(long, default_value = "benches/data/statements.txt")]
    pub statements: PathBuf,
    /// Minimum seconds per configuration.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Batch sizes to time.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    pub batch: Vec<usize>,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.statements)
        .with_context(|| format!("cannot read {}", args.statements.display()))?;
    let statements: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    anyhow::ensure!(
        !statements.is_empty(),
        "{} has no statements",
        args.statements.display()
    );
    let analyzer = Analyzer::load(&args.model.options())?;
    let precision = analyzer.encoder().precision().to_string();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for &batch in &args.batch {
        let batch = batch.max(1);
        let items: Vec<&str> = statements
            .iter()
            .cycle()
            .take(batch.max(32))
            .copied()
            .collect();
        let run = || -> Result<()> {
            for chunk in items.chunks(batch) {
                analyzer.classify(chunk)?;
            }
            Ok(())
        };
        run()?; // warm-up
        let start = Instant::now();
        let mut runs = 0usize;
        while start.elapsed() < Duration::from_secs_f64(args.seconds) || runs == 0 {
            run()?;
            runs += 1;
        }
        let rate = (runs * items.len()) as f64 / start.elapsed().as_secs_f64();
        let config = if batch == 1 {
            "one at a time".to_string()
        } else {
            format!("batch {batch}")
        };
        println!(
            "{}",
            json!({"engine": "detente", "config": config, "precision": precision,
                   "threads": threads, "statements_per_s": (rate * 10.0).round() / 10.0})
        );
    }
    Ok(ExitCode::SUCCESS)
}
