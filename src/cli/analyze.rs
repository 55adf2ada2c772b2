//! `detente analyze`: articles in, quotations with stances and tension out.
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::{
    ModelArgs,
    client::{Client, ConnectArgs},
    input, output,
};
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

const EXAMPLES: &str = "\
Examples:
  Analyze one article, with a table of its quotations:
    detente analyze article.txt

  Every .txt, .md and .html file under a folder, most tense first:
    detente analyze --sort tension news/

  A saved web page (scripts, menus and page furniture are dropped):
    detente analyze saved-page.html

  From stdin:
    cat story.txt | detente analyze -

  JSON Lines in ({\"id\", \"title\", \"text\"} per line), JSON Lines out:
    detente analyze --jsonl --format jsonl articles.jsonl > analyses.jsonl

  A spreadsheet of tension per article:
    detente analyze --format csv news/ > tension.csv

  A Latin-1 file that declares no encoding:
    detente analyze --encoding latin1 old-article.txt

  Through a running server instead of loading the model here:
    detente analyze --server http://127.0.0.1:50051 news/

Exit status: 0 when every input was analyzed, 1 when some failed (each is
reported on stderr; the others are still analyzed), 2 on a usage error.";

#[derive(Args, Debug)]
#[command(after_long_help = EXAMPLES)]
pub struct AnalyzeArgs {
    /// Articles: files, directories (searched recursively for .txt, .md and
    /// .html), or - for stdin. HTML is reduced to its article text; *.jsonl
    /// files are read as JSON Lines.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Read every input as JSON Lines: one {"id", "title", "text"} per line
    /// (id and title optional).
    #[arg(long)]
    pub jsonl: bool,
    /// Encoding of inputs that declare none (no BOM, no HTML meta charset),
    /// e.g. latin1, windows-1251, shift_jis. Without it such input must be UTF-8.
    #[arg(long, value_name = "LABEL", value_parser = input::encoding_label)]
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// Analyze through detente servers instead of loading the model here
    /// (several, comma-separated, share the load).
    #[arg(long, env = "DETENTE_SERVER")]
    pub server: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format: text for people; json (one object, or an array for
    /// several articles), jsonl (one object per line) or csv for programs.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Order the articles before printing.
    #[arg(long, value_enum)]
    pub sort: Option<SortBy>,
    #[command(flatten)]
    pub model: ModelArgs,
}

fn progress(n: usize, quiet: bool) -> ProgressBar {
    // Log lines at -v would tear the bar; they tell the progress instead.
    if quiet || n < 2 || !std::io::stderr().is_terminal() || tracing::enabled!(tracing::Level::INFO)
    {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg}[{elapsed_precise}] {wide_bar} {pos}/{len} articles, {per_sec}, eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// One analyzed article.
pub struct Done {
    pub id: String,
    pub title: Option<String>,
    pub analysis: Analysis,
}

pub fn run(args: AnalyzeArgs, quiet: bool) -> Result<ExitCode> {
    let opts = input::ReadOptions {
        jsonl: args.jsonl,
        encoding: args.encoding,
    };
    let (articles, mut failed) = input::read_inputs(&args.inputs, opts);
    tracing::info!(articles = articles.len(), failed, "inputs read");
    let bar = progress(articles.len(), quiet);
    let mut results: Vec<Result<Analysis, String>> = Vec::with_capacity(articles.len());
    if let Some(url) = &args.server {
        let rt = super::runtime()?;
        rt.block_on(async {
            let mut client = Client::connect(url, &args.connect).await?;
            for chunk in articles.chunks(64) {
                let batch = chunk
                    .iter()
                    .map(|a| (a.id.clone(), a.text.clone()))
                    .collect();
                for r in client.analyze(batch).await? {
                    results.push(r);
                    bar.inc(1);
                }
            }
            anyhow::Ok(())
        })?;
    } else if !articles.is_empty() {
        bar.set_message("loading the model ");
        let analyzer = Analyzer::load(&args.model.options())?;
        bar.set_message("");
        // Small chunks keep the bar moving; the model batches across the chunk.
        for chunk in articles.chunks(8) {
            let texts: Vec<&str> = chunk.iter().map(|a| a.text.as_str()).collect();
            for r in analyzer.analyze_many(&texts) {
                results.push(r.map_err(|e| e.to_string()));
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();

    let mut done: Vec<Done> = Vec::new();
    for (article, r) in articles.into_iter().zip(results) {
        match r {
            Ok(a) => {
                tracing::info!(
                    article = %article.id,
                    quotations = a.quotes.len(),
                    tension = ?a.tension.score,
                    "analyzed"
                );
                done.push(Done {
                    id: article.id,
                    title: article.title,
                    analysis: a,
                });
            }
            Err(e) => {
                eprintln!("detente: {}: {e}", article.id);
                failed += 1;
            }
        }
    }
    if args.sort == Some(SortBy::Tension) {
        done.sort_by(|a, b| {
            let key = |x: &Done| x.analysis.tension.score.unwrap_or(f32::NEG_INFINITY);
            key(b).total_cmp(&key(a))
        });
    }
    let code = if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    let printed = print(&done, args.format).and_then(|()| {
        if done.len() + failed > 1 {
            summary(&done, failed, args.format, quiet)
        } else {
            Ok(())
        }
    });
    match printed {
        Ok(()) => Ok(code),
        // `detente analyze … | head` closing the pipe early is not an error.
        Err(e) if is_broken_pipe(&e) => Ok(code),
        Err(e) => Err(e),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn object(d: &Done) -> Result<serde_json::Value> {
    let mut v = output::to_json(&d.analysis)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(d.id));
        if let Some(t) = &d.title {
            o.insert("title".into(), json!(t));
        }
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

fn print(done: &[Done], format: Format) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Json => {
            let v = if let [one] = done {
                object(one)?
            } else {
                serde_json::Value::Array(done.iter().map(object).collect::<Result<_>>()?)
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Jsonl => {
            for d in done {
                writeln!(out, "{}", serde_json::to_string(&object(d)?)?)?;
            }
        }
        Format::Csv => {
            writeln!(
                out,
                "id,quotations,statements,tension,threatening,conciliatory,optimistic,neutral,top_threatening_speaker,title"
            )?;
            for d in done {
                let a = &d.analysis;
                let count = |s: Stance| {
                    a.tension
                        .labels
                        .iter()
                        .find(|l| l.label == s)
                        .map_or(0, |l| l.count)
                };
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{}",
                    csv_field(&d.id),
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
                    csv_field(top_threatening(a).unwrap_or("")),
                    csv_field(d.title.as_deref().unwrap_or(""))
                )?;
            }
        }
        Format::Text => {
            let width = output::terminal_width();
            for (i, d) in done.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                output::print_analysis_text(
                    &mut out,
                    &d.id,
                    d.title.as_deref(),
                    &d.analysis,
                    width,
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// RFC 4180 quoting.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn summary(done: &[Done], failed: usize, format: Format, quiet: bool) -> Result<()> {
    let scored: Vec<(&str, f32)> = done
        .iter()
        .filter_map(|d| d.analysis.tension.score.map(|s| (d.id.as_str(), s)))
        .collect();
    if format == Format::Text {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        writeln!(out)?;
        output::print_summary_text(
            &mut out,
            done.len(),
            failed,
            &scored,
            output::terminal_width(),
        )?;
    } else if !quiet {
        let mean = (!scored.is_empty())
            .then(|| scored.iter().map(|s| s.1).sum::<f32>() / scored.len() as f32);
        let most = scored.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        eprintln!(
            "detente: {} articles analyzed, {} failed, {} with a score{}{}",
            done.len(),
            failed,
            scored.len(),
            mean.map(|m| format!(", mean tension {m:.1}"))
                .unwrap_or_default(),
            most.map(|(id, s)| format!(", most tense {id} ({s:.1})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
