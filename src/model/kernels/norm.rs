//! Layer normalization over the last dimension, rows in parallel, written so
//! that the compiler vectorizes every pass (candle's version sums in scalar
//! order, one float at a time).
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

#[derive(Clone)]
pub struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

/// Rows per task: enough work to pay for the hand-off between threads.
const ROWS_PER_TASK: usize = 16;

impl LayerNorm {
    pub fn new(weight: &Tensor, bias: &Tensor, eps: f64) -> candle_core::Result<Self> {
        let weight: Vec<f32> = weight.to_dtype(candle_core::DType::F32)?.to_vec1()?;
        let bias: Vec<f32> = bias.to_dtype(candle_core::DType::F32)?.to_vec1()?;
        if weight.len() != bias.len() || weight.is_empty() {
            candle_core::bail!(
                "layer norm needs equal, non-empty weight ({}) and bias ({})",
                weight.len(),
                bias.len()
            );
        }
        Ok(Self {
            weight,
            bias,
            eps: eps as f32,
        })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op1_no_bwd(self)
    }

    fn run(&self, x: &[f32]) -> Vec<f32> {
        let dim = self.weight.len();
        let mut out = vec![0f32; x.len()];
        let wide = super::avx512_supported();
        out.par_chunks_mut(dim * ROWS_PER_TASK)
            .zip(x.par_chunks(dim * ROWS_PER_TASK))
            .for_each(|(dst, src)| {
                if wide {
                    // SAFETY: `avx512_supported` checked avx512f, avx512vl
                    // and fma, the features `rows_avx512` enables.
                    unsafe { rows_avx512(self, src, dst) }
                } else {
                    rows(self, src, dst)
                }
            });
        out
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
fn rows_avx512(n: &LayerNorm, src: &[f32], dst: &mut [f32]) {
    rows(n, src, dst)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn rows_avx512(n: &LayerNorm, src: &[f32], dst: &mut [f32]) {
    rows(n, src, dst)
}

#[inline(always)]
fn rows(n: &LayerNorm, src: &[f32], dst: &mut [f32]) {
    let dim = n.weight.len();
    for (x, y) in src.chunks_exact(dim).zip(dst.chunks_exact_mut(dim)) {
        let mean = sum(x, |v| v) / dim as f32;
        let var = sum(x, |v| (v - mean) * (v - mean)) / dim as f32;
        let rstd = 1.0 / (var + n.eps).sqrt();
        for (((y, &x), &w), &b) in y.iter_mut().zip(x).zip(&n.weight).zip(&n.bias) {
            *y = (x - mean) * rstd * w + b;
        }
    }
}

/// A sum in 16 interleaved lanes, which vectorizes (a single running sum
/// would force one addition at a time).
#[inline(always)]
fn sum(values: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; 16];
    let chunks = values.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (l, &v) in lanes.iter_mut().zip(chunk) {
            *l += f(v);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

impl CustomOp1 for LayerNorm {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dim = self.weight.len();
        if layout.shape().dims().last() != Some(&dim) {
            candle_core::bail!(
                "layer norm over {dim} features got shape {:?}",
                layout.shape().dims()
            );
        }
        let (CpuStorage::F32(data), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("layer norm takes contiguous f32 input");
        };
        let out = self.run(&data[start..end]);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_candles_layer_norm() {
        let dev = Device::Cpu;
        let x = (Tensor::randn(0f32, 2.0, (37, 384), &dev).unwrap() + 0.7).unwrap();
        let w = Tensor::randn(1f32, 0.1, 384, &dev).unwrap();
        let b = Tensor::randn(0f32, 0.1, 384, &dev).unwrap();
        let ours = LayerNorm::new(&w, &b, 1e-12).unwrap().forward(&x).unwrap();
        let theirs = candle_nn::ops::layer_norm_slow(&x, &w, &b, 1e-12).unwrap();
        let diff = (ours - theirs).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
    }
}
