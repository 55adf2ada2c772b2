//! The committed stance head: its recorded metrics are reproduced, and it
//! labels real quotations (the seed article's gold) well enough.
mod common;

use std::collections::HashSet;

use detente::metrics::evaluate;
use detente::model::{Precision, StanceHead};
use detente::train::data::{Example, Split, read_corpus, read_jsonl, split};
use detente::{Analyzer, ModelOptions};

/// Gold labels of the seed article the head must get right, at least: the
/// issue's bar is 13 of 17; the committed head gets 16, so losing two is a
/// regression.
const MIN_SEED_CORRECT: usize = 15;

/// Macro-F1 the head must reach on the quotations of the project's annotated
/// articles (the committed head gets 0.747; see the README's quality section).
const MIN_ARTICLE_MACRO_F1: f32 = 0.70;

/// Macro-F1 the head must reach on `models/eval/news-style.jsonl`, quotations
/// extracted from news-style articles written apart from the corpus (the
/// committed head gets 0.890).
const MIN_NEWS_STYLE_MACRO_F1: f32 = 0.83;

/// Macro-F1 the head must reach on `models/eval/news-style-2.jsonl`, 1,251
/// quotations from 100 news-style articles by six writers whose work was
/// never trained on (the committed head gets 0.736).
const MIN_NEWS_STYLE_2_MACRO_F1: f32 = 0.72;

/// The committed head on an encoder run at `precision`.
fn analyzer(precision: Precision) -> Analyzer {
    let opts = ModelOptions {
        head: common::repo_path("models/stance-head"),
        precision,
        ..ModelOptions::default()
    };
    Analyzer::load(&opts).unwrap_or_else(|e| panic!("the real model is needed: {e}"))
}

fn corpus_split(which: Split) -> Vec<Example> {
    let (examples, _) = read_corpus(&common::repo_path("models/data")).unwrap();
    let splits = split(&examples);
    examples
        .into_iter()
        .zip(splits)
        .filter(|(_, s)| *s == which)
        .map(|(e, _)| e)
        .collect()
}

/// The corpus's statements, compared as lowercase with spaces collapsed.
fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn corpus_texts() -> HashSet<String> {
    let (corpus, _) = read_corpus(&common::repo_path("models/data")).unwrap();
    corpus.iter().map(|e| normalize(&e.text)).collect()
}

/// Training measured the head in f32; f32 inference reproduces it.
#[test]
fn recorded_test_metrics_are_reproduced() {
    let head_dir = common::repo_path("models/stance-head");
    let head = StanceHead::load(&head_dir).unwrap();
    let recorded = &head.config().metrics["test"];
    let test = corpus_split(Split::Test);
    assert_eq!(
        test.len(),
        recorded.size,
        "the corpus changed since the head was trained"
    );
    let texts: Vec<&str> = test.iter().map(|e| e.text.as_str()).collect();
    let labels = analyzer(Precision::F32).classify(&texts).unwrap();
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

/// bf16 arithmetic (the default where the CPU has AVX-512 BF16) may change
/// a label only where f32 is nearly undecided: at most 0.5% of the dev split.
#[test]
fn bf16_labels_agree_with_f32_on_the_dev_split() {
    if !detente::model::kernels::bf16_supported() {
        eprintln!("skipped: this CPU has no AVX-512 BF16, so detente runs in f32 only");
        return;
    }
    let dev = corpus_split(Split::Dev);
    let texts: Vec<&str> = dev.iter().map(|e| e.text.as_str()).collect();
    let f32_labels = analyzer(Precision::F32).classify(&texts).unwrap();
    let bf16 = analyzer(Precision::Bf16);
    assert_eq!(bf16.encoder().precision(), Precision::Bf16);
    let bf16_labels = bf16.classify(&texts).unwrap();
    let mut differ = 0;
    let mut max_prob_diff = 0f32;
    for ((a, b), text) in f32_labels.iter().zip(&bf16_labels).zip(&texts) {
        if a.label != b.label {
            differ += 1;
            println!(
                "differs: f32 {} bf16 {}: {text}",
                a.label.as_str(),
                b.label.as_str()
            );
        }
        for (x, y) in a.scores.to_array().iter().zip(b.scores.to_array()) {
            max_prob_diff = max_prob_diff.max((x - y).abs());
        }
    }
    let share = differ as f64 / texts.len() as f64;
    println!(
        "dev split: {differ}/{} labels differ between f32 and bf16 ({:.2}%), largest probability difference {max_prob_diff:.4}",
        texts.len(),
        100.0 * share
    );
    assert!(share <= 0.005, "{differ} of {} labels changed", texts.len());
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

/// The quotations of `tests/fixtures/articles` were written inside whole
/// articles, for the extraction tests, and labeled by the guide; none is in
/// the training corpus. Partial quotations, idiom, quotes in other languages
/// and context make them a harder, more article-like check than the corpus's
/// test split.
#[test]
fn labels_the_annotated_articles_quotations() {
    let dir = common::repo_path("tests/fixtures/articles");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".gold.json"))
        .collect();
    files.sort();
    let in_corpus = corpus_texts();
    let mut texts = Vec::new();
    let mut gold = Vec::new();
    let mut skipped = 0;
    for file in &files {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        for q in doc["quotes"].as_array().unwrap() {
            let (Some(text), Some(label)) = (q["text"].as_str(), q["label"].as_str()) else {
                continue; // terms carry no label
            };
            if in_corpus.contains(&normalize(text)) {
                // Stock phrases ("small yard, high fence") may be in both;
                // they would only flatter the score.
                skipped += 1;
                continue;
            }
            texts.push(text.to_string());
            gold.push(label.parse::<detente::Stance>().unwrap());
        }
    }
    assert!(
        texts.len() >= 200,
        "only {} labeled quotations",
        texts.len()
    );
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let labels = common::analyzer().classify(&refs).unwrap();
    let probs: Vec<[f32; 4]> = labels.iter().map(|c| c.scores.to_array()).collect();
    let m = evaluate(&gold, &probs);
    println!(
        "annotated articles: {} quotations ({skipped} also in the corpus, left out), accuracy {:.3}, macro-F1 {:.3}, ECE {:.3}",
        texts.len(),
        m.accuracy,
        m.macro_f1,
        m.ece
    );
    assert!(
        m.macro_f1 >= MIN_ARTICLE_MACRO_F1,
        "macro-F1 {:.3} < {MIN_ARTICLE_MACRO_F1}",
        m.macro_f1
    );
}

