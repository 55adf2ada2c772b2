//! Tension on articles whose order is obvious to any reader.
mod common;

fn score(text: &str) -> f32 {
    let a = common::analyzer().analyze(text).unwrap();
    a.tension.score.expect("these articles have statements")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(common::repo_path(&format!("tests/fixtures/tension/{name}"))).unwrap()
}

#[test]
fn ceasefire_is_calmer_than_ultimatums() {
    let calm = score(&fixture("ceasefire.txt"));
    let tense = score(&fixture("ultimatum.txt"));
    println!("ceasefire {calm:.1}, ultimatum {tense:.1}");
    assert!(calm < 40.0, "ceasefire report scored {calm}");
    assert!(tense > 80.0, "ultimatum exchange scored {tense}");
}

#[test]
fn the_seed_article_sits_between() {
    let Some(dir) = common::shared_fixtures() else {
        return;
    };
    let seed = score(&std::fs::read_to_string(dir.join("seed-article.txt")).unwrap());
    let calm = score(&fixture("ceasefire.txt"));
    let tense = score(&fixture("ultimatum.txt"));
    println!("ceasefire {calm:.1} < seed {seed:.1} < ultimatum {tense:.1}");
    assert!(calm < seed && seed < tense);
}

#[test]
fn explanation_is_consistent_with_the_numbers() {
    let a = common::analyzer()
        .analyze(&fixture("ultimatum.txt"))
        .unwrap();
    let t = &a.tension;
    // Recompute the score by hand from the reported contributions.
    let evidence: f32 = t.contributions.iter().map(|c| c.value * c.weight).sum();
    assert!((evidence - t.evidence).abs() < 1e-3);
    let by_hand = 50.0 + 50.0 * (evidence / 12.0).tanh();
    assert!((by_hand - t.score.unwrap()).abs() < 1e-3);
    let raising = t.most_raising.expect("threats raise the score");
    assert_eq!(a.quotes[raising].label, Some(detente::Stance::Threatening));
    assert_eq!(t.statements, t.contributions.len());
}
