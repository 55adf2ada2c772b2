//! Multi-head self-attention in one pass over the fused QKV projection.
//!
//! Statements are short (tens of tokens), so attention is little arithmetic
//! but, written as tensor ops, many small steps: split heads, transpose,
//! copy, a batched matmul, a mask add, softmax, another matmul, transpose
//! back. Here each (statement, head) pair is one task that reads its slice of
//! `qkv` in place and writes its slice of the output: no copies, no masks,
//! and padded keys are simply never read.
use candle_core::{CpuStorage, CustomOp1, Layout, Shape};
use rayon::prelude::*;

use super::gemm::SharedOut;

/// Attention over a `[batch·len, 3·hidden]` QKV tensor (query, key, value;
/// heads contiguous within each; the query already scaled by 1/√head_dim),
/// giving `[batch·len, hidden]`. Statement `i` has `lengths[i]` real tokens
/// followed by padding; padded keys get no weight.
pub struct Attention {
    pub batch: usize,
    pub len: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub lengths: Vec<usize>,
}

impl Attention {
    fn run(&self, qkv: &[f32]) -> Vec<f32> {
        let (len, nh, hd) = (self.len, self.heads, self.head_dim);
        let h = nh * hd;
        let mut out = vec![0f32; self.batch * len * h];
        let out_ptr = SharedOut(out.as_mut_ptr());
        (0..self.batch * nh).into_par_iter().for_each(|task| {
            let out_ptr = &out_ptr;
            let (bi, head) = (task / nh, task % nh);
            let keys = self.lengths.get(bi).copied().unwrap_or(len).clamp(1, len);
            let row = |t: usize, part: usize| {
                let start = (bi * len + t) * 3 * h + part * h + head * hd;
                &qkv[start..start + hd]
            };
            let mut weights = vec![0f32; keys];
            let mut ctx = vec![0f32; hd];
            for t in 0..len {
                let q = row(t, 0);
                let mut max = f32::NEG_INFINITY;
                for (s, w) in weights.iter_mut().enumerate() {
                    *w = dot(q, row(s, 1));
                    max = max.max(*w);
                }
                let mut sum = 0f32;
                for w in weights.iter_mut() {
                    *w = (*w - max).exp();
                    sum += *w;
                }
                ctx.fill(0.0);
                for (s, &w) in weights.iter().enumerate() {
                    for (c, v) in ctx.iter_mut().zip(row(s, 2)) {
                        *c += w * v;
                    }
                }
                let inv = 1.0 / sum;
                // SAFETY: task (bi, head) alone writes columns
                // head·hd..(head+1)·hd of rows bi·len..(bi+1)·len, which lie
                // inside `out`; `run` waits for every task before returning.
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(
                        out_ptr.0.add((bi * len + t) * h + head * hd),
                        hd,
                    )
                };
                for (d, c) in dst.iter_mut().zip(&ctx) {
                    *d = c * inv;
                }
            }
        });
        out
    }
}

/// Eight partial sums, so the compiler can vectorize the reduction.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (xa, xb) in ca.zip(cb) {
        for ((s, x), y) in acc.iter_mut().zip(xa).zip(xb) {
            *s += x * y;
        }
    }
    acc.iter().sum::<f32>() + tail
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "fused-attention"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let h = self.heads * self.head_dim;
        let rows = self.batch * self.len;
        if layout.shape().dims() != [rows, 3 * h] {
            candle_core::bail!(
                "fused-attention expects [{rows}, {}], got {:?}",
                3 * h,
                layout.shape().dims()
            );
        }
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("fused-attention takes f32 input");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("fused-attention needs a contiguous input");
        };
        let out = self.run(&data[start..end]);
        Ok((CpuStorage::F32(out), Shape::from((rows, h))))
    }
}
