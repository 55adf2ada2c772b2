//! Full / partial / term classification from a quote's words and its place
//! in the writer's sentence.

use super::QuoteKind;
use super::attribute::QuoteCtx;

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

/// Words in a quotation; unspaced CJK text counts about one word per two
/// characters.
pub(crate) fn word_count(text: &str) -> usize {
    text.split_whitespace()
        .map(|tok| {
            let cjk = tok.chars().filter(|&c| is_cjk(c)).count();
            if cjk > 0 {
                cjk.div_ceil(2)
            } else {
                usize::from(tok.chars().any(char::is_alphanumeric))
            }
        })
        .sum()
}

pub(crate) fn classify(text: &str, ctx: &QuoteCtx, max_term_words: usize) -> QuoteKind {
    let words = word_count(text);
    // "No," he said. is a statement even though it is one word.
    if words <= max_term_words && !(ctx.sentence_initial && ctx.trailing) {
        return QuoteKind::Term;
    }
    let starts_upper = text
        .trim_start()
        .chars()
        .next()
        .is_some_and(char::is_uppercase);
    // "MOSCOW — "The West must listen," X said" is whole even after a dateline.
    let introduced = (ctx.after_cue || ctx.trailing) && starts_upper;
    if ctx.sentence_initial || ctx.after_colon || introduced {
        QuoteKind::Full
    } else {
        QuoteKind::Partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words() {
        assert_eq!(word_count("the operation"), 2);
        assert_eq!(word_count(" a — b "), 2);
        assert_eq!(word_count("绝不承诺放弃使用武力"), 5);
    }
}
