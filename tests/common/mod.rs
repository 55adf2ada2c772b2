//! Helpers shared by the integration tests.
#![allow(dead_code)]
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use detente::{Analyzer, ModelOptions};

mod gold;
pub mod server;
#[allow(unused_imports)]
pub use gold::*;

/// `../shared/fixtures` beside the checkout (or DETENTE_SHARED), when present.
pub fn shared_fixtures() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("DETENTE_SHARED").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("seed-article.txt").is_file());
    if found.is_none() {
        eprintln!("skipping: ../shared/fixtures not found (set DETENTE_SHARED to its path)");
    }
    found
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The real model, loaded once per test binary. Panics with the install hint
/// when the encoder is missing: model tests must not pass vacuously.
pub fn analyzer() -> Arc<Analyzer> {
    static CELL: OnceLock<Arc<Analyzer>> = OnceLock::new();
    CELL.get_or_init(|| {
        let opts = ModelOptions {
            head: repo_path("models/stance-head"),
            ..ModelOptions::default()
        };
        match Analyzer::load(&opts) {
            Ok(a) => Arc::new(a),
            Err(e) => panic!("the real model is needed for this test: {e}"),
        }
    })
    .clone()
}
