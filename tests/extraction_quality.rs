//! Quality ratchet over the annotated fixture articles: statement-quote
//! precision/recall/F1 and speaker accuracy must not fall below these.

mod common;

use std::path::PathBuf;

use common::{Score, load_gold, score, shared_fixtures};

const MIN_PRECISION: f64 = 0.99;
const MIN_RECALL: f64 = 0.99;
const MIN_F1: f64 = 0.99;
const MIN_SPEAKER_ACCURACY: f64 = 0.96;

fn row(name: &str, s: &Score) {
    println!(
        "{:<40} {:>4} {:>4} {:>4}  P {:.3}  R {:.3}  F1 {:.3}  spk {:>3}/{:<3} {:.3}",
        name,
        s.gold,
        s.predicted,
        s.matched,
        s.precision(),
        s.recall(),
        s.f1(),
        s.speaker_right,
        s.speaker_total,
        s.speaker_accuracy()
    );
}

fn run(txt: &std::path::Path, gold: &std::path::Path) -> Score {
    let text = std::fs::read_to_string(txt).unwrap_or_default();
    let gold = load_gold(gold);
    let pred = detente::quotes::extract(&text);
    let name = txt.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    let (s, notes) = score(&gold, &pred);
    row(name, &s);
    for n in notes {
        println!("{n}");
    }
    s
}

#[test]
fn extraction_quality() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/articles");
    let mut golds: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    golds.retain(|p| p.to_string_lossy().ends_with(".gold.json"));
    golds.sort();
    println!("{:<40} {:>4} {:>4} {:>4}", "article", "gold", "pred", "hit");
    let mut total = Score::default();
    for g in &golds {
        let txt = PathBuf::from(g.to_string_lossy().replace(".gold.json", ".txt"));
        if txt.is_file() {
            total.add(&run(&txt, g));
        }
    }
    row("TOTAL (fixtures)", &total);
    if let Some(shared) = shared_fixtures() {
        let seed = run(
            &shared.join("seed-article.txt"),
            &shared.join("seed-article.gold.json"),
        );
        row("seed (reported separately)", &seed);
    }
    assert!(
        total.precision() >= MIN_PRECISION,
        "precision {:.3}",
        total.precision()
    );
    assert!(total.recall() >= MIN_RECALL, "recall {:.3}", total.recall());
    assert!(total.f1() >= MIN_F1, "F1 {:.3}", total.f1());
    assert!(
        total.speaker_accuracy() >= MIN_SPEAKER_ACCURACY,
        "speaker accuracy {:.3}",
        total.speaker_accuracy()
    );
}
