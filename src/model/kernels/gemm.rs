//! The encoder's linear layers in bfloat16 on CPUs with AVX-512 BF16.
//!
//! Nine tenths of the encoder's arithmetic is `x·Wᵀ + b` with a fixed `W`.
//! candle's portable GEMM runs these in f32 with AVX2; on CPUs that have
//! `avx512_bf16` one `vdpbf16ps` does twice the multiply-adds of an f32 FMA,
//! so the weights are rounded to bf16 once, at load time, and packed in the
//! order the kernel reads them; activations are rounded to bf16 on the way in
//! and every sum is kept in f32. The bias (and GELU, for the feed-forward
//! layer) are applied while the result is still in registers.
//!
//! Tensors in, tensors out: [`PackedLinear`] is a candle custom op.
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::SharedOut;

/// Columns of the output one kernel call produces: two 16-lane vectors.
const NR: usize = 32;
/// Rows of the output one kernel call produces: 24 accumulators use 24 of
/// the 32 zmm registers, leaving room for the two weight vectors.
const MR: usize = 12;

/// The function applied to `x·Wᵀ + b` before it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    None,
    /// GELU with the exact (erf) form BERT uses.
    Gelu,
}

/// True when this CPU can run the bf16 kernels.
pub fn bf16_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A linear layer's weights, rounded to bf16 and packed for the kernel.
pub struct PackedLinear {
    /// Output features.
    n: usize,
    /// Input features.
    k: usize,
    /// Pairs of input features (`k` rounded up to even, halved).
    k2: usize,
    /// `[n / NR panels][k2][NR]` bf16 pairs, lower half the even feature.
    w: Vec<u32>,
    /// Bias padded with zeros to whole panels.
    bias: Vec<f32>,
    act: Activation,
}

fn bf16_bits(x: f32) -> u32 {
    u32::from(half::bf16::from_f32(x).to_bits())
}

impl PackedLinear {
    /// Packs `weight` `[out, in]` and `bias` `[out]` (f32). Fails when this
    /// CPU lacks the instructions, so callers keep the f32 layer instead.
    pub fn new(weight: &Tensor, bias: &Tensor, act: Activation) -> candle_core::Result<Self> {
        if !bf16_supported() {
            candle_core::bail!("this CPU has no AVX-512 BF16 instructions");
        }
        let (n, k) = weight.dims2()?;
        if n == 0 || k == 0 {
            candle_core::bail!("bf16-linear needs a non-empty weight, got [{n}, {k}]");
        }
        let w: Vec<Vec<f32>> = weight.to_dtype(candle_core::DType::F32)?.to_vec2()?;
        let b: Vec<f32> = bias.to_dtype(candle_core::DType::F32)?.to_vec1()?;
        if b.len() != n {
            candle_core::bail!("bias has {} entries for {n} outputs", b.len());
        }
        let k2 = k.div_ceil(2);
        let panels = n.div_ceil(NR);
        let mut packed = vec![0u32; panels * k2 * NR];
        for (col, row) in w.iter().enumerate() {
            let (p, j) = (col / NR, col % NR);
            for kk in 0..k2 {
                let lo = bf16_bits(row[2 * kk]);
                let hi = row.get(2 * kk + 1).map_or(0, |&x| bf16_bits(x));
                packed[(p * k2 + kk) * NR + j] = lo | (hi << 16);
            }
        }
        let mut bias = vec![0f32; panels * NR];
        bias[..n].copy_from_slice(&b);
        Ok(Self {
            n,
            k,
            k2,
            w: packed,
            bias,
            act,
        })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op1_no_bwd(self)
    }

    /// `forward(x) + residual`, the sum formed before the result leaves
    /// registers (a transformer block's skip connection).
    pub fn forward_add(&self, x: &Tensor, residual: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op2_no_bwd(residual, &WithResidual(self))
    }

