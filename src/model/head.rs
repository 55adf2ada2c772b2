//! The stance head: a small classifier over sentence vectors, trained by
//! `detente train`. Tensors in, probabilities out; loading checks that the
//! head was trained on the same encoder.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{D, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::adapter::{ADAPTER_WEIGHTS, Adapter, AdapterConfig, EncoderShape};
use super::lexical::{LEXICAL_FILE, LexicalModel};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::stance::Stance;

pub const HEAD_WEIGHTS: &str = "head.safetensors";
pub const HEAD_CONFIG: &str = "config.json";

/// The probe sentence whose vector identifies an encoder: a head trained on one
/// encoder's vectors means nothing on another's.
pub const PROBE_TEXT: &str = "Talks between the two sides resumed on Monday.";
/// Components of the probe vector recorded in the head's config.
pub const PROBE_COMPONENTS: usize = 16;
const PROBE_TOLERANCE: f32 = 1e-3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// Multinomial logistic regression: one linear layer.
    Logistic,
    /// One hidden ReLU layer.
    Mlp,
}

impl HeadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HeadKind::Logistic => "logistic",
            HeadKind::Mlp => "mlp",
        }
    }
}

/// What the head was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderStamp {
    pub model_id: String,
    pub revision: String,
    pub embedding_size: usize,
    pub max_tokens: usize,
    /// The first components of the encoder's vector for `PROBE_TEXT`.
    pub probe: Vec<f32>,
}

/// `config.json` beside `head.safetensors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadConfig {
    pub encoder: EncoderStamp,
    pub labels: Vec<Stance>,
    pub kind: HeadKind,
    /// Width of the hidden layer (0 for logistic regression).
    pub hidden: usize,
    /// Logits are divided by this before the softmax (fit on the dev split).
    pub temperature: f32,
    pub seed: u64,
    /// Quality on the corpus splits ("dev", "test"), after calibration.
    pub metrics: BTreeMap<String, Metrics>,
    /// Every candidate tried, with its dev macro-F1, for the model card.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Statements per split.
    #[serde(default)]
    pub split_sizes: BTreeMap<String, usize>,
    /// Present when the encoder was fine-tuned: `adapter.safetensors` beside
    /// the head holds low-rank updates merged into the encoder at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterConfig>,
    /// Present when `lexical.json` beside the head holds a lexical model whose
    /// log-probabilities are mixed with the head's; the temperature then
    /// applies to the mixture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexical: Option<LexicalConfig>,
}

/// How the lexical model was fit and how much it counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexicalConfig {
    /// Share of the lexical model's log-probabilities in the mixture (chosen on dev).
    pub weight: f32,
    /// Word unigrams and bigrams in its vocabulary.
    pub ngrams: usize,
    /// An n-gram enters the vocabulary when at least this many training
    /// statements contain it.
    pub min_count: usize,
    /// Epochs of the kept snapshot.
    pub epochs: usize,
    /// Its dev macro-F1 alone, for the model card.
    pub dev_macro_f1: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub name: String,
    pub dev_macro_f1: f32,
    pub dev_accuracy: f32,
    pub steps: usize,
}

/// The mixture of head and lexical model, shared by inference and training:
/// `(1 - weight)·log p_head + weight·log p_lexical`, used as logits.
pub fn mix_logits(head: &Tensor, lexical: &Tensor, weight: f32) -> Result<Tensor> {
    let h = candle_nn::ops::log_softmax(head, D::Minus1)?;
    let g = candle_nn::ops::log_softmax(lexical, D::Minus1)?;
    Ok(((h * f64::from(1.0 - weight))? + (g * f64::from(weight))?)?)
}

/// Rows of logits as an `[n, 4]` tensor.
pub fn logits_tensor(rows: &[[f32; 4]]) -> Result<Tensor> {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Ok(Tensor::from_vec(flat, (rows.len(), 4), &Device::Cpu)?)
}

/// The head's arithmetic, shared by inference, training and fine-tuning:
/// `x·w1ᵀ + b1`, then for the MLP `relu(·)·w2ᵀ + b2`.
pub fn head_logits(
    x: &Tensor,
    w1: &Tensor,
    b1: &Tensor,
    out: Option<(&Tensor, &Tensor)>,
) -> Result<Tensor> {
    let h = x.matmul(&w1.t()?)?.broadcast_add(b1)?;
    Ok(match out {
        None => h,
        Some((w2, b2)) => h.relu()?.matmul(&w2.t()?)?.broadcast_add(b2)?,
    })
}

