//! `detente extract`: quotations and speakers, no model.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::json;

use super::{analyze::read_inputs, client::Client, output};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// The article (a file, or - for stdin).
    pub input: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Extract through a detente server instead of here.
    #[arg(long, env = "DETENTE_SERVER")]
    pub server: Option<String>,
}

pub fn run(args: ExtractArgs) -> Result<ExitCode> {
    let (articles, failed) = read_inputs(std::slice::from_ref(&args.input));
    if failed > 0 || articles.is_empty() {
        return Ok(ExitCode::from(1));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for a in &articles {
        let quotes = match &args.server {
            Some(url) => super::runtime()?
                .block_on(async { Client::connect(url).await?.extract(a.text.clone()).await })?,
            None => detente::quotes::extract(&a.text),
        };
        match args.format {
            Format::Json => {
                let v = json!({"id": a.id, "quotes": output::to_json(&quotes)?});
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            }
            Format::Text => {
                for (i, q) in quotes.iter().enumerate() {
                    writeln!(
                        out,
                        "{:>3} {:<8} {:<26} {:<10} {}",
                        i + 1,
                        format!("{:?}", q.kind).to_lowercase(),
                        q.speaker.as_deref().unwrap_or("-"),
                        q.cue.as_deref().unwrap_or("-"),
                        q.text
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
