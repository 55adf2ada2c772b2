//! The pipeline: quotations → statements → stances → tension. The server and
//! the CLI are two faces of this one `Analyzer`.
use std::borrow::{Borrow, Cow};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::head::PROBE_TEXT;
use crate::model::{BatchLimits, Encoder, ModelFiles, Precision, StanceHead, Tokens};
use crate::quotes::{Extractor, Quote, QuoteKind};
use crate::stance::{Classification, Scores, Stance, model_text};
use crate::tension::{self, Tension};

/// A statement ready for the stance model.
#[derive(Debug)]
pub struct Prepared {
    tokens: Tokens,
    /// The lexical model's logits, when the head has one.
    lexical: Option<[f32; 4]>,
}

/// Where the model comes from and how it runs.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// A Hugging Face repo id or a local directory.
    pub model: String,
    pub revision: String,
    /// Directory holding `head.safetensors` and `config.json` (and, when the
    /// head uses them, `adapter.safetensors` and `lexical.json`).
    pub head: PathBuf,
    pub limits: BatchLimits,
    /// Arithmetic of the encoder's linear layers.
    pub precision: Precision,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            model: crate::model::DEFAULT_MODEL.to_string(),
            revision: crate::model::DEFAULT_REVISION.to_string(),
            head: default_head_dir(),
            limits: BatchLimits::default(),
            precision: Precision::Auto,
        }
    }
}

/// The committed head: `models/stance-head` in the source tree.
pub fn default_head_dir() -> PathBuf {
    let local = Path::new("models/stance-head");
    if local.join("config.json").is_file() {
        return local.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/stance-head")
}

/// A quotation with its stance (terms carry none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzedQuote {
    pub text: String,
    pub speaker: Option<String>,
    pub speaker_mention: Option<String>,
    pub cue: Option<String>,
    pub kind: QuoteKind,
    pub spans: Vec<(usize, usize)>,
    pub paragraph: usize,
    pub confidence: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Stance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerSummary {
    pub speaker: String,
    pub statements: usize,
    pub mean_scores: Scores,
    pub tension: f32,
}

/// The analysis of one article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub quotes: Vec<AnalyzedQuote>,
    pub tension: Tension,
    pub speakers: Vec<SpeakerSummary>,
}

/// What is loaded, for `detente info` and GetInfo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Info {
    pub version: String,
    pub model_id: String,
    pub revision: String,
    pub labels: Vec<Stance>,
    pub embedding_size: usize,
    pub max_tokens: usize,
    pub head_kind: String,
    /// Share of the lexical model in the mixture; 0 without one.
    #[serde(default)]
    pub lexical_weight: f32,
    /// "bf16" or "f32": the encoder's linear layers.
    pub precision: String,
    pub head_metrics: Vec<SplitSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    pub split: String,
    pub size: usize,
    pub accuracy: f32,
    pub macro_f1: f32,
    pub ece: f32,
}

pub struct Analyzer {
    encoder: Encoder,
    head: StanceHead,
    files: ModelFiles,
    extractor: Extractor,
}

impl Analyzer {
    /// Resolves and loads the encoder, loads the head, and checks they belong together.
    pub fn load(opts: &ModelOptions) -> Result<Self> {
        let files = crate::model::resolve(&opts.model, &opts.revision)?;
        let mut encoder = Encoder::load(&files)?.with_limits(opts.limits);
        let head = StanceHead::load(&opts.head)?;
        // The check runs on the base encoder, before any adapter is merged.
        let (probe, _) = encoder.embed(&[PROBE_TEXT])?;
        let probe: Vec<f32> = probe.get(0)?.to_vec1()?;
        head.check_encoder(encoder.hidden_size(), &probe)?;
        if let Some(adapter) = head.load_adapter(encoder.shape())? {
            encoder.merge_adapter(&adapter)?;
        }
        let precision = encoder.set_precision(opts.precision)?;
        tracing::info!(%precision, "encoder ready");
        Ok(Self::from_parts(encoder, head, files))
    }

