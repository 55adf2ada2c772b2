//! Speaker attribution: walks each paragraph once (recording names and the
//! subject of every reporting cue, see [`super::phrases`]) and decides which
//! cue a quotation belongs to: the one before it in its sentence, the one
//! right after it, or an earlier one for split and follow-on quotes.
//!
//! Everything is bounded to a quotation's own sentence, its paragraph and the
//! previous paragraph, with fixed token windows, so the pass stays linear.

use std::collections::HashSet;

use super::lexicon::{NON_NAME, ORG_HEADS, ORG_NOUNS, PERSON_ROLES, is_determiner, pronoun};
use super::names::{EntKind, Entity, Names};
use super::phrases::{
    CueKind, NpKind, ParaView, Subj, clause_description, clause_subject, finite_subject,
    forward_description, forward_np, is_strong_cue, np_subject, run_forward, words,
};
use super::scan::{Para, RawQuote};
use super::tokens::{Kind, Region, tokenize};

/// Who said a quotation, as decided for one quote.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Attribution {
    pub speaker: Option<String>,
    pub mention: Option<String>,
    pub cue: Option<String>,
    pub confidence: f32,
}

impl Attribution {
    fn scaled(mut self, f: f32) -> Self {
        self.confidence *= f;
        self
    }
}

/// What the kind classifier and the assembler need to know about a quote.
#[derive(Debug, Clone, Default)]
pub(crate) struct QuoteCtx {
    pub attribution: Attribution,
    /// Nothing but punctuation precedes the quote in its sentence.
    pub sentence_initial: bool,
    /// Directly introduced by a colon.
    pub after_colon: bool,
    /// Directly after a reporting verb (`said “The…`, `saying, "…`).
    pub after_cue: bool,
    /// Attributed by a cue right after it (`"…," he said`).
    pub trailing: bool,
}

/// Token windows that bound every search.
const LEADING_WINDOW: usize = 60;
const TRAILING_WINDOW: usize = 14;
#[derive(Debug, Clone)]
struct CueHit {
    tok: usize,
    kind: CueKind,
    subj: Option<Subj>,
}

/// Attributes every quotation; returns one context per quote, in order.
pub(crate) fn attribute(text: &str, paras: &[Para], quotes: &[RawQuote]) -> Vec<QuoteCtx> {
    let regions = regions_by_para(text, paras, quotes);
    let mut out = vec![QuoteCtx::default(); quotes.len()];
    let mut leading: Vec<Option<Attribution>> = vec![None; quotes.len()];
    let mut previous: Vec<Option<Attribution>> = vec![None; quotes.len()];
    let mut trailing: Vec<Option<Attribution>> = vec![None; quotes.len()];
    let vocab = lowercase_vocabulary(text);
    let mut names = Names::default();
    let mut prev_intro: Option<Attribution> = None;
    for (pi, &p) in paras.iter().enumerate() {
        let regs = regions.get(pi).map_or(&[][..], Vec::as_slice);
        let toks = tokenize(text, p, regs);
        // A headline has no final full stop; its capitalised words are not
        // reliable introductions of names.
        names.frozen = pi == 0
            && !text
                .get(p.start..p.end)
                .is_some_and(|t| t.trim_end().ends_with(['.', '"', '”', '?', '!']));
        let v = ParaView::new(text, &vocab, toks, pi);
        let cues = walk(&v, &mut names);
        for (ti, t) in v.toks.iter().enumerate() {
            let Kind::Quote(qi, _) = t.kind else { continue };
            let Some(q) = quotes.get(qi) else { continue };
            let Some(ctx) = out.get_mut(qi) else { continue };
            if q.para == pi && t.start == q.open {
                let (s, _) = v.sentence(ti);
                // Bounded: a sentence start padded with punctuation is rare.
                ctx.sentence_initial =
                    ti - s <= 8 && (s..ti).all(|k| matches!(v.kind(k), Some(Kind::Punct(_))));
                ctx.after_colon = ti > 0 && v.is_punct(ti - 1, ':');
                ctx.after_cue = ti > 0
                    && (v.cue_at(ti - 1).is_some()
                        || (v.is_punct(ti - 1, ',') && ti > 1 && v.cue_at(ti - 2).is_some()));
                if let Some(slot) = leading.get_mut(qi) {
                    *slot = leading_attr(&v, &cues, ti, s).or_else(|| {
                        if ctx.after_colon {
                            colon_subject(&v, &mut names, ti, s)
                        } else {
                            parenthetical_attr(&v, &cues, ti)
                        }
                    });
                }
                if let Some(slot) = previous.get_mut(qi) {
                    *slot = previous_attr(&cues, ti)
                        .or_else(|| (ti == 0).then(|| prev_intro.clone()).flatten())
                        .or_else(|| previous_sentence_subject(&v, &mut names, s));
                }
            }
            if q.last_para == pi
                && t.end == q.close_end
                && let Some(slot) = trailing.get_mut(qi)
            {
                *slot = trailing_attr(&v, &cues, ti);
            }
        }
        // A paragraph ending in a colon introduces the next one.
        prev_intro = if v.toks.last().is_some_and(|t| t.kind == Kind::Punct(':')) {
            cues.iter()
                .rev()
                .find_map(|c| c.subj.as_ref().map(|s| s.attr.clone()))
        } else {
            None
        };
    }
    for (qi, ctx) in out.iter_mut().enumerate() {
        let lead = leading.get_mut(qi).and_then(Option::take);
        let trail = trailing.get_mut(qi).and_then(Option::take);
        let prev = previous.get_mut(qi).and_then(Option::take);
        ctx.trailing = trail.is_some();
        let chosen = if ctx.sentence_initial {
            trail.or_else(|| prev.map(|a| a.scaled(0.8)))
        } else {
            lead.or(trail)
        };
        let mut a = chosen.unwrap_or_default();
        if a.speaker.is_none() {
            a.confidence = 0.0;
        }
        a.confidence = a.confidence.clamp(0.0, 1.0);
        ctx.attribution = a;
    }
    out
}

