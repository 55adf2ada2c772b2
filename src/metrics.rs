//! Classification quality: accuracy, per-label precision/recall/F1, macro-F1,
//! confusion matrix and expected calibration error.
use serde::{Deserialize, Serialize};

use crate::stance::Stance;

/// Bins for the expected calibration error, as in Guo et al. (2017).
pub const ECE_BINS: usize = 15;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    pub label: Stance,
    pub precision: f32,
    pub recall: f32,
    pub f1: f32,
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub size: usize,
    pub accuracy: f32,
    pub macro_f1: f32,
    /// Expected calibration error of the top probability, 15 equal-width bins.
    pub ece: f32,
    /// Mean negative log-likelihood of the gold label.
    pub nll: f32,
    pub per_label: Vec<LabelMetrics>,
    /// `confusion[gold][predicted]`, labels in `Stance::ALL` order.
    pub confusion: [[usize; 4]; 4],
}

/// Scores predictions (`probs[i]` in `Stance::ALL` order) against gold labels.
pub fn evaluate(gold: &[Stance], probs: &[[f32; 4]]) -> Metrics {
    let n = gold.len().min(probs.len());
    let mut confusion = [[0usize; 4]; 4];
    let mut nll = 0f64;
    let mut bins = [(0usize, 0f64, 0f64); ECE_BINS];
    for (g, p) in gold.iter().zip(probs).take(n) {
        let pred = argmax(p);
        confusion[g.index()][pred] += 1;
        nll -= f64::from(p[g.index()].max(1e-12)).ln();
        let conf = f64::from(p[pred]);
        let b = ((conf * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[b].0 += 1;
        bins[b].1 += conf;
        bins[b].2 += f64::from(u8::from(pred == g.index()));
    }
    let correct: usize = (0..4).map(|i| confusion[i][i]).sum();
    let per_label: Vec<LabelMetrics> = Stance::ALL
        .iter()
        .map(|&label| {
            let i = label.index();
            let tp = confusion[i][i] as f32;
            let predicted: usize = (0..4).map(|g| confusion[g][i]).sum();
            let support: usize = confusion[i].iter().sum();
            let precision = if predicted > 0 {
                tp / predicted as f32
            } else {
                0.0
            };
            let recall = if support > 0 {
                tp / support as f32
            } else {
                0.0
            };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            LabelMetrics {
                label,
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let present: Vec<&LabelMetrics> = per_label.iter().filter(|m| m.support > 0).collect();
    let macro_f1 = if present.is_empty() {
        0.0
    } else {
        present.iter().map(|m| m.f1).sum::<f32>() / present.len() as f32
    };
    let ece = if n == 0 {
        0.0
    } else {
        bins.iter()
            .filter(|b| b.0 > 0)
            .map(|&(_, conf, acc)| (acc - conf).abs())
            .sum::<f64>()
            / n as f64
    };
    Metrics {
        size: n,
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f32 / n as f32
        },
        macro_f1,
        ece: ece as f32,
        nll: if n == 0 { 0.0 } else { (nll / n as f64) as f32 },
        per_label,
        confusion,
    }
}

fn argmax(p: &[f32; 4]) -> usize {
    let mut best = 0;
    for i in 1..4 {
        if p[i] > p[best] {
            best = i;
        }
    }
    best
}

impl Metrics {
    /// A plain-text report: summary, per-label table, confusion matrix.
    pub fn report(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "statements {}  accuracy {:.3}  macro-F1 {:.3}  ECE {:.3}  NLL {:.3}",
            self.size, self.accuracy, self.macro_f1, self.ece, self.nll
        );
        let _ = writeln!(
            s,
            "\n{:<13} {:>9} {:>7} {:>7} {:>8}",
            "label", "precision", "recall", "F1", "support"
        );
        for m in &self.per_label {
            let _ = writeln!(
                s,
                "{:<13} {:>9.3} {:>7.3} {:>7.3} {:>8}",
                m.label.as_str(),
                m.precision,
                m.recall,
                m.f1,
                m.support
            );
        }
        let _ = writeln!(s, "\nconfusion (rows: gold, columns: predicted)");
        let _ = write!(s, "{:<13}", "");
        for l in Stance::ALL {
            let _ = write!(s, " {:>12}", l.as_str());
        }
        let _ = writeln!(s);
        for g in Stance::ALL {
            let _ = write!(s, "{:<13}", g.as_str());
            for p in 0..4 {
                let _ = write!(s, " {:>12}", self.confusion[g.index()][p]);
            }
            let _ = writeln!(s);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_predictions() {
        let gold = [Stance::Optimistic, Stance::Threatening, Stance::Neutral];
        let probs = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let m = evaluate(&gold, &probs);
        assert_eq!(m.accuracy, 1.0);
        assert_eq!(m.macro_f1, 1.0);
        assert!(m.ece < 1e-6);
    }

    #[test]
    fn counts_land_in_the_confusion_matrix() {
        let gold = [
            Stance::Threatening,
            Stance::Threatening,
            Stance::Conciliatory,
            Stance::Neutral,
        ];
        let probs = [
            [0.1, 0.7, 0.1, 0.1],
            [0.1, 0.1, 0.7, 0.1],
            [0.1, 0.1, 0.7, 0.1],
            [0.1, 0.1, 0.1, 0.7],
        ];
        let m = evaluate(&gold, &probs);
        assert_eq!(m.confusion[1][1], 1);
        assert_eq!(m.confusion[1][2], 1);
        assert_eq!(m.accuracy, 0.75);
        let t = &m.per_label[1];
        assert_eq!((t.precision, t.recall), (1.0, 0.5));
        let c = &m.per_label[2];
        assert_eq!((c.precision, c.recall), (0.5, 1.0));
        // Confident at 0.7 but right 75% of the time: ECE is 0.05.
        assert!((m.ece - 0.05).abs() < 1e-5, "{}", m.ece);
    }
}