/// Labels a check set under `models/eval/` and holds the head to `floor`; a
/// line that is also in the corpus would make the check meaningless.
fn check_set(file: &str, floor: f32) {
    let set = read_jsonl(&common::repo_path(&format!("models/eval/{file}"))).unwrap();
    let in_corpus = corpus_texts();
    let leaked: Vec<&str> = set
        .iter()
        .map(|e| e.text.as_str())
        .filter(|t| in_corpus.contains(&normalize(t)))
        .collect();
    assert!(leaked.is_empty(), "in the training corpus: {leaked:?}");
    let texts: Vec<&str> = set.iter().map(|e| e.text.as_str()).collect();
    let labels = common::analyzer().classify(&texts).unwrap();
    let probs: Vec<[f32; 4]> = labels.iter().map(|c| c.scores.to_array()).collect();
    let gold: Vec<_> = set.iter().map(|e| e.label).collect();
    let m = evaluate(&gold, &probs);
    println!("{file}:\n{}", m.report());
    assert!(m.macro_f1 >= floor, "macro-F1 {:.3} < {floor}", m.macro_f1);
}

/// 20 whole news stories (wire copy, live blogs, interviews) on disputes the
/// corpus articles were told to avoid, their quotations extracted as printed.
#[test]
fn labels_the_news_style_check_set() {
    check_set("news-style.jsonl", MIN_NEWS_STYLE_MACRO_F1);
}

/// Larger and harder: written to read like news, not to be clear.
#[test]
fn labels_the_second_news_style_check_set() {
    check_set("news-style-2.jsonl", MIN_NEWS_STYLE_2_MACRO_F1);
}

/// The committed model card is exactly what `detente train` writes for the
/// committed head and corpus, so it cannot drift from the code by hand.
#[test]
fn committed_model_card_is_what_training_writes() {
    let dir = common::repo_path("models/stance-head");
    let head = StanceHead::load(&dir).unwrap();
    let (examples, files) = read_corpus(&common::repo_path("models/data")).unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for (e, s) in examples.iter().zip(split(&examples)) {
        *counts.entry((s, e.label)).or_insert(0usize) += 1;
    }
    let card = detente::train::card::model_card(head.config(), &files, &counts);
    let committed = std::fs::read_to_string(dir.join("MODEL_CARD.md")).unwrap();
    if card != committed {
        let out = std::env::temp_dir().join("detente-MODEL_CARD.expected.md");
        let _ = std::fs::write(&out, &card);
        panic!(
            "MODEL_CARD.md differs from what training writes ({} written)",
            out.display()
        );
    }
}
