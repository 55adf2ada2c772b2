//! Conversions between the library's types and the gRPC messages, both ways:
//! the server sends what the library computes, and the CLI's client turns the
//! answer back into the same types, so both faces print identical output.
use crate::analyzer::{Analysis, AnalyzedQuote, Info, SpeakerSummary, SplitSummary};
use crate::proto;
use crate::quotes::{Quote, QuoteKind};
use crate::stance::{Classification, Scores, Stance};
use crate::tension::{Contribution, LabelSummary, Tension};

pub fn stance_to_proto(s: Stance) -> proto::Stance {
    match s {
        Stance::Optimistic => proto::Stance::Optimistic,
        Stance::Threatening => proto::Stance::Threatening,
        Stance::Conciliatory => proto::Stance::Conciliatory,
        Stance::Neutral => proto::Stance::Neutral,
    }
}

pub fn stance_from_proto(v: i32) -> Option<Stance> {
    match proto::Stance::try_from(v).ok()? {
        proto::Stance::Optimistic => Some(Stance::Optimistic),
        proto::Stance::Threatening => Some(Stance::Threatening),
        proto::Stance::Conciliatory => Some(Stance::Conciliatory),
        proto::Stance::Neutral => Some(Stance::Neutral),
        proto::Stance::Unspecified => None,
    }
}

fn kind_to_proto(k: QuoteKind) -> proto::QuoteKind {
    match k {
        QuoteKind::Full => proto::QuoteKind::Full,
        QuoteKind::Partial => proto::QuoteKind::Partial,
        QuoteKind::Term => proto::QuoteKind::Term,
    }
}

fn kind_from_proto(v: i32) -> QuoteKind {
    match proto::QuoteKind::try_from(v) {
        Ok(proto::QuoteKind::Partial) => QuoteKind::Partial,
        Ok(proto::QuoteKind::Term) => QuoteKind::Term,
        _ => QuoteKind::Full,
    }
}

fn scores_to_proto(s: Scores) -> proto::StanceScores {
    proto::StanceScores {
        optimistic: s.optimistic,
        threatening: s.threatening,
        conciliatory: s.conciliatory,
        neutral: s.neutral,
    }
}

fn scores_from_proto(s: &proto::StanceScores) -> Scores {
    Scores {
        optimistic: s.optimistic,
        threatening: s.threatening,
        conciliatory: s.conciliatory,
        neutral: s.neutral,
    }
}

fn spans_to_proto(spans: &[(usize, usize)]) -> Vec<proto::Span> {
    spans
        .iter()
        .map(|&(s, e)| proto::Span {
            start: s as u32,
            end: e as u32,
        })
        .collect()
}

fn spans_from_proto(spans: &[proto::Span]) -> Vec<(usize, usize)> {
    spans
        .iter()
        .map(|s| (s.start as usize, s.end as usize))
        .collect()
}

pub fn quote_to_proto(q: &Quote) -> proto::Quote {
    proto::Quote {
        text: q.text.clone(),
        spans: spans_to_proto(&q.spans),
        speaker: q.speaker.clone(),
        speaker_mention: q.speaker_mention.clone(),
        cue: q.cue.clone(),
        kind: kind_to_proto(q.kind) as i32,
        paragraph: q.paragraph as u32,
        confidence: q.confidence,
    }
}

pub fn quote_from_proto(q: &proto::Quote) -> Quote {
    Quote {
        text: q.text.clone(),
        spans: spans_from_proto(&q.spans),
        speaker: q.speaker.clone(),
        speaker_mention: q.speaker_mention.clone(),
        cue: q.cue.clone(),
        kind: kind_from_proto(q.kind),
        paragraph: q.paragraph as usize,
        confidence: q.confidence,
    }
}

pub fn classification_to_proto(text: &str, c: &Classification) -> proto::ClassifiedStatement {
    proto::ClassifiedStatement {
        text: text.to_string(),
        stance: stance_to_proto(c.label) as i32,
        scores: Some(scores_to_proto(c.scores)),
        truncated: c.truncated,
    }
}

pub fn classification_from_proto(c: &proto::ClassifiedStatement) -> Option<Classification> {
    Some(Classification {
        label: stance_from_proto(c.stance)?,
        scores: scores_from_proto(c.scores.as_ref()?),
        truncated: c.truncated,
    })
}

