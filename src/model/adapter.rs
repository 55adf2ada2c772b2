//! A low-rank adapter (LoRA) for the encoder's linear layers, fitted by
//! `detente train` with the stance head. About a megabyte on disk against the
//! encoder's 90, merged into the weights at load, so a fine-tuned encoder
//! costs nothing at inference and never needs the encoder's weights committed.
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

/// A linear layer of a transformer block that an adapter can update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Query,
    Key,
    Value,
    /// The attention output projection.
    Output,
    /// The feed-forward expansion (before GELU).
    Up,
    /// The feed-forward contraction.
    Down,
}

impl Target {
    pub const ALL: [Target; 6] = [
        Target::Query,
        Target::Key,
        Target::Value,
        Target::Output,
        Target::Up,
        Target::Down,
    ];

    /// For the model card.
    pub fn describe(self) -> &'static str {
        match self {
            Target::Query => "query",
            Target::Key => "key",
            Target::Value => "value",
            Target::Output => "attention output",
            Target::Up => "feed-forward up",
            Target::Down => "feed-forward down",
        }
    }

    /// Prefix of the tensor names in `adapter.safetensors`.
    fn key(self) -> &'static str {
        match self {
            Target::Query => "q",
            Target::Key => "k",
            Target::Value => "v",
            Target::Output => "o",
            Target::Up => "up",
            Target::Down => "down",
        }
    }
}

/// Heads written before adapters could target other layers adapted these.
fn query_value() -> Vec<Target> {
    vec![Target::Query, Target::Value]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    pub rank: usize,
    pub alpha: f32,
    #[serde(default = "query_value")]
    pub targets: Vec<Target>,
}

impl AdapterConfig {
    /// `W' = W + scale · B·A`.
    pub fn scale(&self) -> f64 {
        f64::from(self.alpha) / self.rank.max(1) as f64
    }
}

/// The sizes an adapter's matrices depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderShape {
    pub layers: usize,
    pub hidden: usize,
    pub intermediate: usize,
}

impl EncoderShape {
    /// `(out, in)` of a target's weight matrix.
    pub fn dims(&self, target: Target) -> (usize, usize) {
        let (h, i) = (self.hidden, self.intermediate);
        match target {
            Target::Up => (i, h),
            Target::Down => (h, i),
            _ => (h, h),
        }
    }
}

/// One low-rank update: `A [rank, in]`, `B [out, rank]`.
pub struct LowRank {
    pub target: Target,
    pub a: Tensor,
    pub b: Tensor,
}

pub struct Adapter {
    pub config: AdapterConfig,
    /// Per transformer block, one update per target, in `config.targets` order.
    pub layers: Vec<Vec<LowRank>>,
}

impl Adapter {
    pub fn scale(&self) -> f64 {
        self.config.scale()
    }

