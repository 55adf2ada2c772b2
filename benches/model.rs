//! Model throughput: tokenization, the encoder at several batch sizes, the
//! whole in-process classification, and end-to-end gRPC. Statements come from
//! `benches/data/statements.txt` (project-written, ~20 words, ~30 tokens).
//! Needs the encoder installed (`scripts/fetch-model`).
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use detente::model::{Encoder, resolve};
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
    let Ok(encoder) = Encoder::load(&files) else {
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

    let mut g = c.benchmark_group("encoder");
    g.sample_size(10);
    for batch in [1usize, 8, 32, 64] {
        let tokens = encoder.tokenize_all(&refs[..batch]).unwrap_or_default();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::from_parameter(batch), &tokens, |b, t| {
            b.iter(|| encoder.embed_tokens(black_box(t)))
        });
    }
    g.finish();

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

criterion_group!(benches, model);
criterion_main!(benches);