    /// Checks `x` and returns its rows, its data and the output shape.
    fn input<'a>(
        &self,
        storage: &'a CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(usize, &'a [f32], Shape)> {
        let dims = layout.shape().dims();
        let Some((&k, lead)) = dims.split_last() else {
            candle_core::bail!("bf16-linear needs at least one dimension");
        };
        if k != self.k {
            candle_core::bail!("bf16-linear expects {} input features, got {k}", self.k);
        }
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("bf16-linear takes f32 input");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("bf16-linear needs a contiguous input");
        };
        let mut shape = lead.to_vec();
        shape.push(self.n);
        Ok((lead.iter().product(), &data[start..end], Shape::from(shape)))
    }

    /// `out[m, n] = act(x[m, :] · W[n, :] + b[n]) (+ residual[m, n])` for
    /// row-major `x` `[m, k]`.
    fn run(&self, x: &[f32], m: usize, residual: Option<&[f32]>) -> Vec<f32> {
        if m == 0 || self.n == 0 {
            return vec![0f32; m * self.n];
        }
        // Every element is written exactly once below; zeroing first would
        // cost a pass over memory for nothing.
        let mut out: Vec<f32> = Vec::with_capacity(m * self.n);
        let a = self.pack_rows(x, m);
        let panels = self.n.div_ceil(NR);
        // Enough pieces for every thread to stay busy, few enough that each
        // keeps a tile of `x` in L1 across several panels of `W`.
        let threads = rayon::current_num_threads().max(1);
        let per_task = (panels / (4 * threads)).clamp(1, 4);
        let tasks = panels.div_ceil(per_task);
        let out_ptr = SharedOut(out.as_mut_ptr());
        (0..tasks).into_par_iter().for_each(|t| {
            let first = t * per_task;
            let last = (first + per_task).min(panels);
            let out_ptr = &out_ptr;
            for row in (0..m).step_by(MR) {
                let rows = (m - row).min(MR);
                for p in first..last {
                    let cols = (self.n - p * NR).min(NR);
                    let offset = row * self.n + p * NR;
                    let res = residual.map_or(std::ptr::null(), |r| r[offset..].as_ptr());
                    // SAFETY: `new` succeeded, so the CPU has avx512f and
                    // avx512bf16. `a` holds whole tiles of MR rows; each task
                    // writes only its own panels' columns of `out`, inside
                    // rows `row..row + rows` and columns `p*NR..p*NR + cols`
                    // (the kernel's masked stores never cross into the next
                    // row); a residual has the output's shape (checked by
                    // the op).
                    unsafe {
                        kernel(
                            a.as_ptr().add(row * self.k2),
                            self.k2,
                            self.w.as_ptr().add(p * self.k2 * NR),
                            self.bias.as_ptr().add(p * NR),
                            out_ptr.0.add(offset),
                            res,
                            self.n,
                            rows,
                            cols,
                            self.act,
                        )
                    }
                }
            }
        });
        // SAFETY: the tasks above cover all rows and all `n` columns. Had one
        // panicked, rayon would re-raise it here after the others finished,
        // leaving the length 0 (f32 needs no drop).
        unsafe { out.set_len(m * self.n) };
        out
    }

    /// `x` rounded to bf16 pairs, `[rows rounded up to MR][k2]`, zero-padded.
    fn pack_rows(&self, x: &[f32], m: usize) -> Vec<u32> {
        let tiles = m.div_ceil(MR);
        let mut a = vec![0u32; tiles * MR * self.k2];
        a.par_chunks_mut(self.k2)
            .zip(x.par_chunks(self.k))
            // SAFETY: `new` succeeded, so the CPU has avx512f and avx512bf16.
            .for_each(|(dst, src)| unsafe { round_row(src, dst) });
        a
    }
}