pub struct StanceHead {
    config: HeadConfig,
    w1: Tensor,
    b1: Tensor,
    /// Present for the MLP.
    out: Option<(Tensor, Tensor)>,
    /// Encoder adapter trained with this head, if any.
    adapter: Option<Adapter>,
    /// Lexical model mixed with this head, if any.
    lexical: Option<LexicalModel>,
    /// Where the head was loaded from (for loading the adapter).
    dir: Option<PathBuf>,
}

impl StanceHead {
    /// Builds a head from trained tensors: `w1 [hidden|4, dim]`, `b1`, and for
    /// the MLP `w2 [4, hidden]`, `b2`.
    pub fn new(config: HeadConfig, w1: Tensor, b1: Tensor, out: Option<(Tensor, Tensor)>) -> Self {
        Self {
            config,
            w1,
            b1,
            out,
            adapter: None,
            lexical: None,
            dir: None,
        }
    }

    /// Mixes `model` into this head's probabilities with `config.weight`.
    pub fn set_lexical(&mut self, model: LexicalModel, config: LexicalConfig) {
        self.config.lexical = Some(config);
        self.lexical = Some(model);
    }

    /// The lexical model's logits for a statement (as `model_text` gives it),
    /// when this head mixes one in.
    pub fn lexical_logits(&self, text: &str) -> Option<[f32; 4]> {
        self.lexical.as_ref().map(|m| m.logits(text))
    }

    pub fn set_adapter(&mut self, adapter: Adapter) {
        self.config.adapter = Some(adapter.config.clone());
        self.adapter = Some(adapter);
    }

    /// The encoder adapter trained with this head, loaded from its directory.
    pub fn load_adapter(&self, shape: EncoderShape) -> Result<Option<Adapter>> {
        match (&self.config.adapter, &self.dir) {
            (Some(cfg), Some(dir)) => Ok(Some(Adapter::load(
                &dir.join(ADAPTER_WEIGHTS),
                cfg.clone(),
                shape,
            )?)),
            _ => Ok(None),
        }
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let bad = |path: PathBuf, reason: String| Error::Head { path, reason };
        let cfg_path = dir.join(HEAD_CONFIG);
        let bytes = std::fs::read(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
        let config: HeadConfig =
            serde_json::from_slice(&bytes).map_err(|e| bad(cfg_path.clone(), e.to_string()))?;
        if config.labels != Stance::ALL {
            return Err(bad(
                cfg_path,
                format!(
                    "labels {:?} are not detente's four stances in order",
                    config.labels
                ),
            ));
        }
        let weights_path = dir.join(HEAD_WEIGHTS);
        let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)
            .map_err(|e| bad(weights_path.clone(), e.to_string()))?;
        let get = |name: &str| {
            tensors
                .get(name)
                .cloned()
                .ok_or_else(|| bad(weights_path.clone(), format!("missing tensor {name}")))
        };
        let (w1, b1) = (get("w1")?, get("b1")?);
        let out = match config.kind {
            HeadKind::Logistic => None,
            HeadKind::Mlp => Some((get("w2")?, get("b2")?)),
        };
        let lexical = match &config.lexical {
            Some(cfg) => {
                let path = dir.join(LEXICAL_FILE);
                let model = LexicalModel::load(&path)?;
                if !(0.0..=1.0).contains(&cfg.weight) || cfg.ngrams != model.len() {
                    return Err(bad(
                        cfg_path,
                        format!(
                            "lexical weight {} (must be in [0, 1]) or n-gram count {} \
                             does not match {} with {} n-grams",
                            cfg.weight,
                            cfg.ngrams,
                            path.display(),
                            model.len()
                        ),
                    ));
                }
                Some(model)
            }
            None => None,
        };
        let head = Self {
            config,
            w1,
            b1,
            out,
            adapter: None,
            lexical,
            dir: Some(dir.to_path_buf()),
        };
        head.check_shapes()
            .map_err(|reason| bad(weights_path.clone(), reason))?;
        Ok(head)
    }

    fn check_shapes(&self) -> std::result::Result<(), String> {
        let dim = self.config.encoder.embedding_size;
        let w1 = self.w1.dims();
        let classes = Stance::ALL.len();
        let first_out = if self.out.is_some() {
            self.config.hidden
        } else {
            classes
        };
        if w1 != [first_out, dim] {
            return Err(format!(
                "w1 has shape {w1:?}, expected [{first_out}, {dim}]"
            ));
        }
        if let Some((w2, _)) = &self.out
            && w2.dims() != [classes, self.config.hidden]
        {
            return Err(format!(
                "w2 has shape {:?}, expected [{classes}, {}]",
                w2.dims(),
                self.config.hidden
            ));
        }
        Ok(())
    }

