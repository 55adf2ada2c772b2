//! The encoder must reproduce sentence-transformers' vectors and token ids.
mod common;

use detente::model::{Encoder, resolve};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    input_ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn check(path: &std::path::Path) {
    let reference: Reference = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let files =
        resolve(detente::model::DEFAULT_MODEL, "main").expect("run scripts/fetch-model first");
    let encoder = Encoder::load(&files).unwrap();
    let texts: Vec<&str> = reference.items.iter().map(|i| i.text.as_str()).collect();
    // Batched, so padding and length sorting are exercised too.
    let (vectors, _) = encoder.embed(&texts).unwrap();
    let vectors: Vec<Vec<f32>> = vectors.to_vec2().unwrap();
    let mut worst = 0f32;
    for (item, got) in reference.items.iter().zip(&vectors) {
        let tokens = encoder.tokenize(&item.text).unwrap();
        assert_eq!(tokens.ids, item.input_ids, "token ids of {:?}", item.text);
        assert_eq!(got.len(), item.embedding.len());
        for (a, b) in got.iter().zip(&item.embedding) {
            worst = worst.max((a - b).abs());
        }
    }
    // One at a time must agree with the batch.
    let (single, _) = encoder.embed(&texts[..1]).unwrap();
    let single: Vec<f32> = single.get(0).unwrap().to_vec1().unwrap();
    for (a, b) in single.iter().zip(&vectors[0]) {
        assert!((a - b).abs() < 1e-5);
    }
    println!(
        "{} reference vectors, worst component difference {worst:.2e}",
        vectors.len()
    );
    assert!(worst < 1e-4, "worst component difference {worst}");
}

#[test]
fn matches_the_projects_reference_vectors() {
    check(&common::repo_path("tests/fixtures/minilm-reference.json"));
}

#[test]
fn matches_the_shared_reference_vectors() {
    if let Some(dir) = common::shared_fixtures() {
        check(&dir.join("minilm-reference.json"));
    }
}
