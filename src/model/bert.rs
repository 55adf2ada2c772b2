//! A BERT encoder written for inference on CPUs: tensors in, tensors out, no I/O.
//!
//! Differences from candle-transformers' general-purpose BERT, all for speed:
//! query, key and value are one fused projection; the 1/sqrt(d) attention
//! scale is folded into the query weights at load time; matrix products run on
//! `[batch·tokens, hidden]` 2-D views, so each is one large GEMM; attention,
//! layer norm and (optionally, in bf16) the linear layers run on the
//! project's own kernels (`kernels/`), and padding is given as lengths, so
//! no mask tensor is ever built or added.
use candle_core::{D, DType, Module, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::adapter::{Adapter, EncoderShape, LowRank, Target};
use super::kernels::attention::Attention;
use super::kernels::gemm::{Activation, PackedLinear};
use super::kernels::norm::LayerNorm;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

/// The fields of a Hugging Face `config.json` that a BERT encoder needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".to_string()
}

/// Layer normalization with its parameters at hand for both paths: the fused
/// kernel for inference and plain (differentiable) ops for fine-tuning.
#[derive(Clone)]
struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
    kernel: LayerNorm,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.kernel.forward(x)
    }

    fn forward_differentiable(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm_slow(x, &self.weight, &self.bias, self.eps as f32)
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    up: Linear,
    down: Linear,
    out_norm: Norm,
    /// The same four projections in bf16, when enabled (inference only).
    packed: Option<Packed>,
}

/// The four linear layers of a block, as stored (query, key and value fused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Qkv,
    Output,
    Up,
    Down,
}

impl Slot {
    fn activation(self) -> Activation {
        match self {
            Slot::Up => Activation::Gelu,
            _ => Activation::None,
        }
    }
}

impl Layer {
    fn slot(&self, slot: Slot) -> &Linear {
        match slot {
            Slot::Qkv => &self.qkv,
            Slot::Output => &self.attn_out,
            Slot::Up => &self.up,
            Slot::Down => &self.down,
        }
    }

    /// Replaces one linear layer and, when running in bf16, its packed copy.
    fn set_slot(&mut self, slot: Slot, lin: Linear, packed: Option<PackedLinear>) {
        let (plain, fast) = match (slot, self.packed.as_mut()) {
            (Slot::Qkv, p) => (&mut self.qkv, p.map(|p| &mut p.qkv)),
            (Slot::Output, p) => (&mut self.attn_out, p.map(|p| &mut p.attn_out)),
            (Slot::Up, p) => (&mut self.up, p.map(|p| &mut p.up)),
            (Slot::Down, p) => (&mut self.down, p.map(|p| &mut p.down)),
        };
        *plain = lin;
        if let (Some(fast), Some(packed)) = (fast, packed) {
            *fast = packed;
        }
    }
}

struct Packed {
    qkv: PackedLinear,
    attn_out: PackedLinear,
    /// GELU is applied inside this one.
    up: PackedLinear,
    down: PackedLinear,
}

fn pack(lin: &Linear, act: Activation) -> candle_core::Result<PackedLinear> {
    let bias = lin
        .bias()
        .ok_or_else(|| candle_core::Error::Msg("missing bias".into()))?;
    PackedLinear::new(lin.weight(), bias, act)
}

impl Packed {
    fn new(l: &Layer) -> candle_core::Result<Self> {
        let p = |slot: Slot| pack(l.slot(slot), slot.activation());
        Ok(Self {
            qkv: p(Slot::Qkv)?,
            attn_out: p(Slot::Output)?,
            up: p(Slot::Up)?,
            down: p(Slot::Down)?,
        })
    }
}

/// Trainable updates of one layer's linear projections: low-rank ones
/// (LoRA, `W' = W + scale · B·A`) and full-size ones (`W' = W + D`, what
/// full fine-tuning learns), for the targets listed.
#[derive(Default)]
pub struct LayerDelta<'a> {
    /// `(target, A [rank, in], B [out, rank])`.
    pub parts: Vec<(Target, &'a Tensor, &'a Tensor)>,
    pub scale: f64,
    /// `(target, D [out, in])`.
    pub dense: Vec<(Target, &'a Tensor)>,
}

