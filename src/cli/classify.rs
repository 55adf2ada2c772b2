//! `detente classify`: statements in, stances out.
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::json;

use super::{
    ModelArgs,
    client::{Client, ConnectArgs},
    output,
};
use detente::{Analyzer, Classification};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Jsonl,
}

#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// Statements to label; without any, one statement per line on stdin.
    pub statements: Vec<String>,
    /// Label through a detente server instead of loading the model here.
    #[arg(long, env = "DETENTE_SERVER")]
    pub server: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format: `jsonl` prints {"text", "label", "scores"} per statement, in order.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: ClassifyArgs) -> Result<ExitCode> {
    let statements: Vec<String> = if args.statements.is_empty() {
        if std::io::stdin().is_terminal() {
            eprintln!("detente: reading statements from stdin, one per line (Ctrl-D to end)");
        }
        let mut v = Vec::new();
        for line in std::io::stdin().lock().lines() {
            v.push(line?);
        }
        v
    } else {
        args.statements.clone()
    };
    // Blank lines are kept in place (so output lines match input lines) but not classified.
    let wanted: Vec<String> = statements
        .iter()
        .filter(|s| !s.trim().is_empty())
        .cloned()
        .collect();
    let labels: Vec<Classification> = if wanted.is_empty() {
        Vec::new()
    } else if let Some(url) = &args.server {
        super::runtime()?.block_on(async {
            Client::connect(url, &args.connect)
                .await?
                .classify(wanted.clone())
                .await
        })?
    } else {
        let analyzer = Analyzer::load(&args.model.options())?;
        let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
        analyzer.classify(&refs)?
    };
    let mut labels = labels.into_iter();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for s in &statements {
        if s.trim().is_empty() {
            if args.format == Format::Jsonl {
                writeln!(out, "{}", json!({"text": s, "label": null, "scores": null}))?;
            } else {
                writeln!(out)?;
            }
            continue;
        }
        let Some(c) = labels.next() else { break };
        match args.format {
            Format::Jsonl => {
                let mut v = json!({"text": s, "label": c.label, "scores": c.scores});
                if c.truncated {
                    v["truncated"] = json!(true);
                }
                output::round_floats(&mut v);
                writeln!(out, "{v}")?;
            }
            Format::Text => {
                let style = output::stance_style(Some(c.label));
                writeln!(
                    out,
                    "{} {:.2}  {}",
                    style.apply_to(format!("{:<12}", c.label.as_str())),
                    c.scores.get(c.label),
                    s
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
