//! Symmetric 8-bit storage of an adapter's low-rank factors. Each direction
//! of the update (a row of `A`, a column of `B`) keeps its own scale, so the
//! small directions are not rounded away next to the large ones. Values are
//! stored as `u8` with an offset of 128 (candle has no `i8`).
use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};

const OFFSET: f32 = 128.0;
const LEVELS: f32 = 127.0;

/// Which way a factor's directions run: the rows of `A`, the columns of `B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Rows,
    Columns,
}

/// A matrix in 8 bits, with one scale per direction.
pub struct Quantized {
    pub values: Tensor,
    pub scales: Tensor,
}

/// Quantizes each direction of `t` against its own largest magnitude; the
/// values keep `t`'s shape.
pub fn quantize(t: &Tensor, axis: Axis) -> Result<Quantized> {
    match axis {
        Axis::Rows => quantize_rows(t),
        Axis::Columns => {
            let q = quantize_rows(&t.t()?)?;
            Ok(Quantized {
                values: q.values.t()?.contiguous()?,
                scales: q.scales,
            })
        }
    }
}

fn quantize_rows(t: &Tensor) -> Result<Quantized> {
    let (rows, cols) = t.dims2()?;
    let v: Vec<f32> = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    if v.iter().any(|x| !x.is_finite()) {
        return Err(Error::InvalidInput(
            "cannot store a non-finite factor in 8 bits".into(),
        ));
    }
    let mut values = Vec::with_capacity(rows * cols);
    let mut scales = Vec::with_capacity(rows);
    for row in 0..rows {
        let row = &v[row * cols..(row + 1) * cols];
        let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = max / LEVELS;
        scales.push(scale);
        values.extend(row.iter().map(|&x| {
            let q = if scale > 0.0 {
                (x / scale).round().clamp(-LEVELS, LEVELS)
            } else {
                0.0
            };
            // In 1..=255 by the clamp, so the cast is exact.
            (q + OFFSET) as u8
        }));
    }
    Ok(Quantized {
        values: Tensor::from_vec(values, (rows, cols), &Device::Cpu)?,
        scales: Tensor::from_vec(scales, rows, &Device::Cpu)?,
    })
}

/// The f32 matrix that `values` and their per-direction `scales` stand for.
pub fn dequantize(values: &Tensor, scales: &Tensor, axis: Axis) -> Result<Tensor> {
    let (rows, cols) = values.dims2()?;
    let (n, dim) = match axis {
        Axis::Rows => (rows, 1),
        Axis::Columns => (cols, 0),
    };
    if scales.dims() != [n] {
        return Err(Error::InvalidInput(format!(
            "8-bit factor has {n} directions but scales of shape {:?}",
            scales.dims()
        )));
    }
    let centered = (values.to_dtype(DType::F32)? - f64::from(OFFSET))?;
    Ok(centered.broadcast_mul(&scales.to_dtype(DType::F32)?.unsqueeze(dim)?)?)
}

/// `t` as it comes back from 8-bit storage.
pub fn round_trip(t: &Tensor, axis: Axis) -> Result<Tensor> {
    let q = quantize(t, axis)?;
    dequantize(&q.values, &q.scales, axis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_abs(t: &Tensor) -> f32 {
        t.abs().unwrap().max_all().unwrap().to_scalar().unwrap()
    }

    #[test]
    fn each_row_is_rounded_against_its_own_scale() {
        // A tiny row beside a huge one keeps its relative precision.
        let t = Tensor::new(
            &[[1000f32, -500., 3.], [0.001, -0.0007, 0.0002]],
            &Device::Cpu,
        )
        .unwrap();
        let back = round_trip(&t, Axis::Rows).unwrap();
        let err = (&back - &t).unwrap();
        let rows = err.abs().unwrap().max(1).unwrap().to_vec1::<f32>().unwrap();
        assert!(rows[0] <= 1000.0 / 254.0 + 1e-3);
        assert!(rows[1] <= 0.001 / 254.0 + 1e-9);
        assert_eq!(
            back.get(0)
                .unwrap()
                .get(0)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap(),
            1000.0
        );
    }

    #[test]
    fn columns_too_and_zeros_stay_zero() {
        let t = Tensor::new(&[[0f32, 2.0], [0., -0.5], [0., 1.0]], &Device::Cpu).unwrap();
        let q = quantize(&t, Axis::Columns).unwrap();
        assert_eq!(q.values.dims(), &[3, 2]);
        assert_eq!(q.values.dtype(), DType::U8);
        let back = dequantize(&q.values, &q.scales, Axis::Columns).unwrap();
        assert!(max_abs(&(&back - &t).unwrap()) <= 2.0 / 254.0 + 1e-6);
        let first: Vec<f32> = back.t().unwrap().get(0).unwrap().to_vec1().unwrap();
        assert_eq!(first, vec![0.0; 3]);
    }

    #[test]
    fn refuses_what_cannot_be_stored_or_read() {
        let nan = Tensor::new(&[[f32::NAN, 1.0]], &Device::Cpu).unwrap();
        assert!(quantize(&nan, Axis::Rows).is_err());
        let ones = Tensor::ones((2, 3), DType::F32, &Device::Cpu).unwrap();
        let q = quantize(&ones, Axis::Rows).unwrap();
        let three = Tensor::ones(3, DType::F32, &Device::Cpu).unwrap();
        assert!(dequantize(&q.values, &three, Axis::Rows).is_err());
        assert!(dequantize(&q.values, &q.scales, Axis::Columns).is_err());
    }
}
