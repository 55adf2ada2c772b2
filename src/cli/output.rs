//! Rendering for people (text) and programs (json, jsonl, csv).
use std::io::Write;

use console::{Style, Term};
use serde_json::Value;

use detente::analyzer::Analysis;
use detente::stance::Stance;

/// Rounds every float to 4 decimals: enough for probabilities and scores,
/// and stable across batch compositions whose last bits may differ.
pub fn round_floats(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                let r = (f * 1e4).round() / 1e4;
                if let Some(num) = serde_json::Number::from_f64(r) {
                    *n = num;
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(round_floats),
        Value::Object(o) => o.values_mut().for_each(round_floats),
        _ => {}
    }
}

pub fn to_json<T: serde::Serialize>(value: &T) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(value)?;
    round_floats(&mut v);
    Ok(v)
}

pub fn stance_style(s: Option<detente::Stance>) -> Style {
    match s {
        Some(Stance::Threatening) => Style::new().red().bold(),
        Some(Stance::Conciliatory) => Style::new().green(),
        Some(Stance::Optimistic) => Style::new().cyan(),
        Some(Stance::Neutral) => Style::new().dim(),
        None => Style::new().dim(),
    }
}

pub fn terminal_width() -> usize {
    let term = Term::stdout();
    if term.is_term() {
        usize::from(term.size().1).clamp(40, 200)
    } else {
        100
    }
}

/// A bar of `width` cells filled in proportion to `score` (0..100).
pub fn bar(score: f32, width: usize) -> String {
    let filled = ((score / 100.0) * width as f32)
        .round()
        .clamp(0.0, width as f32) as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

pub fn print_analysis_text(out: &mut impl Write, name: &str, a: &Analysis) -> std::io::Result<()> {
    let width = terminal_width();
    let bold = Style::new().bold();
    writeln!(out, "{}", bold.apply_to(name))?;
    match a.tension.score {
        Some(score) => {
            let style = if score >= 60.0 {
                Style::new().red().bold()
            } else if score <= 40.0 {
                Style::new().green().bold()
            } else {
                Style::new().yellow().bold()
            };
            writeln!(
                out,
                "  tension {} {}",
                style.apply_to(format!("{score:5.1}")),
                style.apply_to(bar(score, 20))
            )?;
        }
        None => writeln!(out, "  tension   -   (no quoted statements)")?,
    }
    writeln!(
        out,
        "  {}",
        textwrap::fill(&a.tension.explanation, width.saturating_sub(2)).replace('\n', "\n  ")
    )?;
    if a.quotes.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let speaker_w = a
        .quotes
        .iter()
        .map(|q| q.speaker.as_deref().unwrap_or("-").chars().count())
        .max()
        .unwrap_or(1)
        .clamp(7, 24);
    let lead = 4 + 1 + speaker_w + 1 + 12 + 1 + 5 + 2;
    let text_w = width.saturating_sub(lead).max(20);
    writeln!(
        out,
        "  {} {:<speaker_w$} {:<12} {:>5}  quotation",
        bold.apply_to(" #"),
        bold.apply_to("speaker"),
        bold.apply_to("stance"),
        bold.apply_to("p")
    )?;
    for (i, q) in a.quotes.iter().enumerate() {
        let style = stance_style(q.label);
        let speaker: String = q
            .speaker
            .as_deref()
            .unwrap_or("-")
            .chars()
            .take(speaker_w)
            .collect();
        let (stance, p) = match (q.label, q.scores) {
            (Some(l), Some(s)) => (l.as_str().to_string(), format!("{:.2}", s.get(l))),
            _ => ("(term)".to_string(), String::new()),
        };
        let lines = textwrap::wrap(&q.text, text_w);
        for (k, line) in lines.iter().enumerate() {
            if k == 0 {
                writeln!(
                    out,
                    "  {:>2} {:<speaker_w$} {} {:>5}  {}",
                    i + 1,
                    speaker,
                    style.apply_to(format!("{stance:<12}")),
                    p,
                    style.apply_to(line)
                )?;
            } else {
                writeln!(out, "{:lead$}{}", "", style.apply_to(line))?;
            }
        }
    }
    if !a.speakers.is_empty() {
        writeln!(out)?;
        writeln!(out, "  {}", bold.apply_to("speakers"))?;
        for s in &a.speakers {
            writeln!(
                out,
                "  {:<28} {:>2} statement{}  tension {:5.1}",
                s.speaker,
                s.statements,
                if s.statements == 1 { " " } else { "s" },
                s.tension
            )?;
        }
    }
    Ok(())
}