/// Lowercase words of the article, to tell sentence-initial common words from
/// names. One linear pass.
fn lowercase_vocabulary(text: &str) -> HashSet<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
        .map(str::to_string)
        .collect()
}

fn regions_by_para(text: &str, paras: &[Para], quotes: &[RawQuote]) -> Vec<Vec<Region>> {
    let mut regions: Vec<Vec<Region>> = vec![Vec::new(); paras.len()];
    for (qi, q) in quotes.iter().enumerate() {
        for pi in q.para..=q.last_para {
            let (Some(p), Some(list)) = (paras.get(pi), regions.get_mut(pi)) else {
                continue;
            };
            let start = if pi == q.para { q.open } else { p.start };
            let end = if pi == q.last_para {
                q.close_end
            } else {
                p.end
            };
            let terminal = pi == q.last_para
                && q.spans
                    .last()
                    .and_then(|&(s, e)| text.get(s..e))
                    .is_some_and(|t| {
                        t.trim_end()
                            .ends_with(['.', '!', '?', '…', '。', '！', '？'])
                    });
            list.push(Region {
                start,
                end,
                quote: qi,
                terminal,
            });
        }
    }
    regions
}

/// Left-to-right pass over a paragraph: records name mentions and the
/// subject of every reporting cue, in reading order.
fn walk(v: &ParaView<'_>, names: &mut Names) -> Vec<CueHit> {
    let mut cues: Vec<CueHit> = Vec::new();
    let mut run_until = 0;
    for i in 0..v.toks.len() {
        if !v.is_word(i) {
            continue;
        }
        let (s, e) = v.sentence(i);
        names.sentence = v.pos(s);
        if let Some(kind) = v.cue_at(i) {
            // "described … as "…" and warned": the first verb's subject.
            let coordinated = kind == CueKind::Finite
                && i > s
                && matches!(v.w(i - 1), "and" | "but" | "then")
                && cues
                    .iter()
                    .rev()
                    .take(8)
                    .take_while(|c| c.tok >= s)
                    .any(|c| c.subj.is_some());
            let np = match kind {
                CueKind::According => forward_np(v, names, i + 2, e),
                CueKind::Finite if !coordinated => finite_subject(v, names, i, s, e),
                CueKind::Finite | CueKind::Participle => None,
            };
            let subj = match np {
                Some(np) => Some(np_subject(v, names, np, true)),
                // A participle's subject is that of its clause's main verb.
                None if kind == CueKind::Participle || coordinated => cues
                    .iter()
                    .rev()
                    .take(8)
                    .take_while(|c| c.tok >= s)
                    .find(|c| c.kind == CueKind::Finite && c.subj.is_some())
                    .and_then(|c| c.subj.clone())
                    .or_else(|| {
                        clause_subject(v, names, i, s).map(|np| np_subject(v, names, np, true))
                    }),
                None => None,
            };
            let cue_text = if kind == CueKind::According {
                v.slice(i, i + 2)
            } else {
                v.slice(i, i + 1)
            };
            let subj = subj.map(|mut s| {
                s.attr.cue = Some(cue_text);
                s
            });
            cues.push(CueHit { tok: i, kind, subj });
            continue;
        }
        let w = v.w(i);
        if let Some(p) = pronoun(w)
            && matches!(p, "he" | "she")
            && v.subject_position(i, s)
            && v.cue_at(i + 1).is_none()
        {
            // Keep a pronoun chain alive: "Still, she saw … „…“ she said".
            if let Some((name, _)) = names.resolve_pronoun(p, v.pos(i), v.para, v.pos(s)) {
                names.push_mention(
                    v.pos(i),
                    v.para,
                    &Entity::new(EntKind::Person, name),
                    true,
                    "",
                );
            }
            continue;
        }
        let apposition = i > s && v.is_punct(i - 1, ',');
        // "After the interview, the guarantor countries issued …".
        let after_intro = apposition
            && i - s <= 12
            && (s..i - 1).all(|k| !v.is_punct(k, ','))
            && NON_NAME.contains(v.w(s));
        if (i == s || after_intro || (matches!(w, "a" | "an") && !apposition)) && is_determiner(w) {
            // "An Ethiopian engineer who …", "I put this to a senior European
            // diplomat": unnamed people a later pronoun may refer to.
            if let Some(np) = forward_description(v, i, e)
                && v.cue_at(np.end).is_none()
                // "Her spokesman, Lee Jun-ho, …": the name in apposition counts.
                && !(v.is_punct(np.end, ',') && v.cap(np.end + 1))
                && (i == s || after_intro || matches!(&np.kind, NpKind::Description { head, .. } if PERSON_ROLES.contains(head.as_str())))
            {
                np_subject(v, names, np, i == s || after_intro);
            }
        }
        if i >= run_until && v.cap(i) {
            let start = if v.common_at_start(i, s) && v.cap(i + 1) {
                i + 1
            } else {
                i
            };
            let end = run_forward(v, start, v.toks.len());
            run_until = end;
            if let Some(ent) = names.analyze_run(&words(v, start, end)) {
                let org = ent.kind == EntKind::Org
                    && end - start >= 2
                    && v.w(end - 1).chars().next().is_some_and(char::is_uppercase)
                    && ORG_HEADS.contains(v.w(end - 1));
                if ent.kind == EntKind::Person || org {
                    names.push_mention(
                        v.pos(start),
                        v.para,
                        &ent,
                        v.subject_position(start, s),
                        "",
                    );
                }
            }
        }
    }
    cues
}

