//! Reading the writer's own text: reporting cues and the noun phrases
//! around them (who is the subject of "said", what a description names).
//! Every search is bounded by a fixed token window.

use std::collections::HashSet;

use super::attribute::Attribution;
use super::lexicon::{
    CUES, GROUP_ROLES, ORG_NOUNS, PARTICIPLES, PERSON_ROLES, STATEMENT_NOUNS, TITLES,
    VERB_ADJUNCTS, is_clause_joint, is_determiner, is_name_connector, pronoun,
};
use super::names::{EntKind, Entity, Names, is_possessive, strip_possessive};
use super::tokens::{Kind, Tok, is_capitalized, sentences, word};

pub(crate) const SUBJECT_WINDOW: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CueKind {
    Finite,
    Participle,
    According,
}

#[derive(Debug, Clone)]
pub(crate) struct Subj {
    /// First token of the subject phrase.
    pub start: usize,
    pub attr: Attribution,
}

#[derive(Debug, Clone)]
pub(crate) enum NpKind {
    Pronoun(&'static str),
    Named(Option<Entity>),
    /// "the ministry", "a senior European diplomat", "Russia's defence ministry".
    Description {
        head: String,
        proper_owner: bool,
        definite: bool,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Np {
    pub start: usize,
    pub end: usize,
    pub kind: NpKind,
    /// Tokens of an apposition or description that give the entity's role.
    pub roles: Option<(usize, usize)>,
}

impl Np {
    pub(crate) fn new(start: usize, end: usize, kind: NpKind) -> Self {
        Np {
            start,
            end,
            kind,
            roles: None,
        }
    }
}

/// One paragraph's tokens and sentences.
pub(crate) struct ParaView<'a> {
    pub text: &'a str,
    /// Words seen in lowercase anywhere in the article.
    pub vocab: &'a HashSet<String>,
    pub toks: Vec<Tok>,
    pub sents: Vec<(usize, usize)>,
    pub sent_of: Vec<usize>,
    pub para: usize,
    /// Token indices of the commas, ascending (clause starts in O(log n)).
    pub commas: Vec<usize>,
    /// Per sentence: it holds a quotation token.
    pub sent_quoted: Vec<bool>,
}

impl<'a> ParaView<'a> {
    /// Sentences and the per-paragraph indexes, all in one linear pass.
    pub(crate) fn new(
        text: &'a str,
        vocab: &'a HashSet<String>,
        toks: Vec<Tok>,
        para: usize,
    ) -> Self {
        let sents = sentences(text, &toks);
        let mut sent_of = vec![0; toks.len()];
        let mut sent_quoted = vec![false; sents.len()];
        for (si, &(a, b)) in sents.iter().enumerate() {
            for slot in sent_of.iter_mut().take(b).skip(a) {
                *slot = si;
            }
            if let Some(q) = sent_quoted.get_mut(si) {
                *q = toks
                    .get(a..b)
                    .is_some_and(|ts| ts.iter().any(|t| matches!(t.kind, Kind::Quote(..))));
            }
        }
        let commas = toks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind == Kind::Punct(','))
            .map(|(i, _)| i)
            .collect();
        ParaView {
            text,
            vocab,
            toks,
            sents,
            sent_of,
            para,
            commas,
            sent_quoted,
        }
    }
}

impl ParaView<'_> {
    /// The last comma in tokens `[s, j)`.
    pub(crate) fn last_comma(&self, s: usize, j: usize) -> Option<usize> {
        let n = self.commas.partition_point(|&k| k < j);
        n.checked_sub(1)
            .and_then(|i| self.commas.get(i))
            .copied()
            .filter(|&k| k >= s)
    }

    /// Some token of the sentence containing token `i` is a quotation.
    pub(crate) fn sentence_quoted(&self, i: usize) -> bool {
        match self.sent_of.get(i).and_then(|&si| self.sent_quoted.get(si)) {
            Some(&q) => q,
            // Same fallback range as `sentence`: the whole paragraph.
            None => self.toks.iter().any(|t| matches!(t.kind, Kind::Quote(..))),
        }
    }

