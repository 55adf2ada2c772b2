//! The article's tension: one bounded, monotone, explainable number from the
//! stances of its statements. No model, no I/O.
//!
//! Per statement `i` (terms are never scored):
//!
//! ```text
//! v_i = 6·p_threatening − 4·p_conciliatory − 3.4·p_optimistic      in −4..6
//!       (Goldstein-scale anchors: threaten −6, intend to cooperate +4,
//!        express accord +3.4, with the sign turned so that up means tense)
//!       then v_i ≥ 0 for statements labeled threatening and v_i ≤ 0 for
//!       statements labeled conciliatory or optimistic
//! w_i = 1 for a full quotation, 0.5 for a partial one
//! E   = Σ w_i·v_i
//! tension = 50 + 50·tanh(E / 12)                                    in (0, 100)
//! ```
//!
//! 50 means no net pressure either way. Evidence adds up: each statement moves
//! the score in the direction of its value, so a threatening statement never
//! lowers it and a conciliatory or optimistic one never raises it, and an
//! article with few statements stays near 50 (the shrinkage). tanh keeps the
//! score bounded; about three confident threats bring it past 95.
use serde::{Deserialize, Serialize};

use crate::stance::{Scores, Stance};

/// Goldstein-anchored weight of each stance, in `Stance::ALL` order.
pub const STANCE_VALUES: [f32; 4] = [-3.4, 6.0, -4.0, 0.0];
/// Evidence at which tanh reaches 0.76 (tension 88).
pub const SCALE: f32 = 12.0;
pub const FULL_WEIGHT: f32 = 1.0;
pub const PARTIAL_WEIGHT: f32 = 0.5;