/// Rounds one row to bf16 pairs, nearest even, 16 at a time (the vector
/// instruction flushes denormals to zero; they do not occur in activations).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
fn round_row(src: &[f32], dst: &mut [u32]) {
    let whole = (src.len() / 16).min(dst.len() / 8);
    for (i, out) in dst.chunks_exact_mut(8).take(whole).enumerate() {
        let v = &src[i * 16..i * 16 + 16];
        // SAFETY: `v` holds 16 floats and `out` 8 u32s (32 bytes).
        unsafe {
            let bf: __m256i = std::mem::transmute(_mm512_cvtneps_pbh(_mm512_loadu_ps(v.as_ptr())));
            _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, bf);
        }
    }
    for (kk, d) in dst.iter_mut().enumerate().skip(whole * 8) {
        let lo = bf16_bits(src[2 * kk]);
        let hi = src.get(2 * kk + 1).map_or(0, |&v| bf16_bits(v));
        *d = lo | (hi << 16);
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn round_row(_: &[f32], _: &mut [u32]) {
    unreachable!("PackedLinear::new refuses CPUs without AVX-512 BF16")
}

impl CustomOp1 for PackedLinear {
    fn name(&self) -> &'static str {
        "bf16-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (m, x, shape) = self.input(storage, layout)?;
        Ok((CpuStorage::F32(self.run(x, m, None)), shape))
    }
}

struct WithResidual<'a>(&'a PackedLinear);

impl CustomOp2 for WithResidual<'_> {
    fn name(&self) -> &'static str {
        "bf16-linear-residual"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
        res_storage: &CpuStorage,
        res_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (m, x, shape) = self.0.input(storage, layout)?;
        if res_layout.shape() != &shape {
            candle_core::bail!(
                "residual shape {:?} differs from the output's {:?}",
                res_layout.shape(),
                shape
            );
        }
        let (CpuStorage::F32(res), Some((start, end))) =
            (res_storage, res_layout.contiguous_offsets())
        else {
            candle_core::bail!("the residual must be contiguous f32");
        };
        let out = self.0.run(x, m, Some(&res[start..end]));
        Ok((CpuStorage::F32(out), shape))
    }
}

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// One `MR × NR` tile of the output: `a` points at MR packed rows (`a_stride`
/// pairs apart), `w` at one packed panel, `out` at the tile's first element.
/// Only `rows × cols` of the tile are stored.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel(
    a: *const u32,
    k2: usize,
    w: *const u32,
    bias: *const f32,
    out: *mut f32,
    res: *const f32,
    out_stride: usize,
    rows: usize,
    cols: usize,
    act: Activation,
) {
    // SAFETY (whole body): the caller guarantees MR rows of k2 pairs at `a`,
    // k2·NR pairs at `w`, NR biases, and `rows × cols` writable floats at
    // `out` with rows `out_stride` apart, and as many readable at `res`
    // unless it is null.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        for kk in 0..k2 {
            let b0: __m512bh =
                std::mem::transmute(_mm512_loadu_si512(w.add(kk * NR) as *const __m512i));
            let b1: __m512bh =
                std::mem::transmute(_mm512_loadu_si512(w.add(kk * NR + 16) as *const __m512i));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x: __m512bh =
                    std::mem::transmute(_mm512_set1_epi32(*a.add(r * k2 + kk) as i32));
                acc[0] = _mm512_dpbf16_ps(acc[0], x, b0);
                acc[1] = _mm512_dpbf16_ps(acc[1], x, b1);
            }
        }
        let bias0 = _mm512_loadu_ps(bias);
        let bias1 = _mm512_loadu_ps(bias.add(16));
        let mask0: __mmask16 = if cols >= 16 {
            0xffff
        } else {
            (1u16 << cols) - 1
        };
        let mask1: __mmask16 = if cols >= NR {
            0xffff
        } else if cols > 16 {
            (1u16 << (cols - 16)) - 1
        } else {
            0
        };
        // The masks keep a narrow last panel out of the next row's first
        // columns, which belong to another task. The second half's pointers
        // are formed only when it has columns, so they stay inside the rows.
        for (r, acc) in acc.iter().enumerate().take(rows) {
            let mut v0 = _mm512_add_ps(acc[0], bias0);
            if act == Activation::Gelu {
                v0 = gelu(v0);
            }
            if !res.is_null() {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(mask0, res.add(r * out_stride)));
            }
            _mm512_mask_storeu_ps(out.add(r * out_stride), mask0, v0);
            if cols > 16 {
                let mut v1 = _mm512_add_ps(acc[1], bias1);
                if act == Activation::Gelu {
                    v1 = gelu(v1);
                }
                if !res.is_null() {
                    let src = res.add(r * out_stride + 16);
                    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(mask1, src));
                }
                _mm512_mask_storeu_ps(out.add(r * out_stride + 16), mask1, v1);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel(
    _: *const u32,
    _: usize,
    _: *const u32,
    _: *const f32,
    _: *mut f32,
    _: *const f32,
    _: usize,
    _: usize,
    _: usize,
    _: Activation,
) {
    unreachable!("PackedLinear::new refuses CPUs without AVX-512 BF16")
}