    pub(crate) fn w(&self, i: usize) -> &str {
        self.toks.get(i).map_or("", |t| word(self.text, t))
    }
    pub(crate) fn kind(&self, i: usize) -> Option<Kind> {
        self.toks.get(i).map(|t| t.kind)
    }
    pub(crate) fn is_word(&self, i: usize) -> bool {
        self.kind(i) == Some(Kind::Word)
    }
    pub(crate) fn is_punct(&self, i: usize, c: char) -> bool {
        self.kind(i) == Some(Kind::Punct(c))
    }
    pub(crate) fn is_quote(&self, i: usize) -> bool {
        matches!(self.kind(i), Some(Kind::Quote(..)))
    }
    pub(crate) fn cap(&self, i: usize) -> bool {
        self.is_word(i) && is_capitalized(self.w(i))
    }
    pub(crate) fn sentence(&self, i: usize) -> (usize, usize) {
        self.sent_of
            .get(i)
            .and_then(|&s| self.sents.get(s))
            .copied()
            .unwrap_or((0, self.toks.len()))
    }
    pub(crate) fn slice(&self, a: usize, b: usize) -> String {
        match (
            self.toks.get(a),
            b.checked_sub(1).and_then(|l| self.toks.get(l)),
        ) {
            (Some(x), Some(y)) if x.start <= y.end => {
                self.text.get(x.start..y.end).unwrap_or("").to_string()
            }
            _ => String::new(),
        }
    }
    pub(crate) fn pos(&self, i: usize) -> usize {
        self.toks.get(i).map_or(0, |t| t.start)
    }

    pub(crate) fn cue_at(&self, i: usize) -> Option<CueKind> {
        let w = self.w(i);
        if matches!(w, "according" | "According") && self.w(i + 1) == "to" {
            Some(CueKind::According)
        } else if CUES.contains(w) {
            Some(CueKind::Finite)
        } else if PARTICIPLES.contains(w) {
            Some(CueKind::Participle)
        } else {
            None
        }
    }

    pub(crate) fn subject_position(&self, k: usize, s: usize) -> bool {
        if k <= s {
            return true;
        }
        let p = k - 1;
        self.is_quote(p)
            || matches!(
                self.kind(p),
                Some(Kind::Punct(',' | ';' | '—' | '(' | ')' | ':'))
            )
            || (self.is_word(p) && is_clause_joint(self.w(p)))
    }

    /// A sentence-initial capital that is just a common word ("Chipmakers").
    pub(crate) fn common_at_start(&self, k: usize, s: usize) -> bool {
        if k != s || !self.cap(k) {
            return false;
        }
        let lc = self.w(k).to_lowercase();
        let singular = lc.strip_suffix('s').unwrap_or(&lc);
        self.vocab.contains(&lc) || self.vocab.contains(singular)
    }
}

/// Words of tokens `[a, b)`.
pub(crate) fn words<'a>(v: &'a ParaView<'_>, a: usize, b: usize) -> Vec<&'a str> {
    (a..b).map(|i| v.w(i)).collect()
}

/// End (exclusive) of the capitalised run starting at `i`.
pub(crate) fn run_forward(v: &ParaView<'_>, i: usize, limit: usize) -> usize {
    let mut k = i + 1;
    while k < limit && k - i < 12 {
        if v.cap(k) {
            k += 1;
        } else if v.is_word(k) && is_name_connector(v.w(k)) && v.cap(k + 1) {
            k += 2;
        } else if v.is_word(k)
            && is_name_connector(v.w(k))
            && v.is_word(k + 1)
            && is_name_connector(v.w(k + 1))
            && v.cap(k + 2)
        {
            k += 3;
        } else {
            break;
        }
    }
    k.min(limit)
}