pub fn analysis_to_proto(id: &str, title: &str, a: &Analysis) -> proto::ArticleAnalysis {
    let quotes = a
        .quotes
        .iter()
        .map(|q| proto::AnalyzedQuote {
            quote: Some(proto::Quote {
                text: q.text.clone(),
                spans: spans_to_proto(&q.spans),
                speaker: q.speaker.clone(),
                speaker_mention: q.speaker_mention.clone(),
                cue: q.cue.clone(),
                kind: kind_to_proto(q.kind) as i32,
                paragraph: q.paragraph as u32,
                confidence: q.confidence,
            }),
            stance: q
                .label
                .map(stance_to_proto)
                .unwrap_or(proto::Stance::Unspecified) as i32,
            scores: q.scores.map(scores_to_proto),
            truncated: q.truncated,
        })
        .collect();
    let t = &a.tension;
    let tension = proto::Tension {
        has_score: t.has_score,
        score: t.score.unwrap_or(0.0),
        evidence: t.evidence,
        statements: t.statements as u32,
        labels: t
            .labels
            .iter()
            .map(|l| proto::LabelSummary {
                stance: stance_to_proto(l.label) as i32,
                count: l.count as u32,
                mean_probability: l.mean_probability,
            })
            .collect(),
        contributions: t
            .contributions
            .iter()
            .map(|c| proto::Contribution {
                quote_index: c.quote_index as u32,
                value: c.value,
                weight: c.weight,
                points: c.points,
            })
            .collect(),
        most_raising: t.most_raising.map(|i| i as u32),
        most_lowering: t.most_lowering.map(|i| i as u32),
        explanation: t.explanation.clone(),
    };
    proto::ArticleAnalysis {
        id: id.to_string(),
        title: title.to_string(),
        quotes,
        tension: Some(tension),
        speakers: a
            .speakers
            .iter()
            .map(|s| proto::SpeakerSummary {
                speaker: s.speaker.clone(),
                statements: s.statements as u32,
                mean_scores: Some(scores_to_proto(s.mean_scores)),
                tension: s.tension,
            })
            .collect(),
        error: None,
    }
}

pub fn analysis_from_proto(a: &proto::ArticleAnalysis) -> Analysis {
    let quotes = a
        .quotes
        .iter()
        .map(|q| {
            let quote = q.quote.as_ref().map(quote_from_proto).unwrap_or(Quote {
                text: String::new(),
                spans: Vec::new(),
                speaker: None,
                speaker_mention: None,
                cue: None,
                kind: QuoteKind::Full,
                paragraph: 0,
                confidence: 0.0,
            });
            AnalyzedQuote {
                text: quote.text,
                speaker: quote.speaker,
                speaker_mention: quote.speaker_mention,
                cue: quote.cue,
                kind: quote.kind,
                spans: quote.spans,
                paragraph: quote.paragraph,
                confidence: quote.confidence,
                label: stance_from_proto(q.stance),
                scores: q.scores.as_ref().map(scores_from_proto),
                truncated: q.truncated,
            }
        })
        .collect();
    let t = a.tension.clone().unwrap_or_default();
    let tension = Tension {
        has_score: t.has_score,
        score: t.has_score.then_some(t.score),
        evidence: t.evidence,
        statements: t.statements as usize,
        labels: t
            .labels
            .iter()
            .filter_map(|l| {
                Some(LabelSummary {
                    label: stance_from_proto(l.stance)?,
                    count: l.count as usize,
                    mean_probability: l.mean_probability,
                })
            })
            .collect(),
        contributions: t
            .contributions
            .iter()
            .map(|c| Contribution {
                quote_index: c.quote_index as usize,
                value: c.value,
                weight: c.weight,
                points: c.points,
            })
            .collect(),
        most_raising: t.most_raising.map(|i| i as usize),
        most_lowering: t.most_lowering.map(|i| i as usize),
        explanation: t.explanation,
    };
    Analysis {
        quotes,
        tension,
        speakers: a
            .speakers
            .iter()
            .map(|s| SpeakerSummary {
                speaker: s.speaker.clone(),
                statements: s.statements as usize,
                mean_scores: s
                    .mean_scores
                    .as_ref()
                    .map(scores_from_proto)
                    .unwrap_or_default(),
                tension: s.tension,
            })
            .collect(),
    }
}

pub fn info_to_proto(i: &Info) -> proto::Info {
    proto::Info {
        version: i.version.clone(),
        model_id: i.model_id.clone(),
        revision: i.revision.clone(),
        labels: i.labels.iter().map(|l| l.as_str().to_string()).collect(),
        head_metrics: i
            .head_metrics
            .iter()
            .map(|m| proto::SplitMetrics {
                split: m.split.clone(),
                accuracy: m.accuracy,
                macro_f1: m.macro_f1,
                ece: m.ece,
                size: m.size as u32,
            })
            .collect(),
        embedding_size: i.embedding_size as u32,
        max_tokens: i.max_tokens as u32,
        head_kind: i.head_kind.clone(),
        precision: i.precision.clone(),
        lexical_weight: i.lexical_weight,
    }
}

pub fn info_from_proto(i: &proto::Info) -> Info {
    Info {
        version: i.version.clone(),
        model_id: i.model_id.clone(),
        revision: i.revision.clone(),
        labels: i.labels.iter().filter_map(|l| l.parse().ok()).collect(),
        embedding_size: i.embedding_size as usize,
        max_tokens: i.max_tokens as usize,
        head_kind: i.head_kind.clone(),
        lexical_weight: i.lexical_weight,
        precision: i.precision.clone(),
        head_metrics: i
            .head_metrics
            .iter()
            .map(|m| SplitSummary {
                split: m.split.clone(),
                size: m.size as usize,
                accuracy: m.accuracy,
                macro_f1: m.macro_f1,
                ece: m.ece,
            })
            .collect(),
    }
}
