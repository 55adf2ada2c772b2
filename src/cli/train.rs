//! `detente train`: fit the stance head on the labeled corpus.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use detente::model::{Encoder, resolve};
use detente::train::{DEFAULT_SEED, TrainOptions, train};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// A JSON Lines file or a directory of them ({"text", "label"} per line).
    #[arg(long, default_value = "models/data")]
    pub data: PathBuf,
    /// Where to write head.safetensors, config.json, MODEL_CARD.md and, when
    /// kept, adapter.safetensors and lexical.json.
    #[arg(long, default_value = "models/stance-head")]
    pub out: PathBuf,
    /// Seed for weight initialization: the same seed gives the same head.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Skip fine-tuning the encoder: frozen-encoder heads only, a few minutes
    /// instead of about an hour on 2 cores.
    #[arg(long)]
    pub no_finetune: bool,
    /// Skip the lexical model (word unigrams and bigrams) mixed with the head.
    #[arg(long)]
    pub no_lexical: bool,
    /// Encoder: a Hugging Face repo id or a local directory.
    #[arg(long, env = "DETENTE_MODEL", default_value = detente::model::DEFAULT_MODEL)]
    pub model: String,
    /// Revision of the encoder repo.
    #[arg(long, env = "DETENTE_REVISION", default_value = detente::model::DEFAULT_REVISION)]
    pub revision: String,
}

pub fn run(args: TrainArgs, quiet: bool) -> Result<ExitCode> {
    let files = resolve(&args.model, &args.revision)?;
    let mut encoder = Encoder::load(&files)?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    if let Ok(style) = ProgressStyle::with_template(
        "embedding {bar:30} {pos}/{len} statements {per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    let opts = TrainOptions {
        data: args.data,
        out: args.out.clone(),
        seed: args.seed,
        finetune: !args.no_finetune,
        lexical: !args.no_lexical,
    };
    let trained = train(&mut encoder, &files, &opts, &|what, done, total| {
        bar.set_message(what.to_string());
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let cfg = trained.head.config();
    println!("corpus: {} files", trained.files.len());
    for c in &cfg.candidates {
        println!(
            "  {:<40} dev macro-F1 {:.3}  accuracy {:.3}",
            c.name, c.dev_macro_f1, c.dev_accuracy
        );
    }
    println!(
        "chosen: {} (temperature {:.2})",
        cfg.kind.as_str(),
        cfg.temperature
    );
    for (split, m) in &cfg.metrics {
        println!("\n{split}:\n{}", m.report());
    }
    println!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
