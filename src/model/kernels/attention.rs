//! Multi-head self-attention in one pass over the fused QKV projection.
//!
//! Statements are short (tens of tokens), so attention is little arithmetic
//! but, written as tensor ops, many small steps: split heads, transpose,
//! copy, a batched matmul, a mask add, softmax, another matmul, transpose
//! back. Here each (statement, head) pair is one task that reads its slice of
//! `qkv` and writes its slice of the output: no masks, and padded keys are
//! never read. Keys are transposed into a small buffer so that both products
//! run along contiguous rows, which the compiler turns into wide vector code.
use candle_core::{CpuStorage, CustomOp1, Layout, Shape};
use rayon::prelude::*;

use super::SharedOut;

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

/// What one (statement, head) task reads and writes.
struct Task<'a> {
    qkv: &'a [f32],
    /// Offset of the task's first query row and head within `qkv`.
    base: usize,
    /// Floats between consecutive tokens in `qkv` (3·hidden).
    stride: usize,
    /// Offset of keys (and twice that, of values) from queries: hidden.
    part: usize,
    len: usize,
    keys: usize,
    hd: usize,
}

impl Attention {
    fn run(&self, qkv: &[f32]) -> Vec<f32> {
        let (len, nh, hd) = (self.len, self.heads, self.head_dim);
        let h = nh * hd;
        if len == 0 || h == 0 {
            return vec![0f32; self.batch * len * h];
        }
        // Every element is written exactly once below (no zeroing pass).
        let mut out: Vec<f32> = Vec::with_capacity(self.batch * len * h);
        let out_ptr = SharedOut(out.as_mut_ptr());
        let wide = super::avx512_supported();
        (0..self.batch * nh).into_par_iter().for_each(|i| {
            let out_ptr = &out_ptr;
            let (bi, head) = (i / nh, i % nh);
            let task = Task {
                qkv,
                base: bi * len * 3 * h + head * hd,
                stride: 3 * h,
                part: h,
                len,
                // At least one key, so the softmax never divides by zero; a
                // row of padding alone is averaged away by the pooling.
                keys: self.lengths.get(bi).copied().unwrap_or(len).clamp(1, len),
                hd,
            };
            // SAFETY: task (bi, head) alone writes columns
            // head·hd..(head+1)·hd of rows bi·len..(bi+1)·len, all inside
            // `out`; `run` waits for every task before returning.
            let write = |t: usize, values: &[f32]| {
                assert!(t < len && values.len() == hd);
                unsafe {
                    let dst = out_ptr.0.add((bi * len + t) * h + head * hd);
                    std::ptr::copy_nonoverlapping(values.as_ptr(), dst, hd);
                }
            };
            if wide {
                // SAFETY: `avx512_supported` checked avx512f, avx512vl and
                // fma, the features `head_avx512` enables.
                unsafe { head_avx512(&task, write) }
            } else {
                head_portable(&task, write)
            }
        });
        // SAFETY: the tasks cover every (statement, head) and every row; a
        // panic in one would be re-raised here, leaving the length 0.
        unsafe { out.set_len(self.batch * len * h) };
        out
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,fma")]
fn head_avx512(task: &Task, write: impl FnMut(usize, &[f32])) {
    head(task, write)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn head_avx512(task: &Task, write: impl FnMut(usize, &[f32])) {
    head(task, write)
}

fn head_portable(task: &Task, write: impl FnMut(usize, &[f32])) {
    head(task, write)
}

/// One head of one statement: softmax(q·Kᵀ)·V for every query row.
#[inline(always)]
fn head(task: &Task, mut write: impl FnMut(usize, &[f32])) {
    let Task {
        qkv,
        base,
        stride,
        part,
        len,
        keys,
        hd,
    } = *task;
    // kt[d][s]: key s's d-th component.
    let mut kt = vec![0f32; hd * keys];
    for s in 0..keys {
        let k = &qkv[base + s * stride + part..][..hd];
        for (d, &v) in k.iter().enumerate() {
            kt[d * keys + s] = v;
        }
    }
    let mut scores = vec![0f32; keys];
    let mut ctx = vec![0f32; hd];
    for t in 0..len {
        let q = &qkv[base + t * stride..][..hd];
        scores.fill(0.0);
        for (&qd, row) in q.iter().zip(kt.chunks_exact(keys)) {
            for (sc, &k) in scores.iter_mut().zip(row) {
                *sc += qd * k;
            }
        }
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for sc in scores.iter_mut() {
            *sc = (*sc - max).exp();
            sum += *sc;
        }
        ctx.fill(0.0);
        for (s, &w) in scores.iter().enumerate() {
            let v = &qkv[base + s * stride + 2 * part..][..hd];
            for (c, &x) in ctx.iter_mut().zip(v) {
                *c += w * x;
            }
        }
        let inv = 1.0 / sum;
        for c in ctx.iter_mut() {
            *c *= inv;
        }
        write(t, &ctx);
    }
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
