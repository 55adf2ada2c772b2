//! Fitting the lexical model: a vocabulary of the train split's word unigrams
//! and bigrams, then class-weighted multinomial logistic regression trained
//! with AdamW on dense mini-batches, the epoch kept by dev macro-F1.
use std::collections::{BTreeMap, HashSet};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{class_weights, probs_from_logits, weighted_nll};
use crate::error::{Error, Result};
use crate::metrics::evaluate;
use crate::model::head::logits_tensor;
use crate::model::lexical::{LexicalModel, ngrams, sparse_logits, words};
use crate::stance::Stance;

/// An n-gram seen in a single training statement says more about that
/// statement than about the label.
pub const MIN_COUNT: usize = 2;
pub const EPOCHS: usize = 20;
/// Statements per step; a batch is densified, `BATCH × vocabulary` floats.
pub const BATCH: usize = 256;
pub const LR: f64 = 0.02;

pub struct FitLexical {
    pub model: LexicalModel,
    /// Epochs and optimizer steps of the kept snapshot.
    pub epochs: usize,
    pub steps: usize,
    pub dev_macro_f1: f32,
}

/// The best epoch's weights so far; a model is built only from the last one kept.
struct Snapshot {
    dev_macro_f1: f32,
    epoch: usize,
    rows: Vec<[f32; 4]>,
    bias: [f32; 4],
}

/// Vocabulary (n-grams in at least `min_count` statements, sorted) and
/// smoothed idf, `ln((1 + n) / (1 + df)) + 1`.
fn vocabulary(texts: &[&str], min_count: usize) -> (Vec<String>, Vec<f32>) {
    let mut df: BTreeMap<String, usize> = BTreeMap::new();
    for t in texts {
        let seen: HashSet<String> = ngrams(&words(t)).collect();
        for g in seen {
            *df.entry(g).or_insert(0) += 1;
        }
    }
    let n = texts.len() as f32;
    df.into_iter()
        .filter(|&(_, c)| c >= min_count)
        .map(|(g, c)| (g, ((1.0 + n) / (1.0 + c as f32)).ln() + 1.0))
        .unzip()
}

/// Fits the lexical model on `train` (statements as `model_text` gives them)
/// and keeps the epoch with the best dev macro-F1.
pub fn fit(
    train: &[(&str, Stance)],
    dev: &[(&str, Stance)],
    seed: u64,
    progress: &dyn Fn(usize, usize),
) -> Result<FitLexical> {
    let texts: Vec<&str> = train.iter().map(|(t, _)| *t).collect();
    let (vocab, idf) = vocabulary(&texts, MIN_COUNT);
    let v = vocab.len();
    if v == 0 {
        return Err(Error::Data {
            path: Default::default(),
            reason: format!("no word appears in {MIN_COUNT} training statements"),
        });
    }
    let base = LexicalModel::new(vocab, idf, vec![[0.0; 4]; v], [0.0; 4])?;
    let feats: Vec<Vec<(u32, f32)>> = texts.iter().map(|t| base.features(t)).collect();
    let class_w = class_weights(train.iter().map(|(_, y)| *y));

    let dev_gold: Vec<Stance> = dev.iter().map(|(_, y)| *y).collect();
    let dev_feats: Vec<Vec<(u32, f32)>> = dev.iter().map(|(t, _)| base.features(t)).collect();

    let w = Var::from_tensor(&Tensor::zeros((v, 4), DType::F32, &Device::Cpu)?)?;
    let b = Var::from_tensor(&Tensor::zeros(4, DType::F32, &Device::Cpu)?)?;
    let mut opt = AdamW::new(
        vec![w.clone(), b.clone()],
        ParamsAdamW {
            lr: LR,
            // The epoch kept by dev macro-F1 is the regularizer.
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut best: Option<Snapshot> = None;
    for epoch in 1..=EPOCHS {
        order.shuffle(&mut rng);
        for batch in order.chunks(BATCH) {
            let mut x = vec![0f32; batch.len() * v];
            for (r, &i) in batch.iter().enumerate() {
                for &(id, val) in &feats[i] {
                    x[r * v + id as usize] = val;
                }
            }
            let x = Tensor::from_vec(x, (batch.len(), v), &Device::Cpu)?;
            let gold: Vec<Stance> = batch.iter().map(|&i| train[i].1).collect();
            let logits = x.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
            opt.backward_step(&weighted_nll(&logits, &gold, &class_w)?)?;
        }
        let rows: Vec<[f32; 4]> = w
            .as_tensor()
            .to_vec2::<f32>()?
            .into_iter()
            .map(|r| [r[0], r[1], r[2], r[3]])
            .collect();
        let bias: Vec<f32> = b.as_tensor().to_vec1()?;
        let bias = [bias[0], bias[1], bias[2], bias[3]];
        let logits: Vec<[f32; 4]> = dev_feats
            .iter()
            .map(|f| sparse_logits(&rows, bias, f))
            .collect();
        let f1 = evaluate(&dev_gold, &probs_from_logits(&logits_tensor(&logits)?)?).macro_f1;
        tracing::info!(epoch, dev_macro_f1 = f1, "lexical model");
        progress(epoch, EPOCHS);
        if best.as_ref().is_none_or(|b| f1 > b.dev_macro_f1) {
            best = Some(Snapshot {
                dev_macro_f1: f1,
                epoch,
                rows,
                bias,
            });
        }
    }
    let Some(Snapshot {
        dev_macro_f1,
        epoch: epochs,
        rows,
        bias,
    }) = best
    else {
        return Err(Error::Data {
            path: Default::default(),
            reason: "no lexical epoch ran".into(),
        });
    };
    Ok(FitLexical {
        model: base.with_weights(rows, bias)?,
        epochs,
        steps: epochs * train.len().div_ceil(BATCH),
        dev_macro_f1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_keeps_ngrams_of_several_statements_with_smoothed_idf() {
        let (vocab, idf) = vocabulary(&["we will fight", "we will talk", "talk now"], 2);
        assert_eq!(vocab, ["talk", "we", "we will", "will"]);
        // Every kept n-gram is in 2 of 3 statements: ln(4/3) + 1.
        for v in idf {
            assert!((v - ((4f32 / 3.0).ln() + 1.0)).abs() < 1e-6);
        }
    }

    /// Words that mark a label are learned, and a rerun gives the same model.
    #[test]
    fn learns_marker_words_reproducibly() {
        let markers = ["hope", "warn", "talks", "said"];
        let fillers = ["the", "a", "on", "in", "we", "they"];
        let mut train = Vec::new();
        let mut texts = Vec::new();
        for i in 0..160 {
            let label = Stance::ALL[i % 4];
            texts.push(format!(
                "{} {} {} today",
                fillers[i % fillers.len()],
                markers[label.index()],
                fillers[(i / 4) % fillers.len()]
            ));
            train.push(label);
        }
        let pairs: Vec<(&str, Stance)> = texts.iter().map(|t| t.as_str()).zip(train).collect();
        let a = fit(&pairs, &pairs[..40], 3, &|_, _| {}).unwrap();
        let b = fit(&pairs, &pairs[..40], 3, &|_, _| {}).unwrap();
        assert_eq!(a.dev_macro_f1, 1.0);
        for (i, m) in markers.iter().enumerate() {
            let z = a.model.logits(m);
            let top = (0..4).max_by(|&p, &q| z[p].total_cmp(&z[q])).unwrap();
            assert_eq!(top, i, "{m}: {z:?}");
            assert_eq!(z, b.model.logits(m));
        }
    }
}