    pub fn load(path: &Path, config: AdapterConfig, shape: EncoderShape) -> Result<Self> {
        let bad = |reason: String| Error::Head {
            path: path.to_path_buf(),
            reason,
        };
        let tensors =
            candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| bad(e.to_string()))?;
        let get = |name: String, dims: (usize, usize)| -> Result<Tensor> {
            let t = tensors
                .get(&name)
                .cloned()
                .ok_or_else(|| bad(format!("missing tensor {name}")))?;
            if t.dims() != [dims.0, dims.1] {
                return Err(bad(format!(
                    "{name} has shape {:?}, expected {dims:?}",
                    t.dims()
                )));
            }
            Ok(t)
        };
        let r = config.rank;
        let layers = (0..shape.layers)
            .map(|i| {
                config
                    .targets
                    .iter()
                    .map(|&target| {
                        let (out, inp) = shape.dims(target);
                        Ok(LowRank {
                            target,
                            a: get(format!("layer.{i}.{}_a", target.key()), (r, inp))?,
                            b: get(format!("layer.{i}.{}_b", target.key()), (out, r))?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { config, layers })
    }

    /// The average of adapters trained from the same start: `mean(s·B_i·A_i)`
    /// is exactly one adapter of rank `k·r` with the factors stacked, so an
    /// average merges into the encoder like a single run.
    pub fn average(adapters: &[Adapter]) -> Result<Adapter> {
        let Some(first) = adapters.first() else {
            return Err(Error::InvalidInput("no adapters to average".into()));
        };
        let same_shape = |a: &Adapter| {
            a.config == first.config
                && a.layers.len() == first.layers.len()
                && a.layers.iter().zip(&first.layers).all(|(x, y)| {
                    x.len() == y.len()
                        && x.iter().zip(y).all(|(p, q)| {
                            p.target == q.target
                                && p.a.dims() == q.a.dims()
                                && p.b.dims() == q.b.dims()
                        })
                })
        };
        if !adapters.iter().all(same_shape) {
            return Err(Error::InvalidInput(
                "adapters of different configs or shapes cannot be averaged".into(),
            ));
        }
        let layers = (0..first.layers.len())
            .map(|i| {
                (0..first.layers[i].len())
                    .map(|j| {
                        let parts: Vec<&LowRank> =
                            adapters.iter().map(|a| &a.layers[i][j]).collect();
                        let a: Vec<&Tensor> = parts.iter().map(|p| &p.a).collect();
                        let b: Vec<&Tensor> = parts.iter().map(|p| &p.b).collect();
                        Ok(LowRank {
                            target: parts[0].target,
                            a: Tensor::cat(&a, 0)?,
                            b: Tensor::cat(&b, 1)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let config = AdapterConfig {
            // alpha / (k·r) = scale / k: the mean of the k updates.
            rank: first.config.rank * adapters.len(),
            ..first.config.clone()
        };
        Ok(Adapter { config, layers })
    }

    /// The updates as the differentiable forward pass takes them.
    pub fn deltas(&self) -> Vec<LayerDelta<'_>> {
        let scale = self.config.scale();
        self.layers
            .iter()
            .map(|parts| LayerDelta {
                parts: parts.iter().map(|p| (p.target, &p.a, &p.b)).collect(),
                scale,
            })
            .collect()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut map: HashMap<String, Tensor> = HashMap::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for part in layer {
                let key = part.target.key();
                map.insert(format!("layer.{i}.{key}_a"), part.a.clone());
                map.insert(format!("layer.{i}.{key}_b"), part.b.clone());
            }
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
    pub layers: Vec<Vec<(Target, Var, Var)>>,
}

impl AdapterVars {
    pub fn new(config: AdapterConfig, shape: EncoderShape, rng: &mut ChaCha8Rng) -> Result<Self> {
        let r = config.rank;
        let layers = (0..shape.layers)
            .map(|_| {
                config
                    .targets
                    .iter()
                    .map(|&t| {
                        let (out, inp) = shape.dims(t);
                        let a = seeded_uniform(rng, r, inp)?;
                        let b = Var::zeros((out, r), DType::F32, &Device::Cpu)?;
                        Ok((t, a, b))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { config, layers })
    }

    /// A fresh stream per call keeps initialization independent of call order.
    pub fn seeded(config: AdapterConfig, shape: EncoderShape, seed: u64) -> Result<Self> {
        Self::new(config, shape, &mut ChaCha8Rng::seed_from_u64(seed ^ 0xada7))
    }

    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flatten()
            .flat_map(|(_, a, b)| [a.clone(), b.clone()])
            .collect()
    }

    pub fn deltas(&self) -> Vec<LayerDelta<'_>> {
        let scale = self.config.scale();
        self.layers
            .iter()
            .map(|parts| LayerDelta {
                parts: parts
                    .iter()
                    .map(|(t, a, b)| (*t, a.as_tensor(), b.as_tensor()))
                    .collect(),
                scale,
            })
            .collect()
    }

    /// A frozen copy of the current values.
    pub fn snapshot(&self) -> Result<Adapter> {
        let layers = self
            .layers
            .iter()
            .map(|parts| {
                parts
                    .iter()
                    .map(|(target, a, b)| {
                        Ok(LowRank {
                            target: *target,
                            a: a.as_tensor().copy()?,
                            b: b.as_tensor().copy()?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Adapter {
            config: self.config.clone(),
            layers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_written_before_targets_existed_adapt_query_and_value() {
        let cfg: AdapterConfig = serde_json::from_str(r#"{"rank": 8, "alpha": 16.0}"#).unwrap();
        assert_eq!(cfg.targets, vec![Target::Query, Target::Value]);
        assert_eq!(cfg.scale(), 2.0);
    }

    /// A small encoder shape (layers, hidden, intermediate) and an adapter
    /// config of `rank` on `targets`, alpha twice the rank.
    fn tiny(
        (layers, hidden, intermediate): (usize, usize, usize),
        rank: usize,
        targets: Vec<Target>,
    ) -> (EncoderShape, AdapterConfig) {
        let shape = EncoderShape {
            layers,
            hidden,
            intermediate,
        };
        let config = AdapterConfig {
            rank,
            alpha: 2.0 * rank as f32,
            targets,
        };
        (shape, config)
    }

    #[test]
    fn saves_and_loads_every_target_with_its_shape() {
        let (shape, config) = tiny((2, 8, 12), 3, Target::ALL.to_vec());
        let vars = AdapterVars::seeded(config.clone(), shape, 7).unwrap();
        let saved = vars.snapshot().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ADAPTER_WEIGHTS);
        saved.save(&path).unwrap();
        let loaded = Adapter::load(&path, config.clone(), shape).unwrap();
        for (a, b) in saved
            .layers
            .iter()
            .flatten()
            .zip(loaded.layers.iter().flatten())
        {
            assert_eq!(a.target, b.target);
            assert_eq!(a.a.to_vec2::<f32>().unwrap(), b.a.to_vec2::<f32>().unwrap());
            let (out, _) = shape.dims(a.target);
            assert_eq!(b.b.dims(), &[out, 3]);
        }
        let other = EncoderShape {
            intermediate: 16,
            ..shape
        };
        assert!(Adapter::load(&path, config, other).is_err());
    }

    #[test]
    fn an_average_of_adapters_is_the_mean_of_their_updates() {
        let (shape, config) = tiny((1, 6, 10), 2, vec![Target::Value, Target::Up]);
        let random = |seed: u64| {
            let mut a = AdapterVars::seeded(config.clone(), shape, seed)
                .unwrap()
                .snapshot()
                .unwrap();
            for part in a.layers.iter_mut().flatten() {
                part.b = Tensor::randn(0f32, 1.0, part.b.dims(), &Device::Cpu).unwrap();
            }
            a
        };
        let runs = [random(1), random(2), random(3)];
        let mean = Adapter::average(&runs).unwrap();
        assert_eq!(mean.config.rank, 6);
        let update = |a: &Adapter, j: usize| {
            let p = &a.layers[0][j];
            (p.b.matmul(&p.a).unwrap() * a.config.scale()).unwrap()
        };
        for j in 0..2 {
            let expected = ((update(&runs[0], j) + update(&runs[1], j)).unwrap()
                + update(&runs[2], j))
            .unwrap()
                / 3.0;
            let diff = (update(&mean, j) - expected.unwrap())
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-5, "{diff}");
        }
        // Saved and loaded back with its own (stacked) config.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ADAPTER_WEIGHTS);
        mean.save(&path).unwrap();
        let loaded = Adapter::load(&path, mean.config.clone(), shape).unwrap();
        for j in 0..2 {
            assert_eq!(
                update(&loaded, j).to_vec2::<f32>().unwrap(),
                update(&mean, j).to_vec2::<f32>().unwrap()
            );
        }
        let mut shorter = random(4);
        shorter.layers[0].pop();
        assert!(Adapter::average(&[random(1), shorter]).is_err());
        let mut other = random(4);
        other.config.alpha = 8.0;
        assert!(Adapter::average(&[random(1), other]).is_err());
        assert!(Adapter::average(&[]).is_err());
    }
}