/// Start of the capitalised run ending at `e` (inclusive), not before `s`.
pub(crate) fn run_backward(v: &ParaView<'_>, e: usize, s: usize) -> usize {
    let mut k = e;
    while k > s && e - k < 12 {
        if v.cap(k - 1) {
            k -= 1;
        } else if k >= s + 2 && v.is_word(k - 1) && is_name_connector(v.w(k - 1)) && v.cap(k - 2) {
            k -= 2;
        } else if k >= s + 3
            && v.is_word(k - 1)
            && is_name_connector(v.w(k - 1))
            && v.is_word(k - 2)
            && is_name_connector(v.w(k - 2))
            && v.cap(k - 3)
        {
            k -= 3;
        } else {
            break;
        }
    }
    k
}

pub(crate) fn is_strong_cue(w: &str) -> bool {
    matches!(
        w,
        "said"
            | "says"
            | "say"
            | "told"
            | "tells"
            | "wrote"
            | "writes"
            | "added"
            | "adds"
            | "according"
            | "According"
            | "saying"
            | "telling"
            | "adding"
            | "writing"
    )
}

pub(crate) fn is_adjunct(w: &str) -> bool {
    VERB_ADJUNCTS.contains(w)
        || (w.len() > 4 && w.ends_with("ly") && w.chars().all(char::is_lowercase))
        || matches!(
            w,
            "Monday"
                | "Tuesday"
                | "Wednesday"
                | "Thursday"
                | "Friday"
                | "Saturday"
                | "Sunday"
                | "on"
                | "late"
                | "last"
                | "night"
                | "week"
                | "yesterday"
                | "today"
                | "himself"
                | "herself"
                | "itself"
                | "themselves"
                | "not"
                | "never"
                | "also"
        )
}

/// Subject of a finite reporting verb at `c` in sentence `[s, e)`.
pub(crate) fn finite_subject(
    v: &ParaView<'_>,
    names: &mut Names,
    c: usize,
    s: usize,
    e: usize,
) -> Option<Np> {
    // Inverted after a quotation: `"…," said Novak`.
    let inverted =
        c > s && (v.is_quote(c - 1) || (c > s + 1 && v.is_punct(c - 1, ',') && v.is_quote(c - 2)));
    if inverted {
        return forward_np(v, names, c + 1, e);
    }
    let mut j = c;
    while j > s && c - j < 6 && v.is_word(j - 1) && is_adjunct(v.w(j - 1)) {
        j -= 1;
    }
    if j <= s {
        return None;
    }
    if v.is_punct(j - 1, ',') {
        let comma = j - 1;
        let lo = s.max(comma.saturating_sub(SUBJECT_WINDOW));
        let prev_comma = (lo..comma)
            .rev()
            .find(|&k| v.is_punct(k, ',') || v.is_quote(k));
        return match prev_comma {
            Some(k) if v.is_punct(k, ',') => {
                // "Her spokesman, Pavel Orlov, said" names the speaker in the
                // apposition; "NATO, the alliance, said" names it before.
                let seg_named = comma > k + 1
                    && (k + 1..comma)
                        .all(|x| v.cap(x) || (v.is_word(x) && is_name_connector(v.w(x))));
                if seg_named {
                    // "a spokeswoman, Tara Quinn, said": the phrase starts at
                    // the description before the name.
                    let desc_start = (k > s && v.is_word(k - 1) && !v.cap(k - 1))
                        .then(|| backward_np(v, names, k - 1, s))
                        .flatten()
                        .map_or(k + 1, |d| d.start);
                    backward_np(v, names, comma - 1, k + 1).map(|mut np| {
                        np.roles = Some((desc_start, k));
                        np.start = np.start.min(desc_start);
                        np
                    })
                } else if k > s {
                    backward_np(v, names, k - 1, s).map(|mut np| {
                        np.roles = Some((k + 1, comma));
                        np
                    })
                } else {
                    None
                }
            }
            _ if comma > s => backward_np(v, names, comma - 1, s),
            _ => None,
        };
    }
    // "One person familiar with the talks said": a description with a
    // post-modifier, read forward from the clause start.
    if let Some(np) = clause_description(v, s, j)
        && np.end == j
    {
        return Some(np);
    }
    if let Some(np) = backward_np(v, names, j - 1, s) {
        return Some(np);
    }
    // "She described it as … and said", "she went on to say": the clause's subject.
    let joint =
        v.is_quote(j - 1) || (v.is_word(j - 1) && matches!(v.w(j - 1), "and" | "but" | "to"));
    if joint {
        clause_subject(v, names, c, s)
    } else {
        None
    }
}