    pub fn from_parts(encoder: Encoder, head: StanceHead, files: ModelFiles) -> Self {
        Self {
            encoder,
            head,
            files,
            extractor: Extractor::default(),
        }
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    pub fn info(&self) -> Info {
        let cfg = self.head.config();
        Info {
            version: env!("CARGO_PKG_VERSION").to_string(),
            model_id: self.files.model_id.clone(),
            revision: self.files.revision.clone(),
            labels: Stance::ALL.to_vec(),
            embedding_size: self.encoder.hidden_size(),
            max_tokens: self.encoder.max_tokens(),
            head_kind: cfg.kind.as_str().to_string(),
            lexical_weight: cfg.lexical.as_ref().map_or(0.0, |l| l.weight),
            precision: self.encoder.precision().to_string(),
            head_metrics: cfg
                .metrics
                .iter()
                .map(|(split, m)| SplitSummary {
                    split: split.clone(),
                    size: m.size,
                    accuracy: m.accuracy,
                    macro_f1: m.macro_f1,
                    ece: m.ece,
                })
                .collect(),
        }
    }

    pub fn extract(&self, text: &str) -> Vec<Quote> {
        self.extractor.extract(text)
    }

    /// Statements as the stance model reads them (`model_text`): tokens for
    /// the encoder and, when the head mixes one in, the lexical model's
    /// logits (cheap, so they are computed here, off the inference thread).
    pub fn prepare(&self, statements: &[&str]) -> Result<Vec<Prepared>> {
        let texts: Vec<Cow<str>> = statements.iter().map(|s| model_text(s)).collect();
        let texts: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let tokens = self.encoder.tokenize_all(&texts)?;
        Ok(tokens
            .into_iter()
            .zip(&texts)
            .map(|(tokens, text)| Prepared {
                tokens,
                lexical: self.head.lexical_logits(text),
            })
            .collect())
    }

    /// Labels prepared statements; one forward pass per packed batch.
    pub fn classify_prepared<P: Borrow<Prepared>>(
        &self,
        statements: &[P],
    ) -> Result<Vec<Classification>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let statements: Vec<&Prepared> = statements.iter().map(Borrow::borrow).collect();
        let tokens: Vec<&Tokens> = statements.iter().map(|s| &s.tokens).collect();
        let vectors = self.encoder.embed_tokens(&tokens)?;
        let lexical: Option<Vec<[f32; 4]>> = statements.iter().map(|s| s.lexical).collect();
        let probs = self.head.probabilities(&vectors, lexical.as_deref())?;
        Ok(probs
            .into_iter()
            .zip(statements)
            .map(|(p, s)| {
                let scores = Scores::from_array(p);
                Classification {
                    label: scores.argmax(),
                    scores,
                    truncated: s.tokens.truncated,
                }
            })
            .collect())
    }

    pub fn classify(&self, statements: &[&str]) -> Result<Vec<Classification>> {
        let prepared = self.prepare(statements)?;
        self.classify_prepared(&prepared)
    }

    pub fn analyze(&self, text: &str) -> Result<Analysis> {
        let quotes = self.extract(text);
        let statements = statement_texts(&quotes);
        let labels = self.classify(&statements)?;
        assemble(quotes, labels)
    }

    /// Analyzes several articles with their statements classified together,
    /// so short articles share forward passes. One result per article.
    pub fn analyze_many(&self, texts: &[&str]) -> Vec<Result<Analysis>> {
        let quotes: Vec<Vec<Quote>> = texts.iter().map(|t| self.extract(t)).collect();
        let all: Vec<&str> = quotes.iter().flat_map(|q| statement_texts(q)).collect();
        match self.classify(&all) {
            Ok(labels) => {
                let mut labels = labels.into_iter();
                quotes
                    .into_iter()
                    .map(|q| {
                        let n = q.iter().filter(|q| q.is_statement()).count();
                        assemble(q, labels.by_ref().take(n).collect())
                    })
                    .collect()
            }
            // A failed joint pass: retry one by one, so one bad article fails alone.
            Err(_) => texts.iter().map(|t| self.analyze(t)).collect(),
        }
    }
}

/// The texts to classify: statements only, terms excluded.
pub fn statement_texts(quotes: &[Quote]) -> Vec<&str> {
    quotes
        .iter()
        .filter(|q| q.is_statement())
        .map(|q| q.text.as_str())
        .collect()
}

