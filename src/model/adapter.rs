//! Updates to the encoder's linear layers: the full-size ones fine-tuning
//! learns (`Dense`), and the low-rank adapter they are stored as (truncated
//! SVD, a few megabytes against the encoder's 90), merged into the weights
//! at load, so a fine-tuned encoder costs nothing at inference and never
//! needs the encoder's weights committed. Heads written before full
//! fine-tuning stored LoRA adapters; they load the same way.
use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::bert::LayerDelta;
use super::int8;
use crate::error::{Error, Result};

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

    /// An adapter of `config` over `shape` whose factors `factors` gives for
    /// each block and target, from the `(rows, cols)` of `A` and of `B`.
    pub fn from_fn(
        config: AdapterConfig,
        shape: EncoderShape,
        mut factors: impl FnMut(
            usize,
            Target,
            (usize, usize),
            (usize, usize),
        ) -> Result<(Tensor, Tensor)>,
    ) -> Result<Self> {
        let r = config.rank;
        let layers = (0..shape.layers)
            .map(|i| {
                config
                    .targets
                    .iter()
                    .map(|&target| {
                        let (out, inp) = shape.dims(target);
                        let (a, b) = factors(i, target, (r, inp), (out, r))?;
                        Ok(LowRank { target, a, b })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { config, layers })
    }

    pub fn load(path: &Path, config: AdapterConfig, shape: EncoderShape) -> Result<Self> {
        let bad = |reason: String| Error::Head {
            path: path.to_path_buf(),
            reason,
        };
        let tensors =
            candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| bad(e.to_string()))?;
        // 8-bit factors carry their scales beside them (see `save`); older
        // heads stored f16 or f32.
        let get = |name: String, dims: (usize, usize), axis: int8::Axis| -> Result<Tensor> {
            let raw = tensors
                .get(&name)
                .ok_or_else(|| bad(format!("missing tensor {name}")))?;
            let t = if raw.dtype() == DType::U8 {
                let scales = tensors
                    .get(&format!("{name}.scale"))
                    .ok_or_else(|| bad(format!("missing tensor {name}.scale")))?;
                int8::dequantize(raw, scales, axis).map_err(|e| bad(format!("{name}: {e}")))?
            } else {
                raw.to_dtype(DType::F32)?
            };
            if t.dims() != [dims.0, dims.1] {
                return Err(bad(format!(
                    "{name} has shape {:?}, expected {dims:?}",
                    t.dims()
                )));
            }
            Ok(t)
        };
        Self::from_fn(config, shape, |i, target, a, b| {
            let key = target.key();
            Ok((
                get(format!("layer.{i}.{key}_a"), a, int8::Axis::Rows)?,
                get(format!("layer.{i}.{key}_b"), b, int8::Axis::Columns)?,
            ))
        })
    }

    /// The updates as the differentiable forward pass takes them.
    pub fn deltas(&self) -> Vec<LayerDelta<'_>> {
        let scale = self.config.scale();
        self.layers
            .iter()
            .map(|parts| LayerDelta {
                parts: parts.iter().map(|p| (p.target, &p.a, &p.b)).collect(),
                scale,
                dense: Vec::new(),
            })
            .collect()
    }

    /// Stored in 8 bits with a scale per direction (a row of `A`, a column
    /// of `B`), a quarter of f32: twice the rank fits the size f16 would
    /// take, and the rounding (under 0.4% of each direction's largest entry)
    /// moves labels far less than the directions it makes room for.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut map: HashMap<String, Tensor> = HashMap::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for part in layer {
                let key = part.target.key();
                let a = int8::quantize(&part.a, int8::Axis::Rows)?;
                let b = int8::quantize(&part.b, int8::Axis::Columns)?;
                map.insert(format!("layer.{i}.{key}_a"), a.values);
                map.insert(format!("layer.{i}.{key}_a.scale"), a.scales);
                map.insert(format!("layer.{i}.{key}_b"), b.values);
                map.insert(format!("layer.{i}.{key}_b.scale"), b.scales);
            }
        }
        candle_core::safetensors::save(&map, path).map_err(|e| Error::Head {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }
}

/// Full-size updates of the encoder's linear layers (full fine-tuning, with
/// the pretrained weights kept apart so the update can be stored alone).
pub struct Dense {
    /// Per transformer block, `(target, D [out, in])`.
    pub layers: Vec<Vec<(Target, Tensor)>>,
}