    /// Writes the head's files; a companion file (adapter, lexical model)
    /// the head does not have is removed, so a reload sees this head only.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        tensors.insert("w1".into(), self.w1.clone());
        tensors.insert("b1".into(), self.b1.clone());
        if let Some((w2, b2)) = &self.out {
            tensors.insert("w2".into(), w2.clone());
            tensors.insert("b2".into(), b2.clone());
        }
        let weights_path = dir.join(HEAD_WEIGHTS);
        candle_core::safetensors::save(&tensors, &weights_path).map_err(|e| Error::Head {
            path: weights_path,
            reason: e.to_string(),
        })?;
        let adapter_path = dir.join(ADAPTER_WEIGHTS);
        match &self.adapter {
            Some(a) => a.save(&adapter_path)?,
            None => remove_stale(&adapter_path)?,
        }
        let lexical_path = dir.join(LEXICAL_FILE);
        match &self.lexical {
            Some(m) => m.save(&lexical_path)?,
            None => remove_stale(&lexical_path)?,
        }
        let cfg_path = dir.join(HEAD_CONFIG);
        let json = serde_json::to_string_pretty(&self.config).map_err(|e| Error::Head {
            path: cfg_path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&cfg_path, json + "\n").map_err(|e| Error::io(&cfg_path, e))
    }

    pub fn config(&self) -> &HeadConfig {
        &self.config
    }

    /// Refuses an encoder whose vectors differ from the one the head was
    /// trained on. `probe` is the encoder's vector for `PROBE_TEXT`.
    pub fn check_encoder(&self, embedding_size: usize, probe: &[f32]) -> Result<()> {
        let stamp = &self.config.encoder;
        let mismatch = |reason: String| Error::Head {
            path: PathBuf::from(HEAD_CONFIG),
            reason: format!(
                "trained on encoder {} ({}), which does not match the loaded one: {reason}; \
                 retrain with `detente train`",
                stamp.model_id, stamp.revision
            ),
        };
        if stamp.embedding_size != embedding_size {
            return Err(mismatch(format!(
                "embedding size {} vs {embedding_size}",
                stamp.embedding_size
            )));
        }
        let worst = stamp
            .probe
            .iter()
            .zip(probe)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        if stamp.probe.len() > probe.len() || worst > PROBE_TOLERANCE {
            return Err(mismatch(format!("probe vector differs by {worst:.4}")));
        }
        Ok(())
    }

    /// Raw logits `[n, 4]` for sentence vectors `[n, dim]`.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        head_logits(
            x,
            &self.w1,
            &self.b1,
            self.out.as_ref().map(|(a, b)| (a, b)),
        )
    }

    /// Calibrated probabilities, one `[f32; 4]` per vector, in `Stance::ALL`
    /// order. `lexical` holds `lexical_logits` of the same statements, row
    /// for row: required when this head mixes a lexical model in, refused
    /// when it does not.
    pub fn probabilities(&self, x: &Tensor, lexical: Option<&[[f32; 4]]>) -> Result<Vec<[f32; 4]>> {
        let t = f64::from(self.config.temperature.max(1e-3));
        let mut logits = self.logits(x)?;
        let n = x.dim(0)?;
        let mismatch = |reason: String| Error::Head {
            path: self.dir.clone().unwrap_or_default(),
            reason,
        };
        match (&self.config.lexical, lexical) {
            (Some(cfg), Some(rows)) if rows.len() == n => {
                logits = mix_logits(&logits, &logits_tensor(rows)?, cfg.weight)?;
            }
            (Some(_), rows) => {
                return Err(mismatch(format!(
                    "{} lexical rows for {n} statements",
                    rows.map_or(0, <[_]>::len)
                )));
            }
            (None, Some(_)) => {
                return Err(mismatch(
                    "lexical rows for a head without a lexical model".into(),
                ));
            }
            (None, None) => {}
        }
        let logits = (logits / t)?;
        let probs = candle_nn::ops::softmax(&logits, D::Minus1)?;
        let rows: Vec<Vec<f32>> = probs.to_vec2()?;
        Ok(rows.into_iter().map(|r| [r[0], r[1], r[2], r[3]]).collect())
    }
}

