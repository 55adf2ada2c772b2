//! Shared helpers for the fixture-based tests.
#![allow(dead_code)]

use std::path::Path;

use detente::quotes::{Quote, QuoteKind};
use serde_json::Value;

/// One gold quotation.
#[derive(Debug, Clone)]
pub struct Gold {
    pub text: String,
    pub speaker: Option<String>,
    pub spans: Vec<(usize, usize)>,
    pub kind: QuoteKind,
    pub mention: Option<String>,
}

pub fn load_gold(path: &Path) -> Vec<Gold> {
    let raw = std::fs::read_to_string(path).unwrap_or_default();
    let v: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let Some(list) = v.get("quotes").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|q| Gold {
            text: q
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            speaker: q
                .get("speaker")
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string()),
            spans: q
                .get("byte_spans")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| {
                            let s = s.as_array()?;
                            Some((s.first()?.as_u64()? as usize, s.get(1)?.as_u64()? as usize))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            mention: q.get("mention").and_then(Value::as_str).map(str::to_string),
            kind: match q.get("kind").and_then(Value::as_str) {
                Some("term") => QuoteKind::Term,
                Some("partial") => QuoteKind::Partial,
                _ => QuoteKind::Full,
            },
        })
        .collect()
}

fn overlaps(a: &[(usize, usize)], b: &[(usize, usize)]) -> bool {
    a.iter()
        .any(|&(s1, e1)| b.iter().any(|&(s2, e2)| s1 < e2 && s2 < e1))
}

/// Counts for one article.
#[derive(Debug, Default, Clone, Copy)]
pub struct Score {
    pub gold: usize,
    pub predicted: usize,
    pub matched: usize,
    pub speaker_total: usize,
    pub speaker_right: usize,
}

impl Score {
    pub fn add(&mut self, o: &Score) {
        self.gold += o.gold;
        self.predicted += o.predicted;
        self.matched += o.matched;
        self.speaker_total += o.speaker_total;
        self.speaker_right += o.speaker_right;
    }
    pub fn precision(&self) -> f64 {
        ratio(self.matched, self.predicted)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.matched, self.gold)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    pub fn speaker_accuracy(&self) -> f64 {
        ratio(self.speaker_right, self.speaker_total)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Statement quotations (kind != term) matched by span overlap, greedily in
/// reading order. Returns the score and a line per miss for diagnosis.
pub fn score(gold: &[Gold], pred: &[Quote]) -> (Score, Vec<String>) {
    let gold: Vec<&Gold> = gold.iter().filter(|g| g.kind != QuoteKind::Term).collect();
    let pred: Vec<&Quote> = pred.iter().filter(|q| q.is_statement()).collect();
    let mut used = vec![false; pred.len()];
    let mut s = Score {
        gold: gold.len(),
        predicted: pred.len(),
        ..Score::default()
    };
    let mut notes = Vec::new();
    for g in &gold {
        let hit = pred
            .iter()
            .enumerate()
            .find(|(i, p)| !used[*i] && overlaps(&g.spans, &p.spans));
        let Some((i, p)) = hit else {
            notes.push(format!("  missed: {:?}", short(&g.text)));
            continue;
        };
        used[i] = true;
        s.matched += 1;
        let ps = p.speaker.as_deref().map(str::trim);
        match (&g.speaker, ps) {
            (Some(gs), _) => {
                s.speaker_total += 1;
                if ps == Some(gs.as_str()) {
                    s.speaker_right += 1;
                } else {
                    notes.push(format!(
                        "  speaker {:?} want {:?} (mention {:?}, ours {:?}): {:?}",
                        ps,
                        gs,
                        g.mention,
                        p.speaker_mention,
                        short(&g.text)
                    ));
                }
            }
            (None, Some(x)) => {
                s.speaker_total += 1;
                notes.push(format!("  speaker {:?} want none: {:?}", x, short(&g.text)));
            }
            (None, None) => {}
        }
    }
    for (i, p) in pred.iter().enumerate() {
        if !used[i] {
            notes.push(format!("  extra: {:?} ({:?})", short(&p.text), p.kind));
        }
    }
    (s, notes)
}

fn short(t: &str) -> String {
    t.chars().take(50).collect()
}