impl Dense {
    /// The element-wise mean of updates of one shape (runs from one start).
    pub fn mean(runs: &[Dense]) -> Result<Dense> {
        let Some(first) = runs.first() else {
            return Err(Error::InvalidInput("no updates to average".into()));
        };
        let same_shape = |r: &Dense| {
            r.layers.len() == first.layers.len()
                && r.layers
                    .iter()
                    .zip(&first.layers)
                    .all(|(x, y)| x.len() == y.len())
        };
        if !runs.iter().all(same_shape) {
            return Err(Error::InvalidInput(
                "updates of different shapes cannot be averaged".into(),
            ));
        }
        let layers = (0..first.layers.len())
            .map(|i| {
                (0..first.layers[i].len())
                    .map(|j| {
                        let parts = runs
                            .iter()
                            .map(|r| {
                                r.layers
                                    .get(i)
                                    .and_then(|l| l.get(j))
                                    .filter(|(t, _)| *t == first.layers[i][j].0)
                                    .map(|(_, d)| d)
                                    .ok_or_else(|| {
                                        Error::InvalidInput(
                                            "updates of different shapes cannot be averaged".into(),
                                        )
                                    })
                            })
                            .collect::<Result<Vec<_>>>()?;
                        let sum = Tensor::stack(&parts, 0)?.sum(0)?;
                        Ok((first.layers[i][j].0, (sum / runs.len() as f64)?))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Dense { layers })
    }

    /// The updates as the differentiable forward pass takes them.
    pub fn deltas(&self) -> Vec<LayerDelta<'_>> {
        self.layers
            .iter()
            .map(|parts| LayerDelta {
                dense: parts.iter().map(|(t, d)| (*t, d)).collect(),
                ..LayerDelta::default()
            })
            .collect()
    }

    /// The best rank-`rank` approximation of every update (truncated SVD),
    /// as an adapter with scale 1: what `detente train` stores, at a few
    /// megabytes instead of the forty of the full updates.
    pub fn compress(&self, rank: usize) -> Result<Adapter> {
        let layers = self
            .layers
            .iter()
            .map(|parts| {
                parts
                    .iter()
                    .map(|(target, d)| {
                        let (a, b) = low_rank(d, rank)?;
                        Ok(LowRank {
                            target: *target,
                            a,
                            b,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let targets = self
            .layers
            .first()
            .map(|l| l.iter().map(|(t, _)| *t).collect())
            .unwrap_or_default();
        Ok(Adapter {
            config: AdapterConfig {
                rank,
                alpha: rank as f32,
                targets,
            },
            layers,
        })
    }
}

/// `(A [rank, in], B [out, rank])` with `B·A` the best rank-`rank`
/// approximation of `d`; each factor carries the square root of the
/// singular values, so neither dwarfs the other.
fn low_rank(d: &Tensor, rank: usize) -> Result<(Tensor, Tensor)> {
    let (out, inp) = d.dims2()?;
    let values: Vec<f32> = d.flatten_all()?.to_vec1()?;
    if out == 0 || inp == 0 || values.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(
            "cannot compress an empty or non-finite update (did training diverge?)".into(),
        ));
    }
    let m = nalgebra::DMatrix::<f32>::from_row_slice(out, inp, &values);
    // Bounded iterations: a failure is an error, not a hang.
    let svd = m
        .try_svd_unordered(true, true, 5.0 * f32::EPSILON, 10_000)
        .ok_or_else(|| Error::InvalidInput("SVD did not converge".into()))?;
    let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else {
        return Err(Error::InvalidInput(
            "SVD returned no singular vectors".into(),
        ));
    };
    let s = &svd.singular_values;
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_by(|&i, &j| s[j].total_cmp(&s[i]));
    order.truncate(rank);
    // Zero rows and columns when the matrix has fewer singular values than
    // `rank`, so every adapter of a config has the same shapes.
    let mut a = vec![0f32; rank * inp];
    let mut b = vec![0f32; out * rank];
    for (k, &i) in order.iter().enumerate() {
        let root = s[i].max(0.0).sqrt();
        for c in 0..inp {
            a[k * inp + c] = root * v_t[(i, c)];
        }
        for r in 0..out {
            b[r * rank + k] = root * u[(r, i)];
        }
    }
    // Rounded as `save` stores them, so what training measures is what loads.
    Ok((
        int8::round_trip(
            &Tensor::from_vec(a, (rank, inp), &Device::Cpu)?,
            int8::Axis::Rows,
        )?,
        int8::round_trip(
            &Tensor::from_vec(b, (out, rank), &Device::Cpu)?,
            int8::Axis::Columns,
        )?,
    ))
}

/// Trainable full-size updates, all zero at the start.
pub struct DenseVars {
    pub layers: Vec<Vec<(Target, Var)>>,
}

impl DenseVars {
    pub fn zeros(shape: EncoderShape, targets: &[Target]) -> Result<Self> {
        let layers = (0..shape.layers)
            .map(|_| {
                targets
                    .iter()
                    .map(|&t| Ok((t, Var::zeros(shape.dims(t), DType::F32, &Device::Cpu)?)))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flatten()
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn deltas(&self) -> Vec<LayerDelta<'_>> {
        self.layers
            .iter()
            .map(|parts| LayerDelta {
                dense: parts.iter().map(|(t, v)| (*t, v.as_tensor())).collect(),
                ..LayerDelta::default()
            })
            .collect()
    }

    /// A frozen copy of the current values.
    pub fn snapshot(&self) -> Result<Dense> {
        let layers = self
            .layers
            .iter()
            .map(|parts| {
                parts
                    .iter()
                    .map(|(t, v)| Ok((*t, v.as_tensor().copy()?)))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Dense { layers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

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

    /// A `[rows, cols]` tensor of seeded uniform values in (-1, 1).
    fn seeded(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Tensor {
        let v: Vec<f32> = (0..rows * cols)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        Tensor::from_vec(v, (rows, cols), &Device::Cpu).unwrap()
    }

    /// An adapter of `config` with seeded random factors.
    fn random(config: &AdapterConfig, shape: EncoderShape) -> Adapter {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        Adapter::from_fn(config.clone(), shape, |_, _, (ar, ac), (br, bc)| {
            Ok((seeded(&mut rng, ar, ac), seeded(&mut rng, br, bc)))
        })
        .unwrap()
    }

    #[test]
    fn saves_and_loads_every_target_with_its_shape() {
        let (shape, config) = tiny((2, 8, 12), 3, Target::ALL.to_vec());
        let saved = random(&config, shape);
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
            let diff = (&a.a - &b.a).unwrap().abs().unwrap().max_all().unwrap();
            // Entries are in (-1, 1): 8 bits round each by under 1/254.
            assert!(
                diff.to_scalar::<f32>().unwrap() < 1.0 / 254.0,
                "stored in 8 bits"
            );
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
    fn compression_keeps_the_largest_directions_of_an_update() {
        let dev = &Device::Cpu;
        // Rank 2 by construction, one direction ten times the other.
        let u = Tensor::new(&[[1f32, 0.], [0., 1.], [0., 0.], [0., 0.], [0., 0.]], dev).unwrap();
        let v = Tensor::new(&[[0f32, 0.6, 0.8], [1., 0., 0.]], dev).unwrap();
        let s = Tensor::new(&[[10f32, 0.], [0., 1.]], dev).unwrap();
        let d = u.matmul(&s).unwrap().matmul(&v).unwrap();
        let dense = Dense {
            layers: vec![vec![(Target::Up, d.clone())]],
        };
        let rebuilt = |rank: usize| {
            let a = dense.compress(rank).unwrap();
            assert_eq!(a.config.scale(), 1.0);
            let p = &a.layers[0][0];
            assert_eq!((p.a.dims(), p.b.dims()), (&[rank, 3][..], &[5, rank][..]));
            p.b.matmul(&p.a).unwrap()
        };
        let err = |x: Tensor| {
            (x - &d)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .sqrt()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        // Exact, to the 8 bits the factors are stored in, at rank 2 and
        // beyond (padding is zeros); rank 1 loses just the smaller direction.
        assert!(err(rebuilt(2)) < 0.05);
        assert!(err(rebuilt(4)) < 0.05);
        assert!((err(rebuilt(1)) - 1.0).abs() < 0.05);
        let mean = Dense::mean(&[
            dense,
            Dense {
                layers: vec![vec![(Target::Up, d.zeros_like().unwrap())]],
            },
        ])
        .unwrap();
        assert!(err((&mean.layers[0][0].1 * 2.0).unwrap()) < 1e-6);
        // A diverged update is an error, not a hang or a panic; so are runs
        // of different shapes.
        let broken = Dense {
            layers: vec![vec![(Target::Up, (d.clone() / 0.0).unwrap())]],
        };
        assert!(broken.compress(2).is_err());
        let longer = Dense {
            layers: vec![vec![
                (Target::Up, d.clone()),
                (Target::Down, d.t().unwrap()),
            ]],
        };
        assert!(Dense::mean(&[mean, longer]).is_err());
    }
}