/// Removes a file left by an earlier save, if there is one.
fn remove_stale(path: &Path) -> Result<()> {
    if path.exists() {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> StanceHead {
        let config = HeadConfig {
            encoder: EncoderStamp {
                model_id: "test".into(),
                revision: "0".into(),
                embedding_size: 2,
                max_tokens: 8,
                probe: vec![],
            },
            labels: Stance::ALL.to_vec(),
            kind: HeadKind::Logistic,
            hidden: 0,
            temperature: 2.0,
            seed: 0,
            metrics: BTreeMap::new(),
            candidates: vec![],
            split_sizes: BTreeMap::new(),
            adapter: None,
            lexical: None,
        };
        let w1 = Tensor::new(
            &[[1f32, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]],
            &Device::Cpu,
        );
        let b1 = Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu);
        StanceHead::new(config, w1.unwrap(), b1.unwrap(), None)
    }

    fn lexical() -> (LexicalModel, LexicalConfig) {
        let model = LexicalModel::new(
            vec!["calm".into()],
            vec![1.0],
            vec![[0.0, 0.0, 3.0, 0.0]],
            [0.0; 4],
        )
        .unwrap();
        let config = LexicalConfig {
            weight: 0.5,
            ngrams: 1,
            min_count: 2,
            epochs: 1,
            dev_macro_f1: 0.0,
        };
        (model, config)
    }

    #[test]
    fn mixture_weights_log_probabilities() {
        let h = Tensor::new(&[[2f32, 0.0, 0.0, 0.0]], &Device::Cpu).unwrap();
        let g = Tensor::new(&[[0f32, 0.0, 1.0, 0.0]], &Device::Cpu).unwrap();
        let log_h = candle_nn::ops::log_softmax(&h, D::Minus1).unwrap();
        let log_g = candle_nn::ops::log_softmax(&g, D::Minus1).unwrap();
        let close = |a: &Tensor, b: &Tensor| {
            let d: f32 = (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar()
                .unwrap();
            assert!(d < 1e-6, "{d}");
        };
        close(&mix_logits(&h, &g, 0.0).unwrap(), &log_h);
        close(&mix_logits(&h, &g, 1.0).unwrap(), &log_g);
        let half = ((&log_h + &log_g).unwrap() * 0.5).unwrap();
        close(&mix_logits(&h, &g, 0.5).unwrap(), &half);
    }

    #[test]
    fn a_mixed_head_round_trips_and_needs_a_lexical_row_per_vector() {
        let dir = std::env::temp_dir().join(format!("detente-head-{}", std::process::id()));
        let mut h = head();
        let (model, config) = lexical();
        h.set_lexical(model, config);
        h.save(&dir).unwrap();
        let back = StanceHead::load(&dir).unwrap();
        let x = Tensor::new(&[[1f32, 0.0]], &Device::Cpu).unwrap();
        let row = back.lexical_logits("calm, calm").unwrap();
        assert_eq!(row, h.lexical_logits("calm, calm").unwrap());
        let p = back.probabilities(&x, Some(&[row])).unwrap()[0];
        let mixed = mix_logits(
            &back.logits(&x).unwrap(),
            &logits_tensor(&[row]).unwrap(),
            0.5,
        )
        .unwrap();
        let want: Vec<Vec<f32>> = candle_nn::ops::softmax(&(mixed / 2.0).unwrap(), D::Minus1)
            .unwrap()
            .to_vec2()
            .unwrap();
        for (a, b) in p.iter().zip(&want[0]) {
            assert!((a - b).abs() < 1e-6);
        }
        // The lexical model pulls towards conciliatory; the head alone does not.
        assert!(p[2] > head().probabilities(&x, None).unwrap()[0][2]);
        assert!(back.probabilities(&x, None).is_err());
        assert!(back.probabilities(&x, Some(&[row, row])).is_err());
        assert!(head().probabilities(&x, Some(&[row])).is_err());
        // A config whose weight is out of range is refused at load.
        let cfg_path = dir.join(HEAD_CONFIG);
        let text = std::fs::read_to_string(&cfg_path).unwrap();
        std::fs::write(
            &cfg_path,
            text.replace("\"weight\": 0.5", "\"weight\": 7.0"),
        )
        .unwrap();
        assert!(StanceHead::load(&dir).is_err());
        // Saving a head without a lexical model removes the stale file.
        head().save(&dir).unwrap();
        assert!(!dir.join(LEXICAL_FILE).exists());
        assert!(
            StanceHead::load(&dir)
                .unwrap()
                .lexical_logits("calm")
                .is_none()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