impl LayerDelta<'_> {
    /// `y + s · x·Aᵀ·Bᵀ` when the target is adapted, else `y`.
    fn apply(&self, target: Target, x: &Tensor, y: Tensor, s: f64) -> candle_core::Result<Tensor> {
        match self.parts.iter().find(|(t, _, _)| *t == target) {
            Some((_, a, b)) => y + (x.matmul(&a.t()?)?.matmul(&b.t()?)? * (self.scale * s))?,
            None => Ok(y),
        }
    }

    fn dense(&self, target: Target) -> Option<&Tensor> {
        self.dense
            .iter()
            .find(|(t, _)| *t == target)
            .map(|(_, d)| *d)
    }

    /// The fused query-key-value projection with the full-size updates
    /// added (the query's scaled like its weights), so that one matrix
    /// product serves the base weights and the update.
    fn qkv(&self, lin: &Linear, h: usize, q_scale: f64) -> candle_core::Result<Linear> {
        let (dq, dk, dv) = (
            self.dense(Target::Query),
            self.dense(Target::Key),
            self.dense(Target::Value),
        );
        if dq.is_none() && dk.is_none() && dv.is_none() {
            return Ok(lin.clone());
        }
        let w = lin.weight();
        let plus = |part: Tensor, d: Option<&Tensor>, s: f64| match d {
            Some(d) => part + (d * s)?,
            None => Ok(part),
        };
        let weight = Tensor::cat(
            &[
                plus(w.narrow(0, 0, h)?, dq, q_scale)?,
                plus(w.narrow(0, h, h)?, dk, 1.0)?,
                plus(w.narrow(0, 2 * h, h)?, dv, 1.0)?,
            ],
            0,
        )?;
        Ok(Linear::new(weight, lin.bias().cloned()))
    }

    /// `lin` with the target's full-size update added, if it has one.
    fn linear(&self, target: Target, lin: &Linear) -> candle_core::Result<Linear> {
        match self.dense(target) {
            Some(d) => Ok(Linear::new((lin.weight() + d)?, lin.bias().cloned())),
            None => Ok(lin.clone()),
        }
    }
}

/// Dropout for fine-tuning, at the places BERT was pretrained with it
/// (embeddings, attention probabilities, both residual branches), with masks
/// from a seeded stream so a rerun trains the same weights.
pub struct Dropout {
    p: f32,
    rng: ChaCha8Rng,
}

impl Dropout {
    pub fn new(p: f32, seed: u64) -> Self {
        Self {
            p,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Zeroes each value with probability `p` and scales the rest by
    /// `1 / (1 - p)`.
    fn apply(&mut self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - self.p;
        let scale = 1.0 / keep;
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| {
                if self.rng.random::<f32>() < keep {
                    scale
                } else {
                    0.0
                }
            })
            .collect();
        x * Tensor::from_vec(mask, x.shape(), x.device())?
    }
}

/// Applies `dropout` when training, else passes `x` through.
fn drop(dropout: &mut Option<&mut Dropout>, x: Tensor) -> candle_core::Result<Tensor> {
    match dropout {
        Some(d) => d.apply(&x),
        None => Ok(x),
    }
}

pub struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    emb_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    intermediate: usize,
}

fn linear(vb: &VarBuilder, out_dim: usize, in_dim: usize) -> candle_core::Result<Linear> {
    let w = vb.get((out_dim, in_dim), "weight")?;
    let b = vb.get(out_dim, "bias")?;
    Ok(Linear::new(w, Some(b)))
}

fn layer_norm(vb: &VarBuilder, dim: usize, eps: f64) -> candle_core::Result<Norm> {
    let weight = vb.get(dim, "weight")?;
    let bias = vb.get(dim, "bias")?;
    Ok(Norm {
        kernel: LayerNorm::new(&weight, &bias, eps)?,
        weight,
        bias,
        eps,
    })
}

