//! The seed article from the shared fixtures: every gold quotation must be
//! found with exact text and spans, and every speaker must be right.

mod common;

use common::{load_gold, shared_fixtures};

#[test]
fn seed_article_matches_gold() {
    let Some(dir) = shared_fixtures() else {
        println!("skipping: ../shared/fixtures not found");
        return;
    };
    let text = std::fs::read_to_string(dir.join("seed-article.txt")).unwrap_or_default();
    let gold = load_gold(&dir.join("seed-article.gold.json"));
    assert!(!gold.is_empty(), "seed gold has no quotes");
    let pred = detente::quotes::extract(&text);
    for g in &gold {
        let Some(p) = pred.iter().find(|p| p.spans == g.spans) else {
            panic!(
                "gold quote not found with exact spans {:?}: {:?}",
                g.spans, g.text
            );
        };
        assert_eq!(p.text, g.text, "text for spans {:?}", g.spans);
        assert!(
            p.is_statement(),
            "gold quote classified as a term: {:?}",
            g.text
        );
        assert_eq!(p.speaker, g.speaker, "speaker for {:?}", g.text);
        assert!(
            p.confidence > 0.0,
            "attributed quote with zero confidence: {:?}",
            g.text
        );
    }
    let statements = pred.iter().filter(|p| p.is_statement()).count();
    assert_eq!(
        statements,
        gold.len(),
        "extra statement quotations predicted"
    );
}