/// A determiner-led description among the first words of the clause that
/// ends before `j`.
pub(crate) fn clause_description(v: &ParaView<'_>, s: usize, j: usize) -> Option<Np> {
    let clause_start = v.last_comma(s, j).map_or(s, |k| k + 1);
    (clause_start..j.min(clause_start + 4))
        .find(|&k| v.is_word(k) && is_determiner(v.w(k)) && pronoun(v.w(k)).is_none())
        .and_then(|k| forward_description(v, k, j))
}

/// Noun phrase ending at token `e` (inclusive), not reaching before `s`.
pub(crate) fn backward_np(v: &ParaView<'_>, names: &mut Names, e: usize, s: usize) -> Option<Np> {
    if !v.is_word(e) || e < s {
        return None;
    }
    let w = v.w(e);
    if let Some(p) = pronoun(w) {
        return Some(Np::new(e, e + 1, NpKind::Pronoun(p)));
    }
    if is_capitalized(w) {
        let k = run_backward(v, e, s);
        let lower = w.to_lowercase();
        let bare = strip_possessive(&lower);
        let det_before = k > s && is_determiner(v.w(k - 1));
        if k == e
            && !det_before
            && (GROUP_ROLES.contains(bare)
                || PERSON_ROLES.contains(bare)
                || ORG_NOUNS.contains(bare))
        {
            // "Officials said" at a sentence start.
            return Some(Np::new(
                e,
                e + 1,
                NpKind::Description {
                    head: bare.to_string(),
                    proper_owner: false,
                    definite: false,
                },
            ));
        }
        let k = if v.common_at_start(k, s) && k < e {
            k + 1
        } else {
            k
        };
        let ent = names.analyze_run(&words(v, k, e + 1));
        if ent.is_none() && !words(v, k, e + 1).iter().any(|w| TITLES.contains(w)) {
            return None;
        }
        return Some(Np::new(
            extend_over_roles(v, k, s),
            e + 1,
            NpKind::Named(ent),
        ));
    }
    // "chief of staff": the head is the role before "of".
    let (head_tok, bare) = if e >= s + 2 && v.w(e - 1) == "of" && PERSON_ROLES.contains(v.w(e - 2))
    {
        (e - 2, v.w(e - 2))
    } else {
        (e, strip_possessive(w))
    };
    let known =
        PERSON_ROLES.contains(bare) || GROUP_ROLES.contains(bare) || ORG_NOUNS.contains(bare);
    if is_clause_joint(bare) || VERB_ADJUNCTS.contains(bare) || pronoun(bare).is_some() {
        return None;
    }
    let mut k = head_tok;
    let mut proper_owner = false;
    let mut definite = false;
    let mut bounded = false;
    while k > s && e - k < 7 && v.is_word(k - 1) {
        let pw = v.w(k - 1);
        if is_determiner(pw) {
            k -= 1;
            definite = matches!(pw, "the" | "The" | "this" | "This");
            bounded = true;
            break;
        }
        if is_possessive(pw) {
            // "Saudi Arabia's foreign ministry": take the owner's whole name.
            proper_owner = is_capitalized(pw);
            k = if proper_owner {
                run_backward(v, k - 1, s)
            } else {
                k - 1
            };
            if k > s && is_determiner(v.w(k - 1)) {
                k -= 1;
            }
            bounded = true;
            break;
        }
        // "Association of Southeast Asian Nations secretariat".
        if is_name_connector(pw) && k >= s + 2 && v.cap(k - 2) && v.cap(k) {
            k -= 1;
            continue;
        }
        if is_clause_joint(pw)
            || v.cue_at(k - 1).is_some()
            || is_name_connector(pw)
            || VERB_ADJUNCTS.contains(pw)
        {
            break;
        }
        k -= 1;
    }
    // Unknown heads need a determiner and subject position to count.
    if !(known || (bounded && v.subject_position(k, s))) {
        return None;
    }
    Some(Np::new(
        k,
        e + 1,
        NpKind::Description {
            head: bare.to_string(),
            proper_owner,
            definite,
        },
    ))
}

