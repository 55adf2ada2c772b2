//! Names and coreference: what a capitalised run denotes (person,
//! organisation, place), the registry of full names introduced so far, and
//! resolution of surnames, pronouns and descriptions to them.

use std::collections::HashMap;

use super::lexicon::{
    COMPANY_HEADS, NATIONALITIES, NON_NAME, ORG_HEADS, PLACES, TITLES, is_determiner,
    is_name_connector,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntKind {
    Person,
    Org,
    /// A lone capitalised word never introduced in full (maybe a surname).
    Unknown,
}

/// What a subject or name run denotes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entity {
    pub kind: EntKind,
    pub name: String,
    /// Resolved through an earlier full name (surname back-reference).
    pub via_alias: bool,
    /// Title words written before the name ("Defence Minister").
    pub title: String,
}

impl Entity {
    pub(crate) fn new(kind: EntKind, name: String) -> Self {
        Entity {
            kind,
            name,
            via_alias: false,
            title: String::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Mention {
    pos: usize,
    para: usize,
    kind: EntKind,
    name: String,
    name_lc: String,
    /// Roles the text gave this entity, lowercased ("chief of staff").
    roles: String,
    /// In subject position: preferred antecedent for pronouns.
    subject: bool,
    /// Byte offset of the sentence the mention is in.
    sentence: usize,
}

/// Article-wide name state, filled in reading order.
#[derive(Debug, Default)]
pub(crate) struct Names {
    aliases: HashMap<String, String>,
    mentions: Vec<Mention>,
    /// While set, new full names are not registered (headlines).
    pub frozen: bool,
    /// Start of the sentence being read; stamped on new mentions.
    pub sentence: usize,
}

/// Paragraph distance beyond which a pronoun is not resolved.
const PRONOUN_REACH: usize = 3;
/// How many mentions to look back at most (keeps resolution O(1)).
const LOOKBACK: usize = 80;

pub(crate) fn strip_possessive(w: &str) -> &str {
    for suf in ["'s", "’s", "'", "’"] {
        if let Some(s) = w.strip_suffix(suf)
            && !s.is_empty()
        {
            return s;
        }
    }
    w
}

pub(crate) fn is_possessive(w: &str) -> bool {
    w.ends_with("'s") || w.ends_with("’s") || w.ends_with("s'") || w.ends_with("s’")
}

fn is_acronym(w: &str) -> bool {
    let letters: Vec<char> = w.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase())
}

fn is_dotted(w: &str) -> bool {
    w.trim_end_matches('.').contains('.')
}

fn is_function_word(w: &str) -> bool {
    is_determiner(w)
        || matches!(
            w.to_lowercase().as_str(),
            "in" | "on"
                | "at"
                | "but"
                | "and"
                | "or"
                | "so"
                | "as"
                | "after"
                | "before"
                | "while"
                | "when"
                | "if"
                | "by"
                | "for"
                | "from"
                | "with"
                | "to"
                | "of"
                | "about"
                | "during"
                | "meanwhile"
                | "however"
                | "also"
                | "then"
                | "asked"
                | "according"
                | "although"
                | "though"
                | "because"
                | "since"
                | "amid"
                | "despite"
                | "under"
                | "over"
                | "without"
                | "still"
                | "yet"
                | "now"
        )
}

/// A token that can be part of a person's name.
fn name_like(w: &str) -> bool {
    let w = strip_possessive(w);
    super::tokens::is_capitalized(w)
        && w.chars().any(char::is_lowercase)
        && !w.chars().any(|c| c.is_ascii_digit())
        && !w.contains('.')
        && !NON_NAME.contains(w)
        && !TITLES.contains(w)
        && !ORG_HEADS.contains(w)
        && !PLACES.contains(w)
        && !NATIONALITIES.contains(w)
}

/// A token that ends a title prefix ("Foreign Minister", "U.S.", "Iran's").
fn is_prefix_word(w: &str) -> bool {
    TITLES.contains(w)
        || NATIONALITIES.contains(w)
        || ORG_HEADS.contains(w)
        || PLACES.contains(strip_possessive(w))
        || is_name_connector(w)
        || is_dotted(w)
        || is_acronym(w)
        || is_possessive(w)
        || NON_NAME.contains(w)
}

impl Names {
    /// Interprets a run of capitalised words (connectors allowed inside).
    pub(crate) fn analyze_run(&mut self, run: &[&str]) -> Option<Entity> {
        let mut t: &[&str] = run;
        while let Some((first, rest)) = t.split_first() {
            if is_function_word(first) {
                t = rest;
            } else {
                break;
            }
        }
        // "South Korea's Joint Chiefs of Staff" -> the part after the owner.
        if let Some(p) = t
            .iter()
            .take(t.len().saturating_sub(1))
            .rposition(|w| is_possessive(w))
        {
            t = t.get(p + 1..).unwrap_or(&[]);
        }
        let owned: Vec<&str> = t.iter().map(|w| strip_possessive(w)).collect();
        let t = owned.as_slice();
        let (&last, &first) = (t.last()?, t.first()?);
        let person = |name: String, via_alias: bool, cut: usize| Entity {
            kind: EntKind::Person,
            name,
            via_alias,
            title: t.get(..cut).unwrap_or(&[]).join(" "),
        };
        if ORG_HEADS.contains(last) || (ORG_HEADS.contains(first) && t.get(1) == Some(&"of")) {
            return Some(self.org(t));
        }
        let cut = t
            .iter()
            .rposition(|w| is_prefix_word(w))
            .map_or(0, |p| p + 1);
        let suffix = t.get(cut..).unwrap_or(&[]);
        let all_names = !suffix.is_empty() && suffix.iter().all(|w| name_like(w));
        if all_names && suffix.len() >= 2 && suffix.len() <= 4 {
            let full = suffix.join(" ");
            if let Some(known) = self.aliases.get(&full.to_lowercase()) {
                return Some(person(known.clone(), true, cut));
            }
            self.register(&full);
            return Some(person(full, false, cut));
        }
        if all_names && suffix.len() == 1 {
            let w = suffix.first().copied().unwrap_or_default();
            if let Some(full) = self.aliases.get(&w.to_lowercase()) {
                return Some(person(full.clone(), true, cut));
            }
            // "President Putin": a real title makes a lone word a person.
            let titled = cut > 0 && t.get(cut - 1).is_some_and(|p| TITLES.contains(p));
            if titled {
                return Some(person(w.to_string(), false, cut));
            }
            return Some(Entity::new(EntKind::Unknown, w.to_string()));
        }
        if suffix.is_empty() && t.iter().all(|w| TITLES.contains(w) || is_name_connector(w)) {
            return None; // a bare title ("the Foreign Minister"): a description
        }
        if t.len() == 1 && NON_NAME.contains(first) {
            return None;
        }
        Some(self.org(t))
    }

    fn org(&self, t: &[&str]) -> Entity {
        // "U.S. State Department" -> "State Department"; keep "U.S." alone.
        let mut t = t;
        while t.len() > 1
            && t.first()
                .is_some_and(|w| is_dotted(w) || *w == "the" || *w == "The")
        {
            t = t.get(1..).unwrap_or(&[]);
        }
        Entity::new(EntKind::Org, t.join(" "))
    }

    /// Records a person's full name; later surnames or given names map to it.
    fn register(&mut self, full: &str) {
        if self.frozen {
            return;
        }
        let lc = full.to_lowercase();
        self.aliases
            .entry(lc.clone())
            .or_insert_with(|| full.to_string());
        let parts: Vec<&str> = lc.split(' ').collect();
        if let Some(last) = parts.last() {
            self.aliases
                .entry((*last).to_string())
                .or_insert_with(|| full.to_string());
        }
        // Family-name-first names (Korean, Chinese): "Han" for "Han Seo-yeon".
        if let Some(first) = parts.first() {
            self.aliases
                .entry((*first).to_string())
                .or_insert_with(|| full.to_string());
        }
    }

    /// Records a mention; `roles` is free text describing the entity.
    pub(crate) fn push_mention(
        &mut self,
        pos: usize,
        para: usize,
        e: &Entity,
        subject: bool,
        roles: &str,
    ) {
        let mut roles = roles.to_lowercase();
        if !e.title.is_empty() {
            roles.push(' ');
            roles.push_str(&e.title.to_lowercase());
        }
        self.mentions.push(Mention {
            pos,
            para,
            kind: e.kind,
            name: e.name.clone(),
            name_lc: e.name.to_lowercase(),
            roles,
            subject,
            sentence: self.sentence,
        });
    }

    fn before(&self, pos: usize) -> impl Iterator<Item = &Mention> {
        let n = self.mentions.partition_point(|m| m.pos < pos);
        self.mentions
            .get(..n)
            .unwrap_or(&[])
            .iter()
            .rev()
            .take(LOOKBACK)
    }

    /// he/she → latest person; it/they → latest organisation or group.
    /// Subjects are preferred over names that were only objects.
    /// A name that was only an object in the pronoun's own sentence
    /// (`sentence_start` onwards) is skipped: "that Krasniqi and Ilić had … she said".
    pub(crate) fn resolve_pronoun(
        &self,
        pronoun: &str,
        pos: usize,
        para: usize,
        sentence_start: usize,
    ) -> Option<(String, f32)> {
        let want_person = matches!(pronoun, "he" | "she");
        // Sentence by sentence, newest first: a sentence's main subject (its
        // earliest subject mention) wins; in earlier sentences any name will
        // do when no subject was named; in the pronoun's own sentence only a
        // subject counts.
        let mut group: Option<usize> = None;
        let mut subject: Option<&Mention> = None;
        let mut latest: Option<&Mention> = None;
        let conf = |m: &Mention| {
            if para.saturating_sub(m.para) <= 1 {
                0.75
            } else {
                0.55
            }
        };
        for m in self.before(pos) {
            if para.saturating_sub(m.para) > PRONOUN_REACH {
                break;
            }
            let ok = if want_person {
                matches!(m.kind, EntKind::Person | EntKind::Unknown)
            } else {
                m.kind == EntKind::Org
            };
            if !ok {
                continue;
            }
            if group != Some(m.sentence) {
                if let Some(best) = subject.or(latest) {
                    return Some((best.name.clone(), conf(best)));
                }
                group = Some(m.sentence);
            }
            if m.subject {
                subject = Some(m);
            }
            if latest.is_none() && m.sentence < sentence_start {
                latest = Some(m);
            }
        }
        subject.or(latest).map(|m| (m.name.clone(), conf(m)))
    }

    /// "the union" → the latest entity whose name or stated role contains
    /// the description; "the company" → the latest company.
    pub(crate) fn resolve_description(
        &self,
        desc: &str,
        head: &str,
        pos: usize,
    ) -> Option<(String, f32)> {
        let desc = desc.to_lowercase();
        let head = head.to_lowercase();
        let company = matches!(head.as_str(), "company" | "firm" | "group");
        self.before(pos)
            .find(|m| {
                m.name_lc != desc
                    && (m.name_lc.contains(&desc)
                        || m.roles.contains(&desc)
                        || (company
                            && m.kind == EntKind::Org
                            && m.name
                                .rsplit(' ')
                                .next()
                                .is_some_and(|w| COMPANY_HEADS.contains(w))))
            })
            .map(|m| (m.name.clone(), 0.6))
    }

    /// The latest entity in subject position (who issued "the statement").
    pub(crate) fn latest_agent(&self, pos: usize, para: usize) -> Option<(String, f32)> {
        self.before(pos)
            .take_while(|m| para.saturating_sub(m.para) <= 1)
            .find(|m| m.subject)
            .map(|m| (m.name.clone(), 0.5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(names: &mut Names, s: &str) -> Option<(EntKind, String)> {
        let words: Vec<&str> = s.split(' ').collect();
        names.analyze_run(&words).map(|e| (e.kind, e.name))
    }

    #[test]
    fn titles_and_orgs() {
        let mut n = Names::default();
        let p = |s: &str| Some((EntKind::Person, s.to_string()));
        let o = |s: &str| Some((EntKind::Org, s.to_string()));
        assert_eq!(
            run(&mut n, "Czech Foreign Minister Petra Novak"),
            p("Petra Novak")
        );
        assert_eq!(run(&mut n, "Novak"), p("Petra Novak"));
        assert_eq!(
            run(&mut n, "U.S. Ambassador to the U.N. Maria Olsen-Berg"),
            p("Maria Olsen-Berg")
        );
        assert_eq!(
            run(&mut n, "Secretary of State Ann Weller"),
            p("Ann Weller")
        );
        assert_eq!(run(&mut n, "Gen. Mohammad Bagheri"), p("Mohammad Bagheri"));
        assert_eq!(
            run(&mut n, "South Korea's Joint Chiefs of Staff"),
            o("Joint Chiefs of Staff")
        );
        assert_eq!(run(&mut n, "U.S. State Department"), o("State Department"));
        assert_eq!(
            run(&mut n, "Ministry of National Defense"),
            o("Ministry of National Defense")
        );
        assert_eq!(run(&mut n, "Russia"), o("Russia"));
        assert_eq!(run(&mut n, "NATO"), o("NATO"));
        assert_eq!(run(&mut n, "United States"), o("United States"));
        assert_eq!(run(&mut n, "Orlov").map(|x| x.0), Some(EntKind::Unknown));
        assert_eq!(run(&mut n, "The"), None);
    }

    #[test]
    fn pronouns_and_descriptions() {
        let mut n = Names::default();
        let kozak = n
            .analyze_run(&["Ivan", "Sokol"])
            .unwrap_or_else(|| unreachable!());
        n.push_mention(10, 0, &kozak, true, "the kremlin's envoy");
        let org = n
            .analyze_run(&["Korean", "Central", "News", "Agency"])
            .unwrap_or_else(|| unreachable!());
        n.push_mention(20, 1, &org, true, "");
        assert_eq!(
            n.resolve_pronoun("he", 30, 1, 0).map(|x| x.0),
            Some("Ivan Sokol".into())
        );
        assert_eq!(
            n.resolve_pronoun("it", 30, 1, 0).map(|x| x.0),
            Some("Korean Central News Agency".into())
        );
        assert_eq!(n.resolve_pronoun("he", 5, 1, 0), None);
        assert_eq!(n.resolve_pronoun("he", 30, 9, 0), None);
        assert_eq!(
            n.resolve_description("agency", "agency", 30).map(|x| x.0),
            Some("Korean Central News Agency".into())
        );
        assert_eq!(
            n.resolve_description("envoy", "envoy", 30).map(|x| x.0),
            Some("Ivan Sokol".into())
        );
        assert_eq!(n.resolve_description("diplomat", "diplomat", 30), None);
    }
}
