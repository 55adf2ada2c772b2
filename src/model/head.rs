//! The stance head: a small classifier over sentence vectors, trained by
//! `detente train`. Tensors in, probabilities out; loading checks that the
//! head was trained on the same encoder.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{D, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::adapter::{ADAPTER_WEIGHTS, Adapter, AdapterConfig, EncoderShape};
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub name: String,
    pub dev_macro_f1: f32,
    pub dev_accuracy: f32,
    pub steps: usize,
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
            dir: None,
        }
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
        let head = Self {
            config,
            w1,
            b1,
            out,
            adapter: None,
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
            None if adapter_path.exists() => {
                std::fs::remove_file(&adapter_path).map_err(|e| Error::io(&adapter_path, e))?
            }
            None => {}
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

    /// Calibrated probabilities, one `[f32; 4]` per vector, in `Stance::ALL` order.
    pub fn probabilities(&self, x: &Tensor) -> Result<Vec<[f32; 4]>> {
        let t = f64::from(self.config.temperature.max(1e-3));
        let logits = (self.logits(x)? / t)?;
        let probs = candle_nn::ops::softmax(&logits, D::Minus1)?;
        let rows: Vec<Vec<f32>> = probs.to_vec2()?;
        Ok(rows.into_iter().map(|r| [r[0], r[1], r[2], r[3]]).collect())
    }
}
