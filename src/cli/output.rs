//! Rendering for people (text) and programs (json, jsonl, csv).
use std::io::Write;

use console::{Alignment, Style, Term, measure_text_width, pad_str, truncate_str};
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

/// Columns to render text in: the terminal's width on a terminal, else
/// `COLUMNS` when set, else 100.
pub fn terminal_width() -> usize {
    let term = Term::stdout();
    let cols = if term.is_term() {
        term.size_checked().map(|(_, c)| usize::from(c))
    } else {
        None
    };
    cols.filter(|c| *c > 0)
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse().ok())
        })
        .unwrap_or(100)
        .clamp(MIN_WIDTH, 200)
}

/// Narrower than this nothing lays out sensibly; lines may then overflow.
const MIN_WIDTH: usize = 20;

/// A bar of `width` cells filled in proportion to `score` (0..100).
pub fn bar(score: f32, width: usize) -> String {
    let filled = ((score / 100.0) * width as f32)
        .round()
        .clamp(0.0, width as f32) as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// Text from an article made safe for a terminal: control characters (an
/// escape sequence in an article must not restyle the screen) and runs of
/// whitespace become one space.
pub fn clean(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` cut and padded to exactly `width` terminal columns (wide characters
/// count twice, combining marks not at all).
fn cell(s: &str, width: usize, align: Alignment) -> String {
    pad_str(&truncate_str(s, width, "…"), width, align, None).into_owned()
}

/// Wraps `s` into lines of at most `width` columns; over-long words are split.
fn wrap(s: &str, width: usize) -> Vec<String> {
    textwrap::wrap(s, width.max(1))
        .into_iter()
        .map(|l| l.into_owned())
        .collect()
}

fn tension_style(score: f32) -> Style {
    if score >= 60.0 {
        Style::new().red().bold()
    } else if score <= 40.0 {
        Style::new().green().bold()
    } else {
        Style::new().yellow().bold()
    }
}

/// Column widths of the quotation table.
struct Columns {
    num: usize,
    speaker: usize,
    /// Where the quotation starts; continuation lines are indented to it.
    lead: usize,
    text: usize,
}

const STANCE_W: usize = 12; // "conciliatory"
const CONF_W: usize = 4; // "0.93"
const MIN_TEXT_W: usize = 24;

impl Columns {
    /// None when even a narrow table leaves too little room for the text.
    fn fit(a: &Analysis, width: usize) -> Option<Self> {
        let num = a.quotes.len().to_string().len().max(2);
        let longest = a
            .quotes
            .iter()
            .map(|q| measure_text_width(&clean(q.speaker.as_deref().unwrap_or("-"))))
            .max()
            .unwrap_or(1);
        let fixed = 2 + num + 1 + 1 + STANCE_W + 1 + CONF_W + 2;
        let room = width.checked_sub(fixed + MIN_TEXT_W)?;
        let speaker = longest.clamp(7, 24).min(room);
        if speaker < 7 {
            return None;
        }
        let lead = fixed + speaker;
        Some(Self {
            num,
            speaker,
            lead,
            text: width - lead,
        })
    }
}

/// One article for people: the tension as a number and a bar, its
/// explanation, a table of quotations colored by stance (the quotation
/// wrapped to `width`, continuation lines aligned under it) and the speakers.
/// No line is wider than `width` (at least 20 columns).
pub fn print_analysis_text(
    out: &mut impl Write,
    name: &str,
    title: Option<&str>,
    a: &Analysis,
    width: usize,
) -> std::io::Result<()> {
    let width = width.max(MIN_WIDTH);
    let bold = Style::new().bold();
    for line in wrap(&clean(name), width) {
        writeln!(out, "{}", bold.apply_to(line))?;
    }
    if let Some(t) = title {
        for line in wrap(&clean(t), width - 2) {
            writeln!(out, "  {line}")?;
        }
    }
    match a.tension.score {
        Some(score) => {
            let style = tension_style(score);
            let bar_w = width.saturating_sub(16).min(20);
            writeln!(
                out,
                "  tension {} {}",
                style.apply_to(format!("{score:5.1}")),
                style.apply_to(bar(score, bar_w))
            )?;
        }
        None if width >= 38 => writeln!(out, "  tension   -   (no quoted statements)")?,
        None => writeln!(out, "  tension   -")?,
    }
    let explanation = textwrap::Options::new(width)
        .initial_indent("  ")
        .subsequent_indent("  ");
    for line in textwrap::wrap(&clean(&a.tension.explanation), explanation) {
        writeln!(out, "{line}")?;
    }
    if a.quotes.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    match Columns::fit(a, width) {
        Some(cols) => quote_table(out, a, &cols)?,
        None => quote_list(out, a, width)?,
    }
    if !a.speakers.is_empty() {
        writeln!(out)?;
        writeln!(out, "  {}", bold.apply_to("speakers"))?;
        // "  NAME  12 statements  tension 100.0": 32 columns besides the name.
        let tail = 2 + 4 + 10 + 1 + 10 + 5;
        let longest = a
            .speakers
            .iter()
            .map(|s| measure_text_width(&clean(&s.speaker)))
            .max()
            .unwrap_or(0);
        let name_w = longest.min(width.saturating_sub(tail));
        for s in &a.speakers {
            let plural = if s.statements == 1 { " " } else { "s" };
            let tension = tension_style(s.tension).apply_to(format!("{:5.1}", s.tension));
            if name_w >= longest.min(8) {
                writeln!(
                    out,
                    "  {} {:>3} statement{plural}  tension {tension}",
                    cell(&clean(&s.speaker), name_w, Alignment::Left),
                    s.statements,
                )?;
            } else {
                // Too narrow for a row: the name, then its numbers below.
                for line in wrap(&clean(&s.speaker), width - 2) {
                    writeln!(out, "  {line}")?;
                }
                let numbers = format!(
                    "{} statement{}, tension {:.1}",
                    s.statements,
                    plural.trim(),
                    s.tension
                );
                for line in wrap(&numbers, width - 4) {
                    writeln!(out, "    {}", tension_style(s.tension).apply_to(line))?;
                }
            }
        }
    }
    Ok(())
}

/// Stance, and its probability as text.
fn stance_cells(q: &detente::analyzer::AnalyzedQuote) -> (String, String) {
    match (q.label, q.scores) {
        (Some(l), Some(s)) => (l.as_str().to_string(), format!("{:.2}", s.get(l))),
        _ => ("(term)".to_string(), String::new()),
    }
}

fn quote_table(out: &mut impl Write, a: &Analysis, c: &Columns) -> std::io::Result<()> {
    let bold = Style::new().bold();
    writeln!(
        out,
        "  {} {} {} {}  {}",
        bold.apply_to(cell("#", c.num, Alignment::Right)),
        bold.apply_to(cell("speaker", c.speaker, Alignment::Left)),
        bold.apply_to(cell("stance", STANCE_W, Alignment::Left)),
        bold.apply_to(cell("conf", CONF_W, Alignment::Right)),
        bold.apply_to("quotation")
    )?;
    for (i, q) in a.quotes.iter().enumerate() {
        let style = stance_style(q.label);
        let (stance, p) = stance_cells(q);
        let speaker = clean(q.speaker.as_deref().unwrap_or("-"));
        for (k, line) in wrap(&clean(&q.text), c.text).iter().enumerate() {
            if k == 0 {
                writeln!(
                    out,
                    "  {} {} {} {}  {}",
                    cell(&(i + 1).to_string(), c.num, Alignment::Right),
                    cell(&speaker, c.speaker, Alignment::Left),
                    style.apply_to(cell(&stance, STANCE_W, Alignment::Left)),
                    cell(&p, CONF_W, Alignment::Right),
                    style.apply_to(line)
                )?;
            } else {
                writeln!(out, "{:lead$}{}", "", style.apply_to(line), lead = c.lead)?;
            }
        }
    }
    Ok(())
}

/// The narrow-terminal layout: a heading line per quotation, the quotation
/// indented below it.
fn quote_list(out: &mut impl Write, a: &Analysis, width: usize) -> std::io::Result<()> {
    for (i, q) in a.quotes.iter().enumerate() {
        let style = stance_style(q.label);
        let (stance, p) = stance_cells(q);
        let head = format!(
            "{}. {} · {stance} {p}",
            i + 1,
            clean(q.speaker.as_deref().unwrap_or("-"))
        );
        let indent = textwrap::Options::new(width)
            .initial_indent("  ")
            .subsequent_indent("    ");
        for line in textwrap::wrap(&head, indent) {
            writeln!(out, "{}", style.apply_to(line))?;
        }
        for line in wrap(&clean(&q.text), width - 4) {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

/// The closing summary of a run over several inputs: counts, the mean
/// tension and the most tense articles with their bars.
pub fn print_summary_text(
    out: &mut impl Write,
    analyzed: usize,
    failed: usize,
    scored: &[(&str, f32)],
    width: usize,
) -> std::io::Result<()> {
    let width = width.max(MIN_WIDTH);
    let bold = Style::new().bold();
    let mut head = format!(
        "{analyzed} article{} analyzed",
        if analyzed == 1 { "" } else { "s" }
    );
    if failed > 0 {
        head.push_str(&format!(", {failed} failed"));
    }
    head.push_str(&format!(", {} with a score", scored.len()));
    if !scored.is_empty() {
        let mean = scored.iter().map(|s| s.1).sum::<f32>() / scored.len() as f32;
        head.push_str(&format!(", mean tension {mean:.1}"));
    }
    for line in wrap(&head, width) {
        writeln!(out, "{}", bold.apply_to(line))?;
    }
    let mut ranked = scored.to_vec();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    const SHOWN: usize = 10;
    if !ranked.is_empty() {
        writeln!(
            out,
            "  most tense{}:",
            if ranked.len() > SHOWN {
                " (top 10)"
            } else {
                ""
            }
        )?;
    }
    // "  75.1 ██████████ name"
    let bar_w = 10.min(width.saturating_sub(2 + 5 + 1 + 1 + 8));
    let name_w = width.saturating_sub(2 + 5 + 1 + bar_w + 1).max(1);
    for (id, score) in ranked.iter().take(SHOWN) {
        let style = tension_style(*score);
        writeln!(
            out,
            "  {} {} {}",
            style.apply_to(format!("{score:5.1}")),
            style.apply_to(bar(*score, bar_w)),
            truncate_str(&clean(id), name_w, "…")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_pad_and_cut_by_terminal_columns() {
        // Wide characters take two columns, combining marks none.
        assert_eq!(cell("李明", 6, Alignment::Left), "李明  ");
        assert_eq!(cell("Jose\u{301}", 6, Alignment::Left), "Jose\u{301}  ");
        assert_eq!(
            measure_text_width(&cell("李明华张伟", 5, Alignment::Left)),
            5
        );
        assert_eq!(cell("7", 3, Alignment::Right), "  7");
    }

    #[test]
    fn article_text_cannot_steer_the_terminal() {
        assert_eq!(clean("a\x1b[31mred\tb\n\nc "), "a [31mred b c");
    }

    #[test]
    fn wrapped_lines_fit_in_columns() {
        let text = "東京で会談が開かれ、双方は協議の継続で合意したと述べた。 Long words like internationalization split.";
        for line in wrap(text, 12) {
            assert!(measure_text_width(&line) <= 12, "{line:?}");
        }
    }
}