impl Bert {
    /// Builds the encoder from weights named as in Hugging Face's `BertModel`
    /// (an optional `bert.` prefix is accepted).
    pub fn load(vb: VarBuilder, cfg: &BertConfig) -> candle_core::Result<Self> {
        if cfg.hidden_act != "gelu" {
            candle_core::bail!("unsupported hidden_act {:?}: only gelu", cfg.hidden_act);
        }
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            candle_core::bail!("hidden_size must be a multiple of num_attention_heads");
        }
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let h = cfg.hidden_size;
        let heads = cfg.num_attention_heads;
        let head_dim = h / heads;
        let emb = vb.pp("embeddings");
        let word = emb.get((cfg.vocab_size, h), "word_embeddings.weight")?;
        let position = emb.get(
            (cfg.max_position_embeddings, h),
            "position_embeddings.weight",
        )?;
        // Single-segment input: only row 0 of the token-type table is ever used.
        let token_type = emb
            .get((cfg.type_vocab_size, h), "token_type_embeddings.weight")?
            .get(0)?;
        let emb_norm = layer_norm(&emb.pp("LayerNorm"), h, cfg.layer_norm_eps)?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let att = l.pp("attention");
            let q = linear(&att.pp("self.query"), h, h)?;
            let k = linear(&att.pp("self.key"), h, h)?;
            let v = linear(&att.pp("self.value"), h, h)?;
            let bias = |l: &Linear| -> candle_core::Result<Tensor> {
                l.bias()
                    .cloned()
                    .ok_or_else(|| candle_core::Error::Msg("missing bias".into()))
            };
            let w = Tensor::cat(
                &[
                    (q.weight() * scale)?,
                    k.weight().clone(),
                    v.weight().clone(),
                ],
                0,
            )?;
            let b = Tensor::cat(&[(bias(&q)? * scale)?, bias(&k)?, bias(&v)?], 0)?;
            layers.push(Layer {
                qkv: Linear::new(w, Some(b)),
                attn_out: linear(&att.pp("output.dense"), h, h)?,
                attn_norm: layer_norm(&att.pp("output.LayerNorm"), h, cfg.layer_norm_eps)?,
                up: linear(&l.pp("intermediate.dense"), cfg.intermediate_size, h)?,
                down: linear(&l.pp("output.dense"), h, cfg.intermediate_size)?,
                out_norm: layer_norm(&l.pp("output.LayerNorm"), h, cfg.layer_norm_eps)?,
                packed: None,
            });
        }
        Ok(Self {
            word,
            position,
            token_type,
            emb_norm,
            layers,
            heads,
            head_dim,
            hidden: h,
            intermediate: cfg.intermediate_size,
        })
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Word + position + token-type embeddings, `[batch·len, hidden]`, before
    /// the embedding layer norm.
    fn embeddings(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (b, len) = ids.dims2()?;
        let h = self.hidden;
        let x = self.word.index_select(&ids.flatten_all()?, 0)?;
        let pos = self
            .position
            .narrow(0, 0, len)?
            .broadcast_add(&self.token_type)?;
        x.reshape((b, len, h))?
            .broadcast_add(&pos)?
            .reshape((b * len, h))
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    pub fn shape(&self) -> EncoderShape {
        EncoderShape {
            layers: self.layers.len(),
            hidden: self.hidden,
            intermediate: self.intermediate,
        }
    }

    /// Runs the four linear layers of every block in bf16 (see `gemm`), or
    /// back in f32. Fails, changing nothing, when the CPU cannot.
    pub fn set_bf16(&mut self, on: bool) -> candle_core::Result<()> {
        let packed = if on {
            self.layers
                .iter()
                .map(|l| Packed::new(l).map(Some))
                .collect::<candle_core::Result<Vec<_>>>()?
        } else {
            self.layers.iter().map(|_| None).collect()
        };
        for (layer, p) in self.layers.iter_mut().zip(packed) {
            layer.packed = p;
        }
        Ok(())
    }

    pub fn is_bf16(&self) -> bool {
        self.layers.iter().any(|l| l.packed.is_some())
    }

    /// Folds a fine-tuned adapter into the weights: inference then costs
    /// exactly what it did before.
    pub fn merge(&mut self, adapter: &Adapter) -> candle_core::Result<()> {
        if adapter.layers.len() != self.layers.len() {
            candle_core::bail!(
                "adapter has {} layers, the encoder {}",
                adapter.layers.len(),
                self.layers.len()
            );
        }
        let h = self.hidden;
        let q_scale = 1.0 / (self.head_dim as f64).sqrt();
        // Everything is computed first, so a failure leaves the encoder as it was.
        let mut merged = Vec::with_capacity(self.layers.len());
        for (layer, parts) in self.layers.iter().zip(&adapter.layers) {
            let delta = |target: Target, s: f64| -> candle_core::Result<Option<Tensor>> {
                parts
                    .iter()
                    .find(|p| p.target == target)
                    .map(|LowRank { a, b, .. }| b.matmul(a)? * (adapter.scale() * s))
                    .transpose()
            };
            let plus = |w: Tensor, d: Option<Tensor>| match d {
                Some(d) => w + d,
                None => Ok(w),
            };
            let mut out = Vec::new();
            let (dq, dk, dv) = (
                delta(Target::Query, q_scale)?,
                delta(Target::Key, 1.0)?,
                delta(Target::Value, 1.0)?,
            );
            if dq.is_some() || dk.is_some() || dv.is_some() {
                let w = layer.qkv.weight();
                let weight = Tensor::cat(
                    &[
                        plus(w.narrow(0, 0, h)?, dq)?,
                        plus(w.narrow(0, h, h)?, dk)?,
                        plus(w.narrow(0, 2 * h, h)?, dv)?,
                    ],
                    0,
                )?;
                out.push((Slot::Qkv, Linear::new(weight, layer.qkv.bias().cloned())));
            }
            for (slot, target) in [
                (Slot::Output, Target::Output),
                (Slot::Up, Target::Up),
                (Slot::Down, Target::Down),
            ] {
                if let Some(d) = delta(target, 1.0)? {
                    let lin = layer.slot(slot);
                    out.push((slot, Linear::new((lin.weight() + d)?, lin.bias().cloned())));
                }
            }
            let repacked = out
                .into_iter()
                .map(|(slot, lin)| {
                    let packed = match layer.packed {
                        Some(_) => Some(pack(&lin, slot.activation())?),
                        None => None,
                    };
                    Ok((slot, lin, packed))
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            merged.push(repacked);
        }
        for (layer, updates) in self.layers.iter_mut().zip(merged) {
            for (slot, lin, packed) in updates {
                layer.set_slot(slot, lin, packed);
            }
        }
        Ok(())
    }

    /// The forward pass built from differentiable ops only, with optional
    /// updates per layer and dropout, for fine-tuning. Same result as
    /// `forward` (to float rounding) when the updates are zero and there is
    /// no dropout.
    pub fn forward_differentiable(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        deltas: &[LayerDelta],
        mut dropout: Option<&mut Dropout>,
    ) -> candle_core::Result<Tensor> {
        let (b, len) = ids.dims2()?;
        let (h, nh, hd) = (self.hidden, self.heads, self.head_dim);
        let embedded = self
            .emb_norm
            .forward_differentiable(&self.embeddings(ids)?)?;
        let mut x = drop(&mut dropout, embedded)?;
        let bias = mask_bias(mask)?;
        let q_scale = 1.0 / (hd as f64).sqrt();
        for (i, l) in self.layers.iter().enumerate() {
            let none = LayerDelta::default();
            let d = deltas.get(i).unwrap_or(&none);
            let qkv = d.qkv(&l.qkv, h, q_scale)?.forward(&x)?;
            let q = d.apply(Target::Query, &x, qkv.narrow(1, 0, h)?, q_scale)?;
            let k = d.apply(Target::Key, &x, qkv.narrow(1, h, h)?, 1.0)?;
            let v = d.apply(Target::Value, &x, qkv.narrow(1, 2 * h, h)?, 1.0)?;
            let q = q.reshape((b, len, nh, hd))?.transpose(1, 2)?.contiguous()?;
            let kt = k
                .reshape((b, len, nh, hd))?
                .permute((0, 2, 3, 1))?
                .contiguous()?;
            let v = v.reshape((b, len, nh, hd))?.transpose(1, 2)?.contiguous()?;
            let scores = q.matmul(&kt)?.broadcast_add(&bias)?;
            let probs = drop(&mut dropout, candle_nn::ops::softmax(&scores, D::Minus1)?)?;
            let ctx = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * len, h))?;
            let out = d.linear(Target::Output, &l.attn_out)?.forward(&ctx)?;
            let projected = drop(&mut dropout, d.apply(Target::Output, &ctx, out, 1.0)?)?;
            let attn = l.attn_norm.forward_differentiable(&(projected + &x)?)?;
            let up = d.linear(Target::Up, &l.up)?.forward(&attn)?;
            let up = d.apply(Target::Up, &attn, up, 1.0)?.gelu_erf()?;
            let down = d.linear(Target::Down, &l.down)?.forward(&up)?;
            let down = drop(&mut dropout, d.apply(Target::Down, &up, down, 1.0)?)?;
            x = l.out_norm.forward_differentiable(&(down + attn)?)?;
        }
        x.reshape((b, len, h))
    }

    pub fn max_positions(&self) -> usize {
        self.position.dim(0).unwrap_or(0)
    }

    /// `ids`: `[batch, len]` u32 token ids. `mask`: `[batch, len]` f32, 1 for
    /// tokens and 0 for padding (padding last), or `None` when nothing is
    /// padded. Returns the last hidden states, `[batch, len, hidden]`.
    pub fn forward(&self, ids: &Tensor, mask: Option<&Tensor>) -> candle_core::Result<Tensor> {
        let (b, len) = ids.dims2()?;
        let h = self.hidden;
        let mut x = self.emb_norm.forward(&self.embeddings(ids)?)?;
        let lengths = match mask {
            Some(m) => padded_lengths(&m.to_dtype(DType::F32)?.to_vec2::<f32>()?)?,
            None => vec![len; b],
        };
        let attention = Attention {
            batch: b,
            len,
            heads: self.heads,
            head_dim: self.head_dim,
            lengths,
        };
        for layer in &self.layers {
            x = layer.forward(&x, &attention)?;
        }
        x.reshape((b, len, h))
    }
}

