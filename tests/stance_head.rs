//! The committed stance head: its recorded metrics are reproduced, and it
//! labels real quotations (the seed article's gold) well enough.
mod common;

use detente::metrics::evaluate;
use detente::model::StanceHead;
use detente::train::data::{Split, read_corpus, split};

/// Gold labels of the seed article the head must get right, at least.
const MIN_SEED_CORRECT: usize = 9;

#[test]
fn recorded_test_metrics_are_reproduced() {
    let head_dir = common::repo_path("models/stance-head");
    let head = StanceHead::load(&head_dir).unwrap();
    let recorded = &head.config().metrics["test"];
    let (examples, _) = read_corpus(&common::repo_path("models/data")).unwrap();
    let splits = split(&examples);
    let test: Vec<_> = examples
        .iter()
        .zip(&splits)
        .filter(|(_, s)| **s == Split::Test)
        .map(|(e, _)| e)
        .collect();
    assert_eq!(
        test.len(),
        recorded.size,
        "the corpus changed since the head was trained"
    );
    let texts: Vec<&str> = test.iter().map(|e| e.text.as_str()).collect();
    let labels = common::analyzer().classify(&texts).unwrap();
    let probs: Vec<[f32; 4]> = labels.iter().map(|c| c.scores.to_array()).collect();
    let gold: Vec<_> = test.iter().map(|e| e.label).collect();
    let m = evaluate(&gold, &probs);
    println!(
        "test split: accuracy {:.3} (recorded {:.3}), macro-F1 {:.3} (recorded {:.3})",
        m.accuracy, recorded.accuracy, m.macro_f1, recorded.macro_f1
    );
    assert!((m.accuracy - recorded.accuracy).abs() < 0.005);
    assert!((m.macro_f1 - recorded.macro_f1).abs() < 0.005);
}

#[test]
fn labels_the_seed_articles_gold_quotations() {
    let Some(dir) = common::shared_fixtures() else {
        return;
    };
    let gold: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("seed-article.gold.json")).unwrap())
            .unwrap();
    let quotes = gold["quotes"].as_array().unwrap();
    let texts: Vec<&str> = quotes.iter().map(|q| q["text"].as_str().unwrap()).collect();
    let labels = common::analyzer().classify(&texts).unwrap();
    let mut right = 0;
    for (q, c) in quotes.iter().zip(&labels) {
        let want = q["label"].as_str().unwrap();
        let ok = c.label.as_str() == want;
        right += usize::from(ok);
        println!(
            "{} {:<12} {:<12} {}",
            if ok { "ok " } else { "ERR" },
            want,
            c.label.as_str(),
            q["text"].as_str().unwrap()
        );
    }
    println!("seed article: {right}/{} gold labels", quotes.len());
    assert!(
        right >= MIN_SEED_CORRECT,
        "{right} right, need {MIN_SEED_CORRECT}"
    );
}