/// Extends a name's start over the role words written before it, for the
/// mention ("union president Dolores Avila", "the Pentagon").
pub(crate) fn extend_over_roles(v: &ParaView<'_>, k: usize, s: usize) -> usize {
    let mut start = k;
    while start > s && k - start < 6 && v.is_word(start - 1) {
        let pw = v.w(start - 1);
        let lc = pw.to_lowercase();
        if PERSON_ROLES.contains(lc.as_str())
            || ORG_NOUNS.contains(lc.as_str())
            || matches!(
                lc.as_str(),
                "press"
                    | "senior"
                    | "top"
                    | "former"
                    | "deputy"
                    | "chief"
                    | "foreign"
                    | "defence"
                    | "defense"
            )
        {
            start -= 1;
        } else if matches!(pw, "the" | "The") {
            start -= 1;
            break;
        } else {
            break;
        }
    }
    start
}

/// A finite verb that ends a description's post-modifier ("the chief of
/// staff struck …"): common irregular pasts, or "-ed" not after a determiner.
pub(crate) fn looks_like_verb(w: &str, prev: &str) -> bool {
    matches!(
        w,
        "are"
            | "were"
            | "has"
            | "have"
            | "put"
            | "made"
            | "gave"
            | "took"
            | "sent"
            | "came"
            | "went"
            | "got"
            | "saw"
            | "kept"
            | "left"
            | "found"
            | "thought"
            | "brought"
            | "spoke"
            | "can"
            | "could"
            | "may"
            | "might"
            | "must"
            | "struck"
            | "held"
            | "met"
            | "won"
            | "lost"
            | "led"
            | "ran"
            | "began"
            | "spent"
            | "paid"
            | "sat"
            | "stood"
            | "set"
            | "cut"
            | "hit"
            | "fell"
            | "rose"
            | "sought"
            | "fought"
            | "bought"
            | "built"
            | "meant"
            | "felt"
            | "heard"
            | "did"
            | "does"
            | "do"
            | "gets"
            | "goes"
    ) || (w.len() > 4 && w.ends_with("ed") && !is_determiner(prev) && !is_name_connector(prev))
}

/// A determiner-led description read forward: "A spokesman for a large
/// automaker", "One person familiar with the talks". Ends before a verb,
/// clause joint or punctuation.
pub(crate) fn forward_description(v: &ParaView<'_>, b: usize, limit: usize) -> Option<Np> {
    let w = v.w(b);
    if !is_determiner(w) || pronoun(w).is_some() {
        return None;
    }
    let definite = matches!(w, "the" | "The");
    let mut k = b + 1;
    let mut head: Option<usize> = None;
    while k < limit && k - b <= 5 && v.is_word(k) {
        let x = v.w(k).to_lowercase();
        if PERSON_ROLES.contains(x.as_str())
            || GROUP_ROLES.contains(x.as_str())
            || ORG_NOUNS.contains(x.as_str())
        {
            head = Some(k);
            break;
        }
        if is_clause_joint(&x)
            || v.cue_at(k).is_some()
            || is_name_connector(&x)
            || matches!(
                x.as_str(),
                "with" | "in" | "at" | "from" | "by" | "about" | "over" | "after"
            )
        {
            return None;
        }
        k += 1;
    }
    let mut h = head?;
    // Compound roles: "chief negotiator", "press secretary".
    while h + 1 < limit && v.is_word(h + 1) && !v.cap(h + 1) && {
        let x = v.w(h + 1);
        PERSON_ROLES.contains(x) || ORG_NOUNS.contains(x) || GROUP_ROLES.contains(x)
    } {
        h += 1;
    }
    if v.cap(h) {
        return None; // "The U.S. State Department" is a name, not a description
    }
    let mut end = h + 1;
    let post = v.w(end);
    if matches!(
        post,
        "for" | "of" | "in" | "at" | "from" | "with" | "familiar" | "close"
    ) {
        let mut k = end + 1;
        while k < limit && k - end <= 8 && v.is_word(k) {
            let x = v.w(k);
            if is_clause_joint(x)
                || v.cue_at(k).is_some()
                || VERB_ADJUNCTS.contains(x)
                || looks_like_verb(x, v.w(k - 1))
            {
                break;
            }
            k += 1;
        }
        end = k;
    }
    let head = v.w(h).to_lowercase();
    Some(Np::new(
        b,
        end,
        NpKind::Description {
            head,
            proper_owner: false,
            definite,
        },
    ))
}