/// `0.5·x·(1 + erf(x/√2))`, with erf from Abramowitz & Stegun 7.1.26
/// (absolute error below 1.5e-7, far under bf16's rounding of the next
/// layer's input).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn gelu(x: __m512) -> __m512 {
    let z = _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
    let az = _mm512_abs_ps(z);
    let t = _mm512_div_ps(
        _mm512_set1_ps(1.0),
        _mm512_fmadd_ps(_mm512_set1_ps(0.327_591_1), az, _mm512_set1_ps(1.0)),
    );
    let mut p = _mm512_set1_ps(1.061_405_4);
    for c in [-1.453_152_1f32, 1.421_413_8, -0.284_496_74, 0.254_829_6] {
        p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(c));
    }
    p = _mm512_mul_ps(p, t);
    let e = exp(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(az, az)));
    // erf(|z|) = 1 - p·e; gelu = 0.5·x·(1 + sign(z)·erf(|z|)).
    let erf_abs = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0));
    let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(z, _mm512_setzero_ps());
    let erf = _mm512_mask_sub_ps(erf_abs, neg, _mm512_setzero_ps(), erf_abs);
    _mm512_mul_ps(
        _mm512_mul_ps(_mm512_set1_ps(0.5), x),
        _mm512_add_ps(_mm512_set1_ps(1.0), erf),
    )
}

