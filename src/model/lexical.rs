//! The lexical model: multinomial logistic regression over a statement's word
//! unigrams and bigrams, tf-idf weighted. A mean-pooled sentence vector blurs
//! the few words that carry a stance ("no intention", "stands ready", "will
//! pay"); this model reads them directly, and its log-probabilities are mixed
//! with the head's (`head::mix_logits`). Text in, logits out; no tensors, since
//! a statement touches a few dozen of tens of thousands of features.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use crate::error::{Error, Result};

pub const LEXICAL_FILE: &str = "lexical.json";

/// Lowercased words (Unicode word boundaries, so "won't" and "2,000" stay whole).
pub fn words(text: &str) -> Vec<String> {
    text.unicode_words().map(str::to_lowercase).collect()
}

/// Unigrams, then bigrams joined by a space, in text order.
pub fn ngrams(words: &[String]) -> impl Iterator<Item = String> + '_ {
    let bigrams = words.windows(2).map(|w| format!("{} {}", w[0], w[1]));
    words.iter().cloned().chain(bigrams)
}

/// `bias + Σ value·weights[id]` over sparse features; training scores its
/// snapshots with it before they become models.
pub fn sparse_logits(weights: &[[f32; 4]], bias: [f32; 4], features: &[(u32, f32)]) -> [f32; 4] {
    let mut z = bias;
    for &(id, v) in features {
        if let Some(w) = weights.get(id as usize) {
            for (zk, wk) in z.iter_mut().zip(w) {
                *zk += v * wk;
            }
        }
    }
    z
}

/// The file format: parallel arrays, one entry per n-gram.
#[derive(Serialize, Deserialize)]
struct Stored {
    ngrams: Vec<String>,
    idf: Vec<f32>,
    /// Per n-gram, one weight per stance in `Stance::ALL` order.
    weights: Vec<[f32; 4]>,
    bias: [f32; 4],
}

#[derive(Debug, Clone)]
pub struct LexicalModel {
    ngrams: Vec<String>,
    index: HashMap<String, u32>,
    idf: Vec<f32>,
    weights: Vec<[f32; 4]>,
    bias: [f32; 4],
}

impl LexicalModel {
    /// A model over `ngrams` (distinct) with their inverse document
    /// frequencies, weights and the bias.
    pub fn new(
        ngrams: Vec<String>,
        idf: Vec<f32>,
        weights: Vec<[f32; 4]>,
        bias: [f32; 4],
    ) -> Result<Self> {
        let bad = |reason: String| Error::Head {
            path: PathBuf::from(LEXICAL_FILE),
            reason,
        };
        if idf.len() != ngrams.len() || weights.len() != ngrams.len() {
            return Err(bad(format!(
                "{} n-grams but {} idf values and {} weight rows",
                ngrams.len(),
                idf.len(),
                weights.len()
            )));
        }
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !finite(&idf) || !finite(&bias) || !weights.iter().all(|w| finite(w)) {
            return Err(bad("non-finite idf or weight".into()));
        }
        let mut index = HashMap::with_capacity(ngrams.len());
        for (i, g) in ngrams.iter().enumerate() {
            let id = u32::try_from(i).map_err(|_| bad("too many n-grams".into()))?;
            if index.insert(g.clone(), id).is_some() {
                return Err(bad(format!("n-gram {g:?} appears twice")));
            }
        }
        Ok(Self {
            ngrams,
            index,
            idf,
            weights,
            bias,
        })
    }

    pub fn len(&self) -> usize {
        self.ngrams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ngrams.is_empty()
    }

    /// The same vocabulary and idf with other weights (training's snapshots).
    pub fn with_weights(&self, weights: Vec<[f32; 4]>, bias: [f32; 4]) -> Result<Self> {
        Self::new(self.ngrams.clone(), self.idf.clone(), weights, bias)
    }