/// Noun phrase starting at token `b` (after "said" or "according to").
pub(crate) fn forward_np(v: &ParaView<'_>, names: &mut Names, b: usize, e: usize) -> Option<Np> {
    if b >= e || !v.is_word(b) {
        return None;
    }
    let w = v.w(b);
    if let Some(p) = pronoun(w) {
        return Some(Np::new(b, b + 1, NpKind::Pronoun(p)));
    }
    let det = is_determiner(w) && !is_capitalized(w);
    let first = if det { b + 1 } else { b };
    if det && let Some(np) = forward_description(v, b, e) {
        // "said one Caribbean diplomat who …".
        return Some(np);
    }
    if v.cap(first) {
        let end = run_forward(v, first, e);
        let ent = names.analyze_run(&words(v, first, end));
        let mut np = Np::new(b, end, NpKind::Named(ent));
        // "said Koo Min-ji, the ministry's spokeswoman": remember the role.
        if v.is_punct(end, ',') {
            let stop = (end + 1..e.min(end + 10))
                .find(|&k| !v.is_word(k))
                .unwrap_or(e.min(end + 10));
            np.roles = Some((end + 1, stop));
        }
        return Some(np);
    }
    // A description: up to a few words, ending before punctuation or "of".
    let mut k = first;
    let mut proper_owner = false;
    while k < e && k - first < 5 && v.is_word(k) {
        let x = v.w(k);
        if is_name_connector(x) || is_clause_joint(x) || v.cue_at(k).is_some() {
            break;
        }
        proper_owner |= is_possessive(x) && is_capitalized(x);
        k += 1;
    }
    if k == first {
        return None;
    }
    // "said a spokeswoman, Tara Quinn": the name in apposition wins.
    if v.is_punct(k, ',') && v.cap(k + 1) {
        let end = run_forward(v, k + 1, e);
        if let Some(ent) = names.analyze_run(&words(v, k + 1, end))
            && ent.kind == EntKind::Person
        {
            let mut np = Np::new(b, end, NpKind::Named(Some(ent)));
            np.roles = Some((b, k));
            return Some(np);
        }
    }
    let head = strip_possessive(v.w(k - 1)).to_lowercase();
    Some(Np::new(
        b,
        k,
        NpKind::Description {
            head,
            proper_owner,
            definite: det && matches!(w, "the"),
        },
    ))
}

/// Nearest subject-position pronoun or name before `c` in its sentence.
pub(crate) fn clause_subject(
    v: &ParaView<'_>,
    names: &mut Names,
    c: usize,
    s: usize,
) -> Option<Np> {
    let lo = s.max(c.saturating_sub(SUBJECT_WINDOW));
    let mut k = c;
    while k > lo {
        k -= 1;
        if !v.is_word(k) {
            continue;
        }
        let w = v.w(k);
        if pronoun(w).is_some() && v.subject_position(k, s) {
            return backward_np(v, names, k, s);
        }
        if v.cap(k) && !v.cap(k + 1) {
            let start = run_backward(v, k, s);
            let det = start > s && is_determiner(v.w(start - 1));
            let adverb = start == s && k == s && v.is_punct(k + 1, ',');
            if is_possessive(v.w(k)) && v.subject_position(start, s) {
                // "Russia's defence ministry has published …".
                let head = (k + 1..(k + 4).min(c)).find(|&h| {
                    let x = v.w(h);
                    ORG_NOUNS.contains(x) || PERSON_ROLES.contains(x) || GROUP_ROLES.contains(x)
                });
                if let Some(h) = head {
                    return backward_np(v, names, h, s);
                }
            }
            if !det && !adverb && v.subject_position(start, s) {
                let np = backward_np(v, names, k, s);
                if matches!(
                    np,
                    Some(Np {
                        kind: NpKind::Named(Some(_)),
                        ..
                    })
                ) {
                    return np;
                }
            }
            k = start;
        }
    }
    None
}

