//! MODEL_CARD.md, written by `detente train` from what it measured.
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use super::data::Split;
use crate::model::HeadConfig;
use crate::stance::Stance;

/// How the fine-tuning recipe was chosen: measured by hand, once, by runs
/// that differed only in the recipe. Kept as a record; a retrain does not
/// rerun the comparisons.
const RECIPES: &str = include_str!("recipes.md");

pub fn model_card(
    cfg: &HeadConfig,
    files: &[PathBuf],
    counts: &BTreeMap<(Split, Stance), usize>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# detente stance head\n");
    let _ = writeln!(
        s,
        "Written by `detente train`; do not edit by hand. Retrain with\n`detente train --data models/data --out models/stance-head`.\n"
    );
    let _ = writeln!(s, "## What it is\n");
    let _ = writeln!(
        s,
        "A {} head ({}) over the {}-dimensional sentence vectors of `{}` (revision `{}`,\n\
         mean-pooled, L2-normalized, at most {} tokens). It labels a quoted statement\n\
         as optimistic, threatening, conciliatory or neutral (see the labeling guide in the README).\n\
         {}Probabilities are divided by a temperature of {:.2} fitted on the dev split.\n",
        cfg.kind.as_str(),
        if cfg.hidden > 0 {
            format!("{} hidden ReLU units", cfg.hidden)
        } else {
            "one linear layer".to_string()
        },
        cfg.encoder.embedding_size,
        cfg.encoder.model_id,
        cfg.encoder.revision,
        cfg.encoder.max_tokens,
        match &cfg.lexical {
            Some(l) => format!(
                "Its log-probabilities are mixed with those of a lexical model (logistic\n\
                 regression over {} word unigrams and bigrams, `lexical.json`), which\n\
                 counts for {:.1} of the mixture.\n",
                l.ngrams, l.weight
            ),
            None => String::new(),
        },
        cfg.temperature
    );
    let _ = writeln!(s, "## Data\n");
    let _ = writeln!(
        s,
        "Statements written for this project in the style of wire-service quotations,\n\
         one by one or as whole news-style articles whose quotations were then\n\
         extracted as printed (no sentence copied from a published article), from:\n"
    );
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(s, "- `{name}`");
    }
    let _ = writeln!(
        s,
        "\nSplit by a stable hash of each statement, stratified by label: 10% test,\n10% dev, 80% train. The test split is used only for the figures below.\n"
    );
    let _ = writeln!(
        s,
        "| split | optimistic | threatening | conciliatory | neutral | total |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for split in [Split::Train, Split::Dev, Split::Test] {
        let row: Vec<usize> = Stance::ALL
            .iter()
            .map(|l| counts.get(&(split, *l)).copied().unwrap_or(0))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            split.as_str(),
            row[0],
            row[1],
            row[2],
            row[3],
            row.iter().sum::<usize>()
        );
    }
    let _ = writeln!(s, "\n## Method\n");
    use crate::train::finetune as ft;
    let _ = writeln!(
        s,
        "Full-batch AdamW with inverse-frequency class weights, seed {}, weights\n\
         initialized from a seeded ChaCha stream: a rerun gives the same head. Each\n\
         frozen-encoder candidate keeps its best checkpoint by dev macro-F1; the best\n\
         one wins and is the start of fine-tuning, which trains it jointly with every\n\
         linear layer of the encoder's blocks ({}) through the full forward pass,\n\
         with dropout {} as in BERT's pretraining (seeded masks): mini-batches of\n\
         {} statements of similar length, {} epochs, AdamW at learning rates {:e}\n\
         (encoder) and {:e} (head), each the product of a linear warm-up over the\n\
         first 6% of the steps and a linear decay from the first step (peak about\n\
         0.94 of the rate, nearly zero at the end); the last weights are kept.{}",
        cfg.seed,
        ft::TARGETS
            .iter()
            .map(|t| t.describe())
            .collect::<Vec<_>>()
            .join(", "),
        ft::DROPOUT,
        ft::BATCH,
        ft::EPOCHS,
        ft::ENCODER_LR,
        ft::HEAD_LR,
        match ft::RUNS {
            1 => String::new(),
            k => format!(
                " {k} such runs, from the same\n\
                 start but with batches in different orders, are averaged (a model soup)."
            ),
        },
    );
    let _ = match &cfg.adapter {
        Some(a) => writeln!(
            s,
            "The update to the encoder is stored as its best rank-{} approximation\n\
             (truncated SVD; the smallest of ranks {:?} that loses at most {} dev\n\
             macro-F1, else the largest, which keeps the file under 4 MiB), in 8 bits\n\
             with a scale per direction: an adapter merged into the encoder at load,\n\
             so inference costs what it did before.\n",
            a.rank,
            ft::RANKS,
            ft::RANK_LOSS,
        ),
        None => writeln!(
            s,
            "Fine-tuning was skipped or did not beat the frozen encoder on dev, so the\n\
             encoder is used as pretrained.\n"
        ),
    };
    use crate::train::lexical as lx;
    let _ = match &cfg.lexical {
        Some(l) => writeln!(
            s,
            "The lexical model reads what a mean-pooled vector blurs: the few words that\n\
             carry a stance (\"no intention\", \"stands ready\", \"will pay\"). Its features\n\
             are the train split's word unigrams and bigrams found in at least {} statements\n\
             ({} of them; Unicode word boundaries, lowercased), tf-idf weighted (1 + ln tf,\n\
             smoothed idf) and scaled to unit length. Multinomial logistic regression with\n\
             the same class weights, AdamW at {:e} on mini-batches of {} for up to {} epochs,\n\
             keeps the epoch with the best dev macro-F1 (epoch {}). The mixture\n\
             `(1 - w)·log p_head + w·log p_lexical` takes the share w in {:?} with the best\n\
             dev macro-F1 (w = {:.1}), and is kept only if it beats the head alone on dev;\n\
             the temperature is then fitted to the mixture.\n",
            l.min_count,
            l.ngrams,
            lx::LR,
            lx::BATCH,
            lx::EPOCHS,
            l.epochs,
            crate::train::LEXICAL_WEIGHTS,
            l.weight,
        ),
        None => writeln!(
            s,
            "The lexical model was skipped or did not beat the head alone on dev, so\n\
             the head's probabilities are used alone.\n"
        ),
    };
    let _ = writeln!(s, "| candidate | dev macro-F1 | dev accuracy | best step |");
    let _ = writeln!(s, "|---|---|---|---|");
    for c in &cfg.candidates {
        let _ = writeln!(
            s,
            "| {} | {:.3} | {:.3} | {} |",
            c.name, c.dev_macro_f1, c.dev_accuracy, c.steps
        );
    }
    let _ = writeln!(s, "\n{RECIPES}");
    let _ = writeln!(s, "\n## Quality (after calibration)\n");
    let _ = writeln!(
        s,
        "| split | statements | accuracy | macro-F1 | ECE | NLL |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for (name, m) in &cfg.metrics {
        let _ = writeln!(
            s,
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            m.size, m.accuracy, m.macro_f1, m.ece, m.nll
        );
    }
    for (name, m) in &cfg.metrics {
        let _ = writeln!(s, "\n### {name} split\n\n```\n{}```", m.report());
    }
    let _ = writeln!(s, "\n## Known failure modes\n");
    let _ = writeln!(
        s,
        "- The corpus is written by the project, not sampled from real news; real\n  \
         quotations are longer, more hedged and more context-dependent, so expect lower\n  \
         figures on them than on the test split above.\n\
         - Sentence vectors blur negation and conditionals: \"we have no intention of\n  \
         attacking\" sits close to \"we intend to attack\". The corpus has near-identical\n  \
         pairs with different labels for this reason, and the lexical model reads\n  \
         \"no intention\" as a phrase, but errors remain.\n\
         - The lexical model knows only words seen in training. A statement with no\n  \
         word it knows (one in another language, say) gets its prior, which leans\n  \
         neutral, and the head's voice is diluted: such labels are less confident.\n\
         - Optimistic and conciliatory are the closest pair (an assessment vs an offer).\n\
         - Stance depends on who \"they\" are; the head sees only the quoted words.\n\
         - The head reads statements longer than {} tokens only up to the window\n  \
         (the lexical model reads them whole).",
        cfg.encoder.max_tokens
    );
    s
}
