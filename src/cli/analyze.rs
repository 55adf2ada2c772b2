//! `detente analyze`: articles in, quotations with stances and tension out.
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::{ModelArgs, client::Client, output};
use detente::analyzer::Analysis;
use detente::{Analyzer, Stance};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Jsonl,
    Csv,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum SortBy {
    /// Most tense first; articles without a score last.
    Tension,
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Articles: files, directories (searched for .txt and .md), or - for stdin.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Analyze through a detente server instead of loading the model here.
    #[arg(long, env = "DETENTE_SERVER")]
    pub server: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Order the articles before printing.
    #[arg(long, value_enum)]
    pub sort: Option<SortBy>,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// One input article.
pub struct Article {
    pub id: String,
    pub text: String,
}

/// Expands directories and reads every input; unreadable ones are reported
/// and skipped so the rest still run.
pub fn read_inputs(inputs: &[PathBuf]) -> (Vec<Article>, usize) {
    let mut articles = Vec::new();
    let mut failed = 0;
    for input in inputs {
        if input == Path::new("-") {
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => articles.push(Article {
                    id: "-".into(),
                    text,
                }),
                Err(e) => {
                    eprintln!("detente: stdin: {e}");
                    failed += 1;
                }
            }
            continue;
        }
        let files = if input.is_dir() {
            walk(input)
        } else {
            vec![input.clone()]
        };
        for f in files {
            match read_text(&f) {
                Ok(text) => articles.push(Article {
                    id: f.display().to_string(),
                    text,
                }),
                Err(e) => {
                    eprintln!("detente: {}: {e:#}", f.display());
                    failed += 1;
                }
            }
        }
    }
    (articles, failed)
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).context("cannot read")?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            eprintln!("detente: {}: cannot read directory", d.display());
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "txt" | "md"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn progress(n: usize, quiet: bool) -> ProgressBar {
    if quiet || n < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} articles {per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

pub fn run(args: AnalyzeArgs, quiet: bool) -> Result<ExitCode> {
    let (articles, mut failed) = read_inputs(&args.inputs);
    let bar = progress(articles.len(), quiet);
    let mut results: Vec<(String, Result<Analysis, String>)> = Vec::new();
    if let Some(url) = &args.server {
        let rt = super::runtime()?;
        rt.block_on(async {
            let mut client = Client::connect(url).await?;
            for chunk in articles.chunks(64) {
                let batch = chunk
                    .iter()
                    .map(|a| (a.id.clone(), a.text.clone()))
                    .collect();
                let answers = client.analyze(batch).await?;
                for (a, r) in chunk.iter().zip(answers) {
                    results.push((a.id.clone(), r));
                    bar.inc(1);
                }
            }
            anyhow::Ok(())
        })?;
    } else if !articles.is_empty() {
        let analyzer = Analyzer::load(&args.model.options())?;
        for chunk in articles.chunks(16) {
            let texts: Vec<&str> = chunk.iter().map(|a| a.text.as_str()).collect();
            for (a, r) in chunk.iter().zip(analyzer.analyze_many(&texts)) {
                results.push((a.id.clone(), r.map_err(|e| e.to_string())));
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();

    let mut done: Vec<(String, Analysis)> = Vec::new();
    for (id, r) in results {
        match r {
            Ok(a) => done.push((id, a)),
            Err(e) => {
                eprintln!("detente: {id}: {e}");
                failed += 1;
            }
        }
    }
    if args.sort == Some(SortBy::Tension) {
        done.sort_by(|a, b| {
            let key = |x: &Analysis| x.tension.score.unwrap_or(f32::NEG_INFINITY);
            key(&b.1).total_cmp(&key(&a.1))
        });
    }
    print(&done, args.format)?;
    if done.len() + failed > 1 {
        summary(&done, failed, args.format)?;
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn object(id: &str, a: &Analysis) -> Result<serde_json::Value> {
    let mut v = output::to_json(a)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(id));
    }
    Ok(v)
}

/// The speaker whose statements carry the most threat probability.
fn top_threatening(a: &Analysis) -> Option<&str> {
    a.speakers
        .iter()
        .filter(|s| s.mean_scores.threatening * s.statements as f32 > 0.5)
        .max_by(|x, y| {
            (x.mean_scores.threatening * x.statements as f32)
                .total_cmp(&(y.mean_scores.threatening * y.statements as f32))
        })
        .map(|s| s.speaker.as_str())
}

fn print(done: &[(String, Analysis)], format: Format) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Json => {
            let v = if done.len() == 1 {
                object(&done[0].0, &done[0].1)?
            } else {
                serde_json::Value::Array(
                    done.iter()
                        .map(|(id, a)| object(id, a))
                        .collect::<Result<_>>()?,
                )
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Jsonl => {
            for (id, a) in done {
                writeln!(out, "{}", serde_json::to_string(&object(id, a)?)?)?;
            }
        }
        Format::Csv => {
            writeln!(
                out,
                "id,quotations,statements,tension,threatening,conciliatory,optimistic,neutral,top_threatening_speaker"
            )?;
            for (id, a) in done {
                let count = |s: Stance| {
                    a.tension
                        .labels
                        .iter()
                        .find(|l| l.label == s)
                        .map_or(0, |l| l.count)
                };
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{}",
                    csv_field(id),
                    a.quotes.len(),
                    a.tension.statements,
                    a.tension
                        .score
                        .map(|s| format!("{s:.1}"))
                        .unwrap_or_default(),
                    count(Stance::Threatening),
                    count(Stance::Conciliatory),
                    count(Stance::Optimistic),
                    count(Stance::Neutral),
                    csv_field(top_threatening(a).unwrap_or(""))
                )?;
            }
        }
        Format::Text => {
            for (i, (id, a)) in done.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                output::print_analysis_text(&mut out, id, a)?;
            }
        }
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn summary(done: &[(String, Analysis)], failed: usize, format: Format) -> Result<()> {
    let scored: Vec<f32> = done.iter().filter_map(|(_, a)| a.tension.score).collect();
    let mean = if scored.is_empty() {
        None
    } else {
        Some(scored.iter().sum::<f32>() / scored.len() as f32)
    };
    let most = done
        .iter()
        .filter_map(|(id, a)| a.tension.score.map(|s| (id, s)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let line = format!(
        "{} articles analyzed, {} failed, {} with a score{}{}",
        done.len(),
        failed,
        scored.len(),
        mean.map(|m| format!(", mean tension {m:.1}"))
            .unwrap_or_default(),
        most.map(|(id, s)| format!(", most tense {id} ({s:.1})"))
            .unwrap_or_default()
    );
    if format == Format::Text {
        println!("\n{line}");
    } else {
        eprintln!("{line}");
    }
    Ok(())
}