/// One scored statement as the tension sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Index of the quotation in the article's list (terms included).
    pub quote_index: usize,
    pub scores: Scores,
    pub label: Stance,
    pub weight: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelSummary {
    pub label: Stance,
    pub count: usize,
    pub mean_probability: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub quote_index: usize,
    /// The statement's value v, in −4..6.
    pub value: f32,
    pub weight: f32,
    /// Tension with this statement minus tension without it.
    pub points: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tension {
    pub has_score: bool,
    /// Absent when the article has no statements: detente does not invent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// E = Σ w·v.
    pub evidence: f32,
    pub statements: usize,
    pub labels: Vec<LabelSummary>,
    pub contributions: Vec<Contribution>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub most_raising: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub most_lowering: Option<usize>,
    pub explanation: String,
}

/// The statement's value v, signed by its label.
pub fn value(scores: Scores, label: Stance) -> f32 {
    let p = scores.to_array();
    let v: f32 = p.iter().zip(STANCE_VALUES).map(|(p, w)| p * w).sum();
    match label {
        Stance::Threatening => v.max(0.0),
        Stance::Conciliatory | Stance::Optimistic => v.min(0.0),
        Stance::Neutral => v,
    }
}

pub fn weight_for(partial: bool) -> f32 {
    if partial { PARTIAL_WEIGHT } else { FULL_WEIGHT }
}

/// Tension from accumulated evidence.
pub fn from_evidence(evidence: f32) -> f32 {
    (50.0 + 50.0 * (evidence / SCALE).tanh()).clamp(0.0, 100.0)
}

/// Scores an article from its statements. `names[i]` describes statement i
/// for the explanation (a speaker, or "an unattributed statement").
pub fn score(statements: &[Statement], names: &[String]) -> Tension {
    let labels = Stance::ALL
        .iter()
        .map(|&label| {
            let count = statements.iter().filter(|s| s.label == label).count();
            let mean = if statements.is_empty() {
                0.0
            } else {
                statements.iter().map(|s| s.scores.get(label)).sum::<f32>()
                    / statements.len() as f32
            };
            LabelSummary {
                label,
                count,
                mean_probability: mean,
            }
        })
        .collect::<Vec<_>>();
    if statements.is_empty() {
        return Tension {
            has_score: false,
            score: None,
            evidence: 0.0,
            statements: 0,
            labels,
            contributions: Vec::new(),
            most_raising: None,
            most_lowering: None,
            explanation: "No quoted statements, so no tension score.".to_string(),
        };
    }
    let terms: Vec<f32> = statements
        .iter()
        .map(|s| s.weight * value(s.scores, s.label))
        .collect();
    let evidence: f32 = terms.iter().sum();
    let tension = from_evidence(evidence);
    let contributions: Vec<Contribution> = statements
        .iter()
        .zip(&terms)
        .map(|(s, t)| Contribution {
            quote_index: s.quote_index,
            value: value(s.scores, s.label),
            weight: s.weight,
            points: tension - from_evidence(evidence - t),
        })
        .collect();
    let extreme = |better: fn(f32, f32) -> bool| -> Option<usize> {
        let mut best: Option<(usize, f32)> = None;
        for (i, c) in contributions.iter().enumerate() {
            if better(c.points, 0.0) && best.is_none_or(|(_, p)| better(c.points, p)) {
                best = Some((i, c.points));
            }
        }
        best.map(|(i, _)| i)
    };
    let raising = extreme(|a, b| a > b);
    let lowering = extreme(|a, b| a < b);
    let mut explanation = format!(
        "Tension {:.1}/100 from {} statement{}: {}.",
        tension,
        statements.len(),
        if statements.len() == 1 { "" } else { "s" },
        labels
            .iter()
            .map(|l| format!("{} {}", l.count, l.label))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let describe = |i: usize| {
        let who = names.get(i).map(String::as_str).unwrap_or("a statement");
        // People count quotations from 1, as the text table does.
        format!(
            "{who} ({}, #{})",
            statements[i].label,
            statements[i].quote_index + 1
        )
    };
    if let Some(i) = raising {
        explanation.push_str(&format!(
            " Raised most by {}: {:+.1} points.",
            describe(i),
            contributions[i].points
        ));
    }
    if let Some(i) = lowering {
        explanation.push_str(&format!(
            " Lowered most by {}: {:+.1} points.",
            describe(i),
            contributions[i].points
        ));
    }
    Tension {
        has_score: true,
        score: Some(tension),
        evidence,
        statements: statements.len(),
        labels,
        contributions,
        most_raising: raising.map(|i| statements[i].quote_index),
        most_lowering: lowering.map(|i| statements[i].quote_index),
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn st(i: usize, p: [f32; 4]) -> Statement {
        let scores = Scores::from_array(p);
        Statement {
            quote_index: i,
            scores,
            label: scores.argmax(),
            weight: 1.0,
        }
    }

    fn probs() -> impl Strategy<Value = [f32; 4]> {
        prop::array::uniform4(0.001f32..1.0).prop_map(|a| {
            let s: f32 = a.iter().sum();
            [a[0] / s, a[1] / s, a[2] / s, a[3] / s]
        })
    }

    fn tension_of(list: &[Statement]) -> f32 {
        let names = vec![String::new(); list.len()];
        score(list, &names).score.unwrap_or(f32::NAN)
    }

    #[test]
    fn no_statements_no_score() {
        let t = score(&[], &[]);
        assert!(!t.has_score);
        assert!(t.score.is_none());
        let json = serde_json::to_value(&t).unwrap();
        assert!(json.get("score").is_none(), "{json}");
    }

    #[test]
    fn one_confident_threat_and_one_offer() {
        let threat = tension_of(&[st(0, [0.0, 1.0, 0.0, 0.0])]);
        assert!((threat - from_evidence(6.0)).abs() < 1e-4);
        assert!(threat > 70.0 && threat < 75.0, "{threat}");
        let offer = tension_of(&[st(0, [0.0, 0.0, 1.0, 0.0])]);
        assert!(offer > 30.0 && offer < 35.0, "{offer}");
    }

    #[test]
    fn explanation_names_the_extremes() {
        let list = [st(0, [0.0, 0.9, 0.05, 0.05]), st(3, [0.1, 0.0, 0.85, 0.05])];
        let t = score(&list, &["Ms. A".into(), "Mr. B".into()]);
        assert_eq!(t.most_raising, Some(0));
        assert_eq!(t.most_lowering, Some(3));
        assert!(t.explanation.contains("Ms. A") && t.explanation.contains("Mr. B"));
        assert!(t.contributions[0].points > 0.0 && t.contributions[1].points < 0.0);
    }

    proptest! {
        #[test]
        fn bounded(list in prop::collection::vec(probs(), 1..60)) {
            let list: Vec<_> = list.into_iter().enumerate().map(|(i, p)| st(i, p)).collect();
            let t = tension_of(&list);
            prop_assert!((0.0..=100.0).contains(&t));
        }

        #[test]
        fn monotone(list in prop::collection::vec(probs(), 0..30), extra in probs(), partial in any::<bool>()) {
            let mut list: Vec<_> = list.into_iter().enumerate().map(|(i, p)| st(i, p)).collect();
            let before = if list.is_empty() { 50.0 } else { tension_of(&list) };
            let mut added = st(list.len(), extra);
            added.weight = weight_for(partial);
            let label = added.label;
            list.push(added);
            let after = tension_of(&list);
            match label {
                Stance::Threatening => prop_assert!(after >= before - 1e-4, "{before} -> {after}"),
                Stance::Conciliatory | Stance::Optimistic => prop_assert!(after <= before + 1e-4, "{before} -> {after}"),
                Stance::Neutral => {}
            }
        }

        #[test]
        fn order_does_not_matter(list in prop::collection::vec(probs(), 1..20)) {
            let fwd: Vec<_> = list.iter().enumerate().map(|(i, p)| st(i, *p)).collect();
            let mut rev = fwd.clone();
            rev.reverse();
            prop_assert!((tension_of(&fwd) - tension_of(&rev)).abs() < 1e-3);
        }
    }
}
