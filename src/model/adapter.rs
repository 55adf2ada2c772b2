//! A low-rank adapter (LoRA) for the encoder's query and value projections,
//! fitted by `detente train` with the stance head. Kilobytes on disk, merged
//! into the weights at load, so a fine-tuned encoder costs nothing at
//! inference and never needs the encoder's weights committed.
use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::bert::LayerDelta;
use crate::error::{Error, Result};

/// Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for linear
/// layers, drawn from a seeded ChaCha stream so reruns are identical. Used
/// for adapters here and for stance heads in `train`.
pub(crate) fn seeded_uniform(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Result<Var> {
    let bound = 1.0 / (cols as f32).sqrt();
    let v: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random_range(-bound..bound))
        .collect();
    Ok(Var::from_tensor(&Tensor::from_vec(
        v,
        (rows, cols),
        &Device::Cpu,
    )?)?)
}

pub const ADAPTER_WEIGHTS: &str = "adapter.safetensors";

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    pub rank: usize,
    pub alpha: f32,
}

pub struct LayerAdapter {
    pub q_a: Tensor,
    pub q_b: Tensor,
    pub v_a: Tensor,
    pub v_b: Tensor,
}

pub struct Adapter {
    pub config: AdapterConfig,
    pub layers: Vec<LayerAdapter>,
}

impl Adapter {
    pub fn scale(&self) -> f64 {
        f64::from(self.config.alpha) / self.config.rank.max(1) as f64
    }

    pub fn load(path: &Path, config: AdapterConfig, layers: usize, hidden: usize) -> Result<Self> {
        let bad = |reason: String| Error::Head {
            path: path.to_path_buf(),
            reason,
        };
        let tensors =
            candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| bad(e.to_string()))?;
        let get = |name: String, shape: (usize, usize)| -> Result<Tensor> {
            let t = tensors
                .get(&name)
                .cloned()
                .ok_or_else(|| bad(format!("missing tensor {name}")))?;
            if t.dims() != [shape.0, shape.1] {
                return Err(bad(format!(
                    "{name} has shape {:?}, expected {shape:?}",
                    t.dims()
                )));
            }
            Ok(t)
        };
        let r = config.rank;
        let layers = (0..layers)
            .map(|i| {
                Ok(LayerAdapter {
                    q_a: get(format!("layer.{i}.q_a"), (r, hidden))?,
                    q_b: get(format!("layer.{i}.q_b"), (hidden, r))?,
                    v_a: get(format!("layer.{i}.v_a"), (r, hidden))?,
                    v_b: get(format!("layer.{i}.v_b"), (hidden, r))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { config, layers })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut map: HashMap<String, Tensor> = HashMap::new();
        for (i, l) in self.layers.iter().enumerate() {
            map.insert(format!("layer.{i}.q_a"), l.q_a.clone());
            map.insert(format!("layer.{i}.q_b"), l.q_b.clone());
            map.insert(format!("layer.{i}.v_a"), l.v_a.clone());
            map.insert(format!("layer.{i}.v_b"), l.v_b.clone());
        }
        candle_core::safetensors::save(&map, path).map_err(|e| Error::Head {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }
}

/// Trainable adapter variables: A random (seeded), B zero, so training starts
/// from the unchanged encoder.
pub struct AdapterVars {
    pub config: AdapterConfig,
    pub layers: Vec<[Var; 4]>,
}

impl AdapterVars {
    pub fn new(
        config: AdapterConfig,
        layers: usize,
        hidden: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        let r = config.rank;
        let a = |rng: &mut ChaCha8Rng| seeded_uniform(rng, r, hidden);
        let zero = || -> Result<Var> { Ok(Var::zeros((hidden, r), DType::F32, &Device::Cpu)?) };
        let layers = (0..layers)
            .map(|_| Ok([a(rng)?, zero()?, a(rng)?, zero()?]))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { config, layers })
    }

    /// A fresh stream per call keeps initialization independent of call order.
    pub fn seeded(config: AdapterConfig, layers: usize, hidden: usize, seed: u64) -> Result<Self> {
        Self::new(
            config,
            layers,
            hidden,
            &mut ChaCha8Rng::seed_from_u64(seed ^ 0xada7),
        )
    }

    pub fn vars(&self) -> Vec<Var> {
        self.layers.iter().flat_map(|l| l.iter().cloned()).collect()
    }

    pub fn deltas(&self) -> Vec<LayerDelta<'_>> {
        let scale = f64::from(self.config.alpha) / self.config.rank.max(1) as f64;
        self.layers
            .iter()
            .map(|[q_a, q_b, v_a, v_b]| LayerDelta {
                q_a: q_a.as_tensor(),
                q_b: q_b.as_tensor(),
                v_a: v_a.as_tensor(),
                v_b: v_b.as_tensor(),
                scale,
            })
            .collect()
    }

    /// A frozen copy of the current values.
    pub fn snapshot(&self) -> Result<Adapter> {
        let layers = self
            .layers
            .iter()
            .map(|[q_a, q_b, v_a, v_b]| {
                Ok(LayerAdapter {
                    q_a: q_a.as_tensor().copy()?,
                    q_b: q_b.as_tensor().copy()?,
                    v_a: v_a.as_tensor().copy()?,
                    v_b: v_b.as_tensor().copy()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Adapter {
            config: self.config,
            layers,
        })
    }
}