impl Layer {
    /// One transformer block on `[batch·len, hidden]`.
    fn forward(&self, x: &Tensor, attention: &Attention) -> candle_core::Result<Tensor> {
        if let Some(p) = &self.packed {
            let ctx = p.qkv.forward(x)?.apply_op1_no_bwd(attention)?;
            let attn = self.attn_norm.forward(&p.attn_out.forward_add(&ctx, x)?)?;
            let up = p.up.forward(&attn)?;
            return self.out_norm.forward(&p.down.forward_add(&up, &attn)?);
        }
        let ctx = self.qkv.forward(x)?.apply_op1_no_bwd(attention)?;
        let attn = self
            .attn_norm
            .forward(&(self.attn_out.forward(&ctx)? + x)?)?;
        let up = self.up.forward(&attn)?.gelu_erf()?;
        self.out_norm.forward(&(self.down.forward(&up)? + attn)?)
    }
}

/// Tokens per row of a mask that must be ones, then zeros (padding last).
fn padded_lengths(mask: &[Vec<f32>]) -> candle_core::Result<Vec<usize>> {
    mask.iter()
        .map(|row| {
            let n = row.iter().take_while(|&&v| v > 0.5).count();
            if row[n..].iter().any(|&v| v > 0.5) {
                candle_core::bail!("attention mask must put padding last");
            }
            Ok(n)
        })
        .collect()
}