/// Joins quotations with the stances of their statements (in order) and scores
/// the article and its speakers.
pub fn assemble(quotes: Vec<Quote>, labels: Vec<Classification>) -> Result<Analysis> {
    let expected = quotes.iter().filter(|q| q.is_statement()).count();
    if labels.len() != expected {
        return Err(Error::InvalidInput(format!(
            "{} stances for {expected} statements",
            labels.len()
        )));
    }
    let mut labels = labels.into_iter();
    let mut out = Vec::with_capacity(quotes.len());
    let mut statements = Vec::new();
    let mut names = Vec::new();
    for (i, q) in quotes.into_iter().enumerate() {
        let c = if q.is_statement() {
            labels.next()
        } else {
            None
        };
        if let Some(c) = &c {
            statements.push(tension::Statement {
                quote_index: i,
                scores: c.scores,
                label: c.label,
                weight: tension::weight_for(q.kind == QuoteKind::Partial),
            });
            names.push(
                q.speaker
                    .clone()
                    .unwrap_or_else(|| "an unattributed statement".to_string()),
            );
        }
        out.push(AnalyzedQuote {
            text: q.text,
            speaker: q.speaker,
            speaker_mention: q.speaker_mention,
            cue: q.cue,
            kind: q.kind,
            spans: q.spans,
            paragraph: q.paragraph,
            confidence: q.confidence,
            label: c.as_ref().map(|c| c.label),
            scores: c.as_ref().map(|c| c.scores),
            truncated: c.is_some_and(|c| c.truncated),
        });
    }
    let tension = tension::score(&statements, &names);
    let speakers = speaker_summaries(&out, &statements);
    Ok(Analysis {
        quotes: out,
        tension,
        speakers,
    })
}

fn speaker_summaries(
    quotes: &[AnalyzedQuote],
    statements: &[tension::Statement],
) -> Vec<SpeakerSummary> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: std::collections::HashMap<String, Vec<tension::Statement>> = Default::default();
    for s in statements {
        let Some(name) = quotes.get(s.quote_index).and_then(|q| q.speaker.clone()) else {
            continue;
        };
        if !groups.contains_key(&name) {
            order.push(name.clone());
        }
        groups.entry(name).or_default().push(s.clone());
    }
    let mut out: Vec<SpeakerSummary> = order
        .into_iter()
        .filter_map(|name| {
            let list = groups.remove(&name)?;
            let n = list.len() as f32;
            let mut mean = [0f32; 4];
            for s in &list {
                for (m, p) in mean.iter_mut().zip(s.scores.to_array()) {
                    *m += p / n;
                }
            }
            let names = vec![name.clone(); list.len()];
            let t = tension::score(&list, &names).score.unwrap_or(50.0);
            Some(SpeakerSummary {
                speaker: name,
                statements: list.len(),
                mean_scores: Scores::from_array(mean),
                tension: t,
            })
        })
        .collect();
    // Most statements first; the stable sort keeps first-appearance order on ties.
    out.sort_by_key(|s| std::cmp::Reverse(s.statements));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(text: &str, speaker: Option<&str>, kind: QuoteKind) -> Quote {
        Quote {
            text: text.into(),
            spans: vec![(0, text.len())],
            speaker: speaker.map(str::to_string),
            speaker_mention: speaker.map(str::to_string),
            cue: Some("said".into()),
            kind,
            paragraph: 0,
            confidence: 0.9,
        }
    }

    fn class(p: [f32; 4]) -> Classification {
        let scores = Scores::from_array(p);
        Classification {
            label: scores.argmax(),
            scores,
            truncated: false,
        }
    }

    #[test]
    fn terms_get_no_stance_and_statements_keep_their_order() {
        let quotes = vec![
            quote("We will strike back hard.", Some("A"), QuoteKind::Full),
            quote("operation", None, QuoteKind::Term),
            quote(
                "We are ready to talk at any time.",
                Some("B"),
                QuoteKind::Full,
            ),
            quote("a path to peace", Some("A"), QuoteKind::Partial),
        ];
        let labels = vec![
            class([0.0, 0.9, 0.05, 0.05]),
            class([0.05, 0.0, 0.9, 0.05]),
            class([0.8, 0.0, 0.1, 0.1]),
        ];
        let a = assemble(quotes, labels).unwrap();
        assert_eq!(a.quotes[0].label, Some(Stance::Threatening));
        assert_eq!(a.quotes[1].label, None);
        assert_eq!(a.quotes[2].label, Some(Stance::Conciliatory));
        assert_eq!(a.quotes[3].label, Some(Stance::Optimistic));
        assert_eq!(a.tension.statements, 3);
        assert_eq!(a.tension.contributions[2].weight, tension::PARTIAL_WEIGHT);
        assert_eq!(a.speakers[0].speaker, "A");
        assert_eq!(a.speakers[0].statements, 2);
        assert_eq!(a.tension.most_raising, Some(0));
    }

    #[test]
    fn mismatched_stances_are_an_error_not_a_panic() {
        let quotes = vec![quote("We will strike back hard.", None, QuoteKind::Full)];
        assert!(assemble(quotes, vec![]).is_err());
    }
}
