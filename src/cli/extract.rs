//! `detente extract`: quotations and speakers, no model.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::json;

use super::{
    client::{Client, ConnectArgs},
    input, output,
};

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
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub fn run(args: ExtractArgs) -> Result<ExitCode> {
    let (articles, failed) = input::read_inputs(
        std::slice::from_ref(&args.input),
        input::ReadOptions::default(),
    );
    if articles.is_empty() {
        return Ok(ExitCode::from(1));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for a in &articles {
        let quotes = match &args.server {
            Some(url) => super::runtime()?.block_on(async {
                Client::connect(url, &args.connect)
                    .await?
                    .extract(a.text.clone())
                    .await
            })?,
            None => detente::quotes::extract(&a.text),
        };
        match args.format {
            Format::Json => {
                let v = json!({"id": a.id, "quotes": output::to_json(&quotes)?});
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            }
            Format::Text => {
                for (i, q) in quotes.iter().enumerate() {
                    // Padded by display width, so names in wide scripts stay aligned.
                    let cell = |s: Option<&str>, w| {
                        let s = output::clean(s.unwrap_or("-"));
                        console::pad_str(&s, w, console::Alignment::Left, Some("…")).into_owned()
                    };
                    writeln!(
                        out,
                        "{:>3} {:<8} {} {} {}",
                        i + 1,
                        format!("{:?}", q.kind).to_lowercase(),
                        cell(q.speaker.as_deref(), 26),
                        cell(q.cue.as_deref(), 10),
                        output::clean(&q.text)
                    )?;
                }
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