/// `e^x` for `x ≤ 0` as `2^n · 2^f`, `f ∈ [-0.5, 0.5]`, with a degree-6
/// polynomial for `2^f` (relative error about 2e-7).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn exp(x: __m512) -> __m512 {
    // max returns its second operand for NaN: keep NaN a NaN.
    let x = _mm512_max_ps(_mm512_set1_ps(-87.0), x);
    let y = _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(y);
    let f = _mm512_sub_ps(y, n);
    // 2^f = e^(f·ln2), Taylor terms of e^u up to u^6.
    let u = _mm512_mul_ps(f, _mm512_set1_ps(std::f32::consts::LN_2));
    let mut p = _mm512_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(c));
    }
    _mm512_scalef_ps(p, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn reference(x: &[f32], w: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k)
                    .map(|t| f64::from(x[i * k + t]) * f64::from(w[j * k + t]))
                    .sum();
                out[i * n + j] = dot as f32 + b[j];
            }
        }
        out
    }

    fn gelu_exact(v: f32) -> f32 {
        let v = f64::from(v);
        (0.5 * v * (1.0 + libm_erf(v / std::f64::consts::SQRT_2))) as f32
    }

    /// erf by its Taylor series, exact enough for |x| < 4 in f64.
    fn libm_erf(x: f64) -> f64 {
        if x.abs() > 4.0 {
            return x.signum();
        }
        let mut sum = 0.0;
        let mut term = x;
        for n in 0..200 {
            sum += term / (2 * n + 1) as f64;
            term *= -x * x / (n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_f32_within_bf16_rounding_on_awkward_shapes() {
        if !bf16_supported() {
            eprintln!("skipped: this CPU has no AVX-512 BF16");
            return;
        }
        // Rows not a multiple of MR, columns not a multiple of NR, odd k.
        for &(m, n, k) in &[
            (1, 1, 1),
            (5, 40, 7),
            (13, 64, 33),
            (30, 96, 384),
            (25, 17, 100),
        ] {
            let x = random(m * k, 1 + m as u64);
            let w = random(n * k, 7 + n as u64);
            let b = random(n, 11);
            let wt = Tensor::from_vec(w.clone(), (n, k), &Device::Cpu).unwrap();
            let bt = Tensor::from_vec(b.clone(), n, &Device::Cpu).unwrap();
            let lin = PackedLinear::new(&wt, &bt, Activation::None).unwrap();
            let xt = Tensor::from_vec(x.clone(), (m, k), &Device::Cpu).unwrap();
            let got: Vec<f32> = lin
                .forward(&xt)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let want = reference(&x, &w, &b, m, n, k);
            // Two bf16 roundings (2^-9 relative each) over k terms of size ≤ 1.
            let tol = 2.0 * (k as f32).sqrt() * 2f32.powi(-8) + 1e-6;
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= tol, "{m}x{n}x{k}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn keeps_leading_dimensions_and_applies_gelu() {
        if !bf16_supported() {
            eprintln!("skipped: this CPU has no AVX-512 BF16");
            return;
        }
        let (n, k) = (48, 16);
        let w = random(n * k, 3);
        let b = random(n, 5);
        let x: Vec<f32> = random(2 * 3 * k, 9).iter().map(|v| v * 3.0).collect();
        let wt = Tensor::from_vec(w.clone(), (n, k), &Device::Cpu).unwrap();
        let bt = Tensor::from_vec(b.clone(), n, &Device::Cpu).unwrap();
        let lin = PackedLinear::new(&wt, &bt, Activation::Gelu).unwrap();
        let xt = Tensor::from_vec(x.clone(), (2, 3, k), &Device::Cpu).unwrap();
        let out = lin.forward(&xt).unwrap();
        assert_eq!(out.dims(), &[2, 3, n]);
        let got: Vec<f32> = out.flatten_all().unwrap().to_vec1().unwrap();
        let want: Vec<f32> = reference(&x, &w, &b, 6, n, k)
            .into_iter()
            .map(gelu_exact)
            .collect();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 0.05, "{g} vs {w}");
        }
    }

    #[test]
    fn residual_is_added_after_the_activation() {
        if !bf16_supported() {
            eprintln!("skipped: this CPU has no AVX-512 BF16");
            return;
        }
        let dev = Device::Cpu;
        // 40 columns: one full panel and a narrow one.
        let (m, n, k) = (13, 40, 24);
        let w = Tensor::from_vec(random(n * k, 21), (n, k), &dev).unwrap();
        let b = Tensor::from_vec(random(n, 22), n, &dev).unwrap();
        let x = Tensor::from_vec(random(m * k, 23), (m, k), &dev).unwrap();
        let res = Tensor::from_vec(random(m * n, 24), (m, n), &dev).unwrap();
        let lin = PackedLinear::new(&w, &b, Activation::Gelu).unwrap();
        let fused = lin.forward_add(&x, &res).unwrap();
        let apart = (lin.forward(&x).unwrap() + &res).unwrap();
        let diff = (fused - apart).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-6);
        let wrong = Tensor::zeros((m, n + 1), candle_core::DType::F32, &dev).unwrap();
        assert!(lin.forward_add(&x, &wrong).is_err());
        let empty = Tensor::zeros((0, k), candle_core::DType::F32, &dev).unwrap();
        assert_eq!(lin.forward(&empty).unwrap().dims(), &[0, n]);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn gelu_is_accurate_in_f32() {
        if !bf16_supported() {
            eprintln!("skipped: this CPU has no AVX-512 BF16");
            return;
        }
        let xs: Vec<f32> = (-4000..=4000).map(|i| i as f32 / 500.0).collect();
        for chunk in xs.chunks(16) {
            let mut buf = [0f32; 16];
            buf[..chunk.len()].copy_from_slice(chunk);
            // SAFETY: avx512f is present (checked above).
            let got = unsafe {
                let v = gelu(_mm512_loadu_ps(buf.as_ptr()));
                let mut out = [0f32; 16];
                _mm512_storeu_ps(out.as_mut_ptr(), v);
                out
            };
            for (g, &x) in got.iter().zip(chunk) {
                let want = gelu_exact(x);
                assert!(
                    (g - want).abs() <= 1e-5 * (1.0 + x.abs()),
                    "gelu({x}) = {g}, want {want}"
                );
            }
        }
    }
}