/// Attribution right after the closing mark: `"…," Novak said`,
/// `"…," said Novak`, `"…," according to the ministry`.
fn trailing_attr(v: &ParaView<'_>, cues: &[CueHit], qt: usize) -> Option<Attribution> {
    let mut i = qt + 1;
    if matches!(v.kind(i), Some(Kind::Punct(',' | '—' | '–'))) {
        i += 1;
    }
    if !v.is_word(i) {
        return None;
    }
    let crossed = v.sentence(i) != v.sentence(qt);
    let limit = v.sentence(i).1.min(i + TRAILING_WINDOW);
    let first = cues.partition_point(|c| c.tok < i);
    let hit = cues.get(first).filter(|c| c.tok < limit)?;
    if hit.kind == CueKind::Participle {
        return None;
    }
    let subj = hit.subj.as_ref()?;
    // The subject must fill the gap between the quote and the verb.
    if hit.tok != i && subj.start != i {
        return None;
    }
    // Across a sentence end only a bare attribution counts ("Novak said.").
    if crossed && v.sentence(i).1 > hit.tok + 5 {
        return None;
    }
    Some(subj.attr.clone().scaled(if crossed { 0.85 } else { 1.0 }))
}

/// A cue later in the same sentence set off by commas:
/// `The filling was "…" carried out in the rainy season, he said, and …`.
fn parenthetical_attr(v: &ParaView<'_>, cues: &[CueHit], qt: usize) -> Option<Attribution> {
    let (_, e) = v.sentence(qt);
    let limit = e.min(qt + LEADING_WINDOW);
    let first = cues.partition_point(|c| c.tok <= qt);
    let hit = cues
        .get(first)
        .filter(|c| c.tok < limit && c.kind == CueKind::Finite)?;
    let subj = hit.subj.as_ref()?;
    let framed = subj.start > 0
        && v.is_punct(subj.start - 1, ',')
        && (v.is_punct(hit.tok + 1, ',') || v.is_punct(hit.tok + 1, '.') || hit.tok + 1 >= e);
    framed.then(|| subj.attr.clone().scaled(0.85))
}

