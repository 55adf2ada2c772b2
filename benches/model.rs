//! Model throughput: tokenization, the lexical model, the encoder at several batch sizes in f32
//! and (where the CPU has AVX-512 BF16) bf16, the bf16 linear kernel on the
//! encoder's layer shapes, and the whole in-process classification. Statements come from
//! `benches/data/statements.txt` (project-written, ~20 words, ~30 tokens).
//! Needs the encoder installed (`scripts/fetch-model`).
use std::hint::black_box;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use detente::model::kernels::gemm::{Activation, PackedLinear};
use detente::model::{Encoder, LexicalModel, Precision, kernels, resolve};
use detente::{Analyzer, ModelOptions};

fn statements() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/statements.txt");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn model(c: &mut Criterion) {
    let Ok(files) = resolve(detente::model::DEFAULT_MODEL, "main") else {
        eprintln!("skipping: encoder not installed (run scripts/fetch-model)");
        return;
    };
    let Ok(mut encoder) = Encoder::load(&files) else {
        eprintln!("skipping: encoder failed to load");
        return;
    };
    let all = statements();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();

    let mut g = c.benchmark_group("tokenize");
    g.throughput(Throughput::Elements(refs.len() as u64));
    g.bench_function("128 statements", |b| {
        b.iter(|| encoder.tokenize_all(black_box(&refs)))
    });
    g.finish();
    lexical(c, &refs);

    let mut precisions = vec![Precision::F32];
    if kernels::bf16_supported() {
        precisions.push(Precision::Bf16);
    }
    for precision in precisions {
        if encoder.set_precision(precision).is_err() {
            continue;
        }
        let mut g = c.benchmark_group(format!("encoder {precision}"));
        g.sample_size(10);
        for batch in [1usize, 8, 32, 64] {
            let tokens = encoder.tokenize_all(&refs[..batch]).unwrap_or_default();
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_with_input(BenchmarkId::from_parameter(batch), &tokens, |b, t| {
                b.iter(|| encoder.embed_tokens(black_box(t)))
            });
        }
        g.finish();
    }
    linear_kernel(c);

    let Ok(analyzer) = Analyzer::load(&ModelOptions::default()) else {
        eprintln!("skipping classify: stance head failed to load");
        return;
    };
    let analyzer = Arc::new(analyzer);
    let mut g = c.benchmark_group("classify");
    g.sample_size(10);
    for batch in [1usize, 32] {
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new("in-process", batch), &batch, |b, &n| {
            b.iter(|| analyzer.classify(black_box(&refs[..n])))
        });
    }
    g.finish();
}

/// The committed lexical model's logits, next to tokenization: both run on
/// the caller's thread before a statement reaches the queue.
fn lexical(c: &mut Criterion, refs: &[&str]) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/stance-head/lexical.json"
    );
    let Ok(model) = LexicalModel::load(std::path::Path::new(path)) else {
        eprintln!("skipping the lexical model: {path} failed to load");
        return;
    };
    let mut g = c.benchmark_group("lexical model");
    g.throughput(Throughput::Elements(refs.len() as u64));
    g.bench_function("128 statements", |b| {
        b.iter(|| {
            refs.iter()
                .map(|t| model.logits(black_box(t)))
                .collect::<Vec<_>>()
        })
    });
    g.finish();
}

/// The bf16 linear layer alone, on a batch of 32 statements of 30 tokens, at
/// each of the encoder's four shapes (throughput in multiply-adds).
fn linear_kernel(c: &mut Criterion) {
    if !kernels::bf16_supported() {
        eprintln!("skipping the bf16 kernel: this CPU has no AVX-512 BF16");
        return;
    }
    let dev = Device::Cpu;
    let rows = 32 * 30;
    let mut g = c.benchmark_group("bf16 linear, 960 rows");
    g.sample_size(20);
    for (name, n, k, act) in [
        ("qkv 384->1152", 1152, 384, Activation::None),
        ("out 384->384", 384, 384, Activation::None),
        ("up+gelu 384->1536", 1536, 384, Activation::Gelu),
        ("down 1536->384", 384, 1536, Activation::None),
    ] {
        let (Ok(w), Ok(b), Ok(x)) = (
            Tensor::randn(0f32, 0.05, (n, k), &dev),
            Tensor::randn(0f32, 0.05, n, &dev),
            Tensor::randn(0f32, 1.0, (rows, k), &dev),
        ) else {
            return;
        };
        let Ok(lin) = PackedLinear::new(&w, &b, act) else {
            return;
        };
        g.throughput(Throughput::Elements((rows * n * k) as u64));
        g.bench_function(name, |bench| bench.iter(|| lin.forward(black_box(&x))));
    }
    g.finish();
}

criterion_group!(benches, model);
criterion_main!(benches);
