//! CPU kernels for the encoder's inference pass: tensors in, tensors out,
//! each a candle custom op. Written for the shapes detente runs (short
//! statements, hidden size in the hundreds) and for x86's AVX-512, with
//! portable fallbacks.
pub mod attention;
pub mod gemm;
pub mod norm;

pub use gemm::bf16_supported;

/// True when the CPU has AVX-512F (wide vectors for the f32 kernels).
pub fn avx512_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// An output buffer, shared by tasks that write disjoint parts of it.
pub(crate) struct SharedOut(pub(crate) *mut f32);
// SAFETY: sharing the pointer is sound because every user gives each task a
// disjoint region to write and reads the buffer only after all tasks end.
unsafe impl Sync for SharedOut {}