/// Turns a subject phrase into an attribution, resolving references and
/// recording the speaker as the latest mention.
pub(crate) fn np_subject(v: &ParaView<'_>, names: &mut Names, np: Np, subject: bool) -> Subj {
    names.sentence = v.pos(v.sentence(np.start).0);
    let mention = Some(v.slice(np.start, np.end)).filter(|m| !m.is_empty());
    let roles = np.roles.map(|(a, b)| v.slice(a, b)).unwrap_or_default();
    let pos = v.pos(np.start);
    let para = v.para;
    let found = |r: Option<(String, f32)>| r.map_or((None, 0.0), |(n, c)| (Some(n), c));
    let (speaker, confidence) = match &np.kind {
        NpKind::Pronoun(p) => {
            let (s, _) = v.sentence(np.start);
            found(names.resolve_pronoun(p, pos, para, v.pos(s)))
        }
        NpKind::Named(Some(e)) => {
            names.push_mention(pos, para, e, subject, &roles);
            let c = match (e.kind, e.via_alias) {
                (EntKind::Person, false) => 0.95,
                (EntKind::Person, true) | (EntKind::Org, _) => 0.9,
                (EntKind::Unknown, _) => 0.8,
            };
            (Some(e.name.clone()), c)
        }
        NpKind::Named(None) => {
            // A bare title: "the Foreign Minister said".
            let desc = strip_determiner(mention.as_deref().unwrap_or(""));
            let head = v.w(np.end.saturating_sub(1)).to_string();
            match names.resolve_description(&desc, &head, pos) {
                Some((n, c)) => (Some(n), c),
                None => (Some(desc), 0.5),
            }
        }
        NpKind::Description {
            head,
            proper_owner,
            definite,
        } => {
            let desc = strip_determiner(mention.as_deref().unwrap_or(""));
            let org = ORG_NOUNS.contains(head.as_str()) || GROUP_ROLES.contains(head.as_str());
            let kind = if org { EntKind::Org } else { EntKind::Person };
            if STATEMENT_NOUNS.contains(head.as_str()) {
                // "the statement said": whoever issued it.
                found(names.latest_agent(pos, para))
            } else if *definite && let Some((n, c)) = names.resolve_description(&desc, head, pos) {
                names.push_mention(pos, para, &Entity::new(kind, n.clone()), subject, "");
                (Some(n), c)
            } else if *proper_owner || !desc.is_empty() {
                // Unnamed but described: the description is the speaker.
                names.push_mention(pos, para, &Entity::new(kind, desc.clone()), subject, &roles);
                (Some(desc), if *proper_owner { 0.7 } else { 0.5 })
            } else {
                (None, 0.0)
            }
        }
    };
    Subj {
        start: np.start,
        attr: Attribution {
            speaker,
            mention,
            cue: None,
            confidence,
        },
    }
}

/// "the rebel delegation" -> "rebel delegation"; "One person" -> "person".
pub(crate) fn strip_determiner(s: &str) -> String {
    let s = s.trim();
    for d in [
        "the ", "The ", "a ", "A ", "an ", "An ", "one ", "One ", "another ", "Another ", "some ",
        "Some ",
    ] {
        if let Some(rest) = s.strip_prefix(d) {
            return rest.trim().to_string();
        }
    }
    s.to_string()
}
