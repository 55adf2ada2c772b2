//! Extraction throughput on a ~6 KB and a ~1 MB article built from the
//! fixture paragraphs; equal bytes/second at both sizes shows linear scaling.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Paragraphs of all fixture articles (a small built-in sample if absent).
fn paragraphs() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/articles");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "txt"));
    files.sort();
    let mut out: Vec<String> = files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.split("\n\n").map(str::to_string).collect::<Vec<_>>())
        .filter(|p| !p.trim().is_empty())
        .collect();
    if out.is_empty() {
        out.push(
            "\"We are ready to talk,\" Foreign Minister Anna Berg said. \"But not at any price.\""
                .into(),
        );
        out.push(
            "Berg said the offer had \"no serious content\" and that talks would go on.".into(),
        );
        out.push("\"It is a provocation,\" the ministry said in a statement on Thursday.".into());
    }
    out
}

/// Repeats paragraphs in order until the article reaches `bytes`.
fn article(paras: &[String], bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 4096);
    for p in paras.iter().cycle() {
        if text.len() >= bytes {
            break;
        }
        text.push_str(p);
        text.push_str("\n\n");
    }
    text
}

fn bench(c: &mut Criterion) {
    let paras = paragraphs();
    let mut group = c.benchmark_group("extract");
    for (name, size) in [("6KB", 6 * 1024), ("1MB", 1024 * 1024)] {
        let text = article(&paras, size);
        group.throughput(Throughput::Bytes(text.len() as u64));
        if size > 100_000 {
            group.sample_size(10);
        }
        group.bench_function(name, |b| {
            b.iter(|| detente::quotes::extract(black_box(&text)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
