//! `detente eval`: quality of the stance head on a labeled file.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::{
    ModelArgs,
    client::{Client, ConnectArgs},
};
use detente::Analyzer;
use detente::train::{data::read_jsonl, evaluate_examples};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// JSON Lines with {"text", "label"} per line.
    #[arg(long)]
    pub data: PathBuf,
    /// Evaluate a detente server instead of loading the model here.
    #[arg(long, env = "DETENTE_SERVER")]
    pub server: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: EvalArgs, _quiet: bool) -> Result<ExitCode> {
    let examples = read_jsonl(&args.data)?;
    let texts: Vec<String> = examples.iter().map(|e| e.text.clone()).collect();
    let labels = match &args.server {
        Some(url) => super::runtime()?.block_on(async {
            let mut client = Client::connect(url, &args.connect).await?;
            let mut all = Vec::new();
            for chunk in texts.chunks(512) {
                all.extend(client.classify(chunk.to_vec()).await?);
            }
            anyhow::Ok(all)
        })?,
        None => {
            let analyzer = Analyzer::load(&args.model.options())?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            analyzer.classify(&refs)?
        }
    };
    let probs: Vec<[f32; 4]> = labels.iter().map(|c| c.scores.to_array()).collect();
    print!("{}", evaluate_examples(&probs, &examples).report());
    Ok(ExitCode::SUCCESS)
}
