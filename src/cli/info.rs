//! `detente info`: what model is loaded and how good its head is.
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::{
    ModelArgs,
    client::{Client, ConnectArgs},
    output,
};
use detente::Analyzer;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Ask a detente server instead of loading the model here.
    #[arg(long, env = "DETENTE_SERVER")]
    pub server: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: InfoArgs) -> Result<ExitCode> {
    let info = match &args.server {
        Some(url) => super::runtime()?
            .block_on(async { Client::connect(url, &args.connect).await?.info().await })?,
        None => Analyzer::load(&args.model.options())?.info(),
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&output::to_json(&info)?)?
        ),
        Format::Text => {
            println!("detente {}", info.version);
            println!("encoder     {} (revision {})", info.model_id, info.revision);
            println!(
                "vectors     {} dimensions, at most {} tokens",
                info.embedding_size, info.max_tokens
            );
            println!(
                "labels      {}",
                info.labels
                    .iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("arithmetic  {}", info.precision);
            if info.lexical_weight > 0.0 {
                println!(
                    "stance head {}, mixed with a lexical model at {:.1}",
                    info.head_kind, info.lexical_weight
                );
            } else {
                println!("stance head {}", info.head_kind);
            }
            for m in &info.head_metrics {
                println!(
                    "  {:<5} {:>4} statements  accuracy {:.3}  macro-F1 {:.3}  ECE {:.3}",
                    m.split, m.size, m.accuracy, m.macro_f1, m.ece
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