    /// Sparse features, sorted by id: sublinear term frequency (1 + ln tf)
    /// times idf, scaled to unit length. Unknown n-grams are ignored.
    pub fn features(&self, text: &str) -> Vec<(u32, f32)> {
        let mut tf: HashMap<u32, u32> = HashMap::new();
        for g in ngrams(&words(text)) {
            if let Some(&id) = self.index.get(&g) {
                *tf.entry(id).or_insert(0) += 1;
            }
        }
        let mut f: Vec<(u32, f32)> = tf
            .into_iter()
            .map(|(id, n)| (id, (1.0 + (n as f32).ln()) * self.idf[id as usize]))
            .collect();
        f.sort_unstable_by_key(|&(id, _)| id);
        let norm = f.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in &mut f {
                *v /= norm;
            }
        }
        f
    }

    /// Logits in `Stance::ALL` order.
    pub fn logits(&self, text: &str) -> [f32; 4] {
        self.sparse_logits(&self.features(text))
    }

    /// Logits of features from `features` (ids past the vocabulary are ignored).
    pub fn sparse_logits(&self, features: &[(u32, f32)]) -> [f32; 4] {
        sparse_logits(&self.weights, self.bias, features)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Head {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let s: Stored = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        Self::new(s.ngrams, s.idf, s.weights, s.bias).map_err(|e| match e {
            Error::Head { reason, .. } => bad(reason),
            other => other,
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let stored = Stored {
            ngrams: self.ngrams.clone(),
            idf: self.idf.clone(),
            weights: self.weights.clone(),
            bias: self.bias,
        };
        let json = serde_json::to_string(&stored).map_err(|e| Error::Head {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        std::fs::write(path, json + "\n").map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> LexicalModel {
        LexicalModel::new(
            vec!["no".into(), "intention".into(), "no intention".into()],
            vec![1.0, 2.0, 3.0],
            vec![[0.0; 4], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]],
            [0.1, 0.0, 0.0, 0.0],
        )
        .unwrap()
    }

    #[test]
    fn words_keep_contractions_and_lowercase() {
        assert_eq!(
            words("We WON'T attack — 2,000 troops."),
            ["we", "won't", "attack", "2,000", "troops"]
        );
        assert_eq!(words("“No,” he said"), ["no", "he", "said"]);
    }

    #[test]
    fn features_are_unit_length_tf_idf_of_known_ngrams() {
        let m = model();
        let f = m.features("We have no intention, no.");
        // "no" twice (1 + ln 2), "intention" once, "no intention" once.
        let raw = [(0u32, 1.0 + 2f32.ln()), (1, 2.0), (2, 3.0)];
        let norm = raw.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        assert_eq!(f.len(), 3);
        for ((id, v), (rid, rv)) in f.iter().zip(raw) {
            assert_eq!(*id, rid);
            assert!((v - rv / norm).abs() < 1e-6);
        }
        assert!(m.features("nothing known here").is_empty());
    }

    #[test]
    fn logits_add_weighted_features_to_the_bias() {
        let m = model();
        assert_eq!(m.logits("unrelated words"), [0.1, 0.0, 0.0, 0.0]);
        let z = m.logits("no intention");
        let f = m.features("no intention");
        let expect = f[1].1 * 1.0;
        assert!((z[1] - expect).abs() < 1e-6);
        assert!((z[2] - f[2].1 * 2.0).abs() < 1e-6);
    }

    #[test]
    fn rejects_inconsistent_or_duplicate_vocabularies() {
        assert!(LexicalModel::new(vec!["a".into()], vec![], vec![[0.0; 4]], [0.0; 4]).is_err());
        assert!(
            LexicalModel::new(
                vec!["a".into(), "a".into()],
                vec![1.0, 1.0],
                vec![[0.0; 4]; 2],
                [0.0; 4]
            )
            .is_err()
        );
        assert!(
            LexicalModel::new(vec!["a".into()], vec![f32::NAN], vec![[0.0; 4]], [0.0; 4]).is_err()
        );
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = std::env::temp_dir().join(format!("detente-lexical-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(LEXICAL_FILE);
        let m = model();
        m.save(&path).unwrap();
        let back = LexicalModel::load(&path).unwrap();
        assert_eq!(back.logits("no intention"), m.logits("no intention"));
        std::fs::write(&path, "{\"ngrams\": 3}").unwrap();
        assert!(LexicalModel::load(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