/// Additive attention bias `[batch, 1, 1, len]` from a `[batch, len]` mask:
/// 0 where attended, a large negative where padded.
fn mask_bias(mask: &Tensor) -> candle_core::Result<Tensor> {
    let (b, len) = mask.dims2()?;
    ((mask.to_dtype(DType::F32)? - 1.0)? * 1e4)?.reshape((b, 1, 1, len))
}

/// Attention-masked mean over tokens, then L2 normalization: the sentence
/// vector sentence-transformers computes for this model.
pub fn mean_pool_normalize(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    mean.broadcast_div(&norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::VarMap;

    /// Seeded uniform values with standard deviation `std`: a test that
    /// passes once passes every time.
    fn noise(rng: &mut ChaCha8Rng, std: f32, shape: impl Into<candle_core::Shape>) -> Tensor {
        let shape = shape.into();
        let half = std * 3f32.sqrt();
        let v: Vec<f32> = (0..shape.elem_count())
            .map(|_| rng.random_range(-half..half))
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn tiny() -> (Bert, BertConfig) {
        let cfg = BertConfig {
            vocab_size: 50,
            hidden_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 32,
            max_position_embeddings: 32,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_act: "gelu".into(),
        };
        // A first load creates the variables (zeros); give them random values
        // and load again, so the model computes something non-trivial.
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        Bert::load(vb.clone(), &cfg).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // In name order, so the seeded values land on the same variables
        // whatever order the map's hash table yields them in.
        let mut vars: Vec<(String, candle_core::Var)> = map
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, var) in vars {
            var.set(&noise(&mut rng, 0.5, var.shape().clone())).unwrap();
        }
        (Bert::load(vb, &cfg).unwrap(), cfg)
    }

    /// Two statements, the first with one padded position at the end.
    fn padded_pair() -> (Tensor, Tensor) {
        let dev = Device::Cpu;
        let ids = Tensor::new(&[[1u32, 7, 9, 2, 0], [1, 3, 4, 5, 2]], &dev).unwrap();
        let mask = Tensor::new(&[[1f32, 1., 1., 1., 0.], [1.; 5]], &dev).unwrap();
        (ids, mask)
    }

    #[test]
    fn padding_does_not_change_the_sentence_vector() {
        let (bert, _) = tiny();
        let dev = Device::Cpu;
        let alone = Tensor::new(&[[1u32, 7, 9, 2]], &dev).unwrap();
        let ones = Tensor::ones((1, 4), DType::F32, &dev).unwrap();
        let a = mean_pool_normalize(&bert.forward(&alone, None).unwrap(), &ones).unwrap();
        let padded = Tensor::new(&[[1u32, 7, 9, 2, 0, 0], [1, 3, 4, 5, 6, 2]], &dev).unwrap();
        let mask = Tensor::new(&[[1f32, 1., 1., 1., 0., 0.], [1.; 6]], &dev).unwrap();
        let b = mean_pool_normalize(&bert.forward(&padded, Some(&mask)).unwrap(), &mask).unwrap();
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b0: Vec<f32> = b.get(0).unwrap().to_vec1().unwrap();
        for (x, y) in a.iter().zip(&b0) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
        let norm: f32 = b0.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn differentiable_path_matches_inference_path() {
        let (bert, _) = tiny();
        let (ids, mask) = padded_pair();
        let fast = bert.forward(&ids, Some(&mask)).unwrap();
        let slow = bert.forward_differentiable(&ids, &mask, &[], None).unwrap();
        let diff = (fast - slow).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-4);
    }

    /// An adapter on every target, with random (non-zero) B matrices.
    fn random_adapter(bert: &Bert) -> Adapter {
        use super::super::adapter::AdapterConfig;
        let shape = bert.shape();
        let config = AdapterConfig {
            rank: 2,
            alpha: 4.0,
            targets: Target::ALL.to_vec(),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let layers = (0..shape.layers)
            .map(|_| {
                Target::ALL
                    .iter()
                    .map(|&target| {
                        let (out, inp) = shape.dims(target);
                        LowRank {
                            target,
                            a: noise(&mut rng, 0.3, (2, inp)),
                            b: noise(&mut rng, 0.3, (out, 2)),
                        }
                    })
                    .collect()
            })
            .collect();
        Adapter { config, layers }
    }

    #[test]
    fn merged_adapter_matches_the_adapted_training_path() {
        let (mut bert, _) = tiny();
        let (ids, mask) = padded_pair();
        let adapter = random_adapter(&bert);
        let deltas = adapter.deltas();
        let before = bert.forward(&ids, Some(&mask)).unwrap();
        let training = bert
            .forward_differentiable(&ids, &mask, &deltas, None)
            .unwrap();
        let moved = (&training - &before)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(
            moved.to_scalar::<f32>().unwrap() > 1e-2,
            "the adapter must matter"
        );
        bert.merge(&adapter).unwrap();
        let merged = bert.forward(&ids, Some(&mask)).unwrap();
        let diff = (merged - training)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-4);
    }

    /// Full-size updates (full fine-tuning) on every target: the training
    /// path with them must equal the encoder with their compression merged
    /// in, at a rank that loses nothing.
    #[test]
    fn compressed_full_updates_merge_like_the_training_path() {
        use super::super::adapter::Dense;
        let (mut bert, _) = tiny();
        let (ids, mask) = padded_pair();
        let shape = bert.shape();
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let dense = Dense {
            layers: (0..shape.layers)
                .map(|_| {
                    Target::ALL
                        .iter()
                        .map(|&t| (t, noise(&mut rng, 0.1, shape.dims(t))))
                        .collect()
                })
                .collect(),
        };
        let training = bert
            .forward_differentiable(&ids, &mask, &dense.deltas(), None)
            .unwrap();
        let before = bert.forward(&ids, Some(&mask)).unwrap();
        let max = |t: Tensor| {
            t.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        let moved = max((&training - &before).unwrap());
        assert!(moved > 1e-2, "the updates must matter");
        // Every matrix here has at most `hidden` = 16 singular values, so
        // only the 8 bits the factors are stored in separate the two; a
        // mismatch (the query's scale, say) would be as large as the move.
        bert.merge(&dense.compress(16).unwrap()).unwrap();
        let merged = bert.forward(&ids, Some(&mask)).unwrap();
        let diff = max((merged - training).unwrap());
        assert!(diff < 0.02 * moved, "{diff} against a move of {moved}");
    }

    #[test]
    fn dropout_is_seeded_and_keeps_the_expected_value() {
        let x = Tensor::ones((100, 100), DType::F32, &Device::Cpu).unwrap();
        let masked = |seed: u64| {
            let y = Dropout::new(0.1, seed).apply(&x).unwrap();
            y.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        let a = masked(1);
        assert_eq!(a, masked(1));
        assert_ne!(a, masked(2));
        let zeros = a.iter().filter(|&&v| v == 0.0).count();
        assert!((800..1200).contains(&zeros), "{zeros} of 10000 dropped");
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!((mean - 1.0).abs() < 0.03, "mean {mean}");
        let none = Dropout::new(0.0, 1).apply(&x).unwrap();
        assert_eq!(none.sum_all().unwrap().to_scalar::<f32>().unwrap(), 10000.0);
    }

    #[test]
    fn merging_into_a_bf16_encoder_updates_the_packed_weights() {
        if !crate::model::kernels::bf16_supported() {
            eprintln!("skipped: this CPU has no AVX-512 BF16");
            return;
        }
        let (mut bert, _) = tiny();
        let dev = Device::Cpu;
        let ids = Tensor::new(&[[1u32, 7, 9, 2]], &dev).unwrap();
        let ones = Tensor::ones((1, 4), DType::F32, &dev).unwrap();
        let adapter = random_adapter(&bert);
        let unmerged = mean_pool_normalize(&bert.forward(&ids, None).unwrap(), &ones).unwrap();
        bert.set_bf16(true).unwrap();
        bert.merge(&adapter).unwrap();
        let b = mean_pool_normalize(&bert.forward(&ids, None).unwrap(), &ones).unwrap();
        bert.set_bf16(false).unwrap();
        let a = mean_pool_normalize(&bert.forward(&ids, None).unwrap(), &ones).unwrap();
        let cos = |x: &Tensor, y: &Tensor| {
            (x * y)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert!(cos(&a, &b) > 0.999, "cosine {}", cos(&a, &b));
        assert!(
            cos(&unmerged, &b) < cos(&a, &b),
            "packed weights left unmerged"
        );
    }

    #[test]
    fn bf16_sentence_vectors_stay_close_to_f32() {
        if !crate::model::kernels::bf16_supported() {
            eprintln!("skipped: this CPU has no AVX-512 BF16");
            return;
        }
        let (mut bert, _) = tiny();
        let (ids, mask) = padded_pair();
        let vectors = |bert: &Bert| -> Vec<Vec<f32>> {
            let h = bert.forward(&ids, Some(&mask)).unwrap();
            mean_pool_normalize(&h, &mask).unwrap().to_vec2().unwrap()
        };
        let exact = vectors(&bert);
        bert.set_bf16(true).unwrap();
        assert!(bert.is_bf16());
        let fast = vectors(&bert);
        for (a, b) in exact.iter().zip(&fast) {
            let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!(cos > 0.999, "cosine {cos}");
        }
    }

    #[test]
    fn refuses_a_mask_with_padding_in_the_middle() {
        let (bert, _) = tiny();
        let dev = Device::Cpu;
        let ids = Tensor::new(&[[1u32, 7, 0, 2]], &dev).unwrap();
        let mask = Tensor::new(&[[1f32, 1., 0., 1.]], &dev).unwrap();
        assert!(bert.forward(&ids, Some(&mask)).is_err());
        let empty = Tensor::zeros((2, 0), DType::U32, &dev).unwrap();
        assert_eq!(bert.forward(&empty, None).unwrap().dims(), &[2, 0, 16]);
    }

    #[test]
    fn rejects_unknown_activation() {
        let (_, mut cfg) = tiny();
        cfg.hidden_act = "relu".into();
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        assert!(Bert::load(vb, &cfg).is_err());
    }
}