/// A quote standing as its own sentence right after a sentence about a
/// named person ("Brandt sounded a different note. „…“"): a low-confidence guess.
fn previous_sentence_subject(v: &ParaView<'_>, names: &mut Names, s: usize) -> Option<Attribution> {
    if s == 0 {
        return None;
    }
    let (ps, pe) = v.sentence(s - 1);
    // Per-sentence flag: scanning the sentence for every quote after it
    // would be quadratic (`x x … x. "a b c" "a b c" …`).
    if v.sentence_quoted(s - 1) {
        return None;
    }
    let np = clause_subject(v, names, pe, ps)?;
    if !matches!(
        np.kind,
        NpKind::Named(Some(Entity {
            kind: EntKind::Person,
            ..
        }))
    ) {
        return None;
    }
    let subj = np_subject(v, names, np, true);
    Some(subj.attr.scaled(0.45))
}

/// `A reader in Odesa has sent us this message: "…"` — no reporting verb,
/// but the colon hands the quote to the sentence's subject.
fn colon_subject(v: &ParaView<'_>, names: &mut Names, qt: usize, s: usize) -> Option<Attribution> {
    let np = clause_description(v, s, qt)
        .or_else(|| clause_subject(v, names, qt.saturating_sub(1), s))?;
    if let NpKind::Description { head, .. } = &np.kind
        && !PERSON_ROLES.contains(head.as_str())
        && !ORG_NOUNS.contains(head.as_str())
    {
        return None;
    }
    let subj = np_subject(v, names, np, true);
    subj.attr.speaker.is_some().then(|| subj.attr.scaled(0.8))
}

/// The nearest cue before the quote in its own sentence.
fn leading_attr(v: &ParaView<'_>, cues: &[CueHit], qt: usize, s: usize) -> Option<Attribution> {
    let lo = s.max(qt.saturating_sub(LEADING_WINDOW));
    let n = cues.partition_point(|c| c.tok < qt);
    let before = cues.get(..n)?.iter().rev().take_while(|c| c.tok >= lo);
    // "Aydın tells reporters the delegations have agreed on "…"": a plain
    // saying-verb outranks a nearer verb of the reported content.
    let strong = before
        .clone()
        .find(|c| c.subj.is_some() && is_strong_cue(v.w(c.tok)));
    let hit = strong.or_else(|| before.clone().find(|c| c.subj.is_some()))?;
    let attr = hit.subj.as_ref()?.attr.clone();
    // A participle or fallback subject is a little less certain.
    Some(
        if hit.kind == CueKind::Participle || v.cue_at(hit.tok).is_none() {
            attr.scaled(0.9)
        } else {
            attr
        },
    )
}

/// The nearest earlier cue in the paragraph (split quotes, "… he said. "…"").
fn previous_attr(cues: &[CueHit], qt: usize) -> Option<Attribution> {
    let n = cues.partition_point(|c| c.tok < qt);
    cues.get(..n)?
        .iter()
        .rev()
        .take_while(|c| qt - c.tok <= LEADING_WINDOW + TRAILING_WINDOW)
        .find_map(|c| c.subj.as_ref().map(|s| s.attr.clone()))
}
