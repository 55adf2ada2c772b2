//! Tokenising the writer's own text of a paragraph (quotations become single
//! opaque tokens) and splitting it into sentences.

use super::lexicon::{ABBREVIATIONS, abbrev_may_end, is_sentence_starter};
use super::scan::Para;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    Punct(char),
    /// A reported quotation (index into the article's quote list) and
    /// whether its words end with sentence punctuation.
    Quote(usize, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tok {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

/// The part of a paragraph covered by one quotation, marks included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Region {
    pub start: usize,
    pub end: usize,
    pub quote: usize,
    /// The words inside end with sentence punctuation (`."`, `?"`).
    pub terminal: bool,
}

fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

fn is_word_abbrev(w: &str) -> bool {
    ABBREVIATIONS.contains(w)
        || w.contains('.')
        || (w.chars().count() == 1 && w.chars().all(char::is_uppercase))
}

/// Tokens of paragraph `p`; `regions` must be sorted and inside `p`.
pub(crate) fn tokenize(text: &str, p: Para, regions: &[Region]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut regions = regions.iter().peekable();
    let mut i = p.start;
    while i < p.end {
        if let Some(r) = regions.peek()
            && r.start <= i
        {
            toks.push(Tok {
                start: r.start.max(i),
                end: r.end,
                kind: Kind::Quote(r.quote, r.terminal),
            });
            i = r.end.max(i + 1);
            regions.next();
            // Keep `i` on a char boundary even if a region ended oddly.
            while i < p.end && !text.is_char_boundary(i) {
                i += 1;
            }
            continue;
        }
        let Some(c) = char_at(text, i) else { break };
        let limit = regions.peek().map_or(p.end, |r| r.start.min(p.end));
        if c.is_whitespace() {
            i += c.len_utf8();
        } else if c.is_alphanumeric() {
            let end = word_end(text, i, limit);
            toks.push(Tok {
                start: i,
                end,
                kind: Kind::Word,
            });
            i = end;
        } else {
            toks.push(Tok {
                start: i,
                end: i + c.len_utf8(),
                kind: Kind::Punct(c),
            });
            i += c.len_utf8();
        }
    }
    toks
}

/// End of the word starting at `start`: letters and digits, joined by
/// hyphens, apostrophes, dots and digit-group commas.
fn word_end(text: &str, start: usize, limit: usize) -> usize {
    let mut i = start;
    let mut prev = ' ';
    while i < limit {
        let Some(c) = char_at(text, i) else { break };
        if c.is_alphanumeric() {
            prev = c;
            i += c.len_utf8();
            continue;
        }
        let after = char_at(text, i + c.len_utf8()).filter(|_| i + c.len_utf8() < limit);
        let joins = match c {
            '-' | '\'' | '’' | '.' | '‐' => after.is_some_and(char::is_alphanumeric),
            ',' => prev.is_ascii_digit() && after.is_some_and(|a| a.is_ascii_digit()),
            _ => false,
        };
        if !joins {
            break;
        }
        prev = c;
        i += c.len_utf8();
    }
    // Abbreviation dot ("Gen.", "U.S.") and a possessive after it ("U.S.'s").
    let w = text.get(start..i).unwrap_or("");
    if i < limit && char_at(text, i) == Some('.') && is_word_abbrev(w) {
        i += 1;
        if let Some(a) = char_at(text, i).filter(|a| matches!(a, '\'' | '’')) {
            let j = i + a.len_utf8();
            if char_at(text, j) == Some('s')
                && j < limit
                && !char_at(text, j + 1).is_some_and(char::is_alphanumeric)
            {
                i = j + 1;
            }
        }
    }
    i.min(limit.max(start))
}

pub(crate) fn word<'a>(text: &'a str, t: &Tok) -> &'a str {
    match t.kind {
        Kind::Word => text.get(t.start..t.end).unwrap_or(""),
        _ => "",
    }
}

/// Starts with a capital, also after a name particle ("al-Nour", "bin-Salman").
pub(crate) fn is_capitalized(w: &str) -> bool {
    let w = [
        "al-", "el-", "ad-", "as-", "ash-", "at-", "az-", "ibn-", "bin-", "abu-", "d’", "d'",
    ]
    .iter()
    .find_map(|p| w.strip_prefix(p))
    .unwrap_or(w);
    w.chars().next().is_some_and(char::is_uppercase)
}

/// Sentence ranges `[start, end)` over token indices.
pub(crate) fn sentences(text: &str, toks: &[Tok]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        let Some(next) = toks.get(i + 1) else { break };
        let next_opens = match next.kind {
            Kind::Quote(..) => true,
            Kind::Word => {
                let w = word(text, next);
                is_capitalized(w) || w.chars().next().is_some_and(|c| c.is_ascii_digit())
            }
            Kind::Punct(c) => matches!(c, '(' | '[' | '—'),
        };
        let ends = match t.kind {
            Kind::Punct(c) => {
                let terminal = |c: char| matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？');
                // "…provocations.) She went on" ends at the bracket.
                let closes_bracket = c == ')'
                    && i > 0
                    && toks
                        .get(i - 1)
                        .is_some_and(|p| matches!(p.kind, Kind::Punct(b) if terminal(b)));
                (terminal(c) || closes_bracket) && next_opens
            }
            Kind::Word => {
                let w = word(text, t);
                w.ends_with('.')
                    && abbrev_may_end(w)
                    && next.kind == Kind::Word
                    && is_sentence_starter(word(text, next))
            }
            Kind::Quote(_, terminal) => terminal && next_opens,
        };
        if ends {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < toks.len() {
        out.push((start, toks.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(t: &str) -> Vec<&str> {
        let p = Para {
            start: 0,
            end: t.len(),
        };
        tokenize(t, p, &[])
            .iter()
            .map(|k| &t[k.start..k.end])
            .collect()
    }

    #[test]
    fn words_keep_abbreviations_and_joins() {
        assert_eq!(
            words("U.S. Gen. Olsen-Berg's 100,000 U.S.'s a.m. end."),
            vec![
                "U.S.",
                "Gen.",
                "Olsen-Berg's",
                "100,000",
                "U.S.'s",
                "a.m.",
                "end",
                "."
            ]
        );
    }

    #[test]
    fn sentence_split_respects_abbreviations() {
        let t = "Gen. Smith met the U.S. envoy. He left. Talks with the U.S. The end.";
        let p = Para {
            start: 0,
            end: t.len(),
        };
        let toks = tokenize(t, p, &[]);
        let s = sentences(t, &toks);
        assert_eq!(s.len(), 4);
    }
}
