//! Direct-quotation extraction and speaker attribution for news articles.
//!
//! Rules only, linear in the input:
//! - [`scan`] splits paragraphs and pairs quotation marks;
//! - [`tokens`] tokenises the writer's text and finds sentences;
//! - [`phrases`] reads reporting cues and the noun phrases around them;
//! - [`attribute`] decides which cue each quotation belongs to;
//! - [`names`] resolves surnames, pronouns and descriptions to speakers;
//! - [`kind`] tells full and partial statements from scare quotes;
//! - [`lexicon`] holds the word lists.

mod attribute;
mod kind;
mod lexicon;
mod names;
mod phrases;
mod scan;
mod tokens;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuoteKind {
    Full,
    Partial,
    Term,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quote {
    /// Words inside the marks; pieces over paragraphs joined by one space.
    pub text: String,
    /// UTF-8 byte ranges `[start, end)` of each piece inside the marks.
    pub spans: Vec<(usize, usize)>,
    /// Full name as first introduced, or the organisation/country as named.
    pub speaker: Option<String>,
    /// The speaker as written at the attribution ("he", "Novak").
    pub speaker_mention: Option<String>,
    /// Reporting verb as written ("said", "according to").
    pub cue: Option<String>,
    pub kind: QuoteKind,
    /// 0-based index of the paragraph where the quote opens.
    pub paragraph: usize,
    /// 0..1; lower for guesses, 0 when there is no speaker.
    pub confidence: f32,
}

impl Quote {
    /// Everything but scare quotes and titles.
    pub fn is_statement(&self) -> bool {
        self.kind != QuoteKind::Term
    }
}

/// Extraction settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extractor {
    /// Quotations of at most this many words are terms (scare quotes).
    pub max_term_words: usize,
}

impl Default for Extractor {
    fn default() -> Self {
        Extractor { max_term_words: 2 }
    }
}

impl Extractor {
    /// All quotations in reading order. Never panics; linear in the input.
    pub fn extract(&self, text: &str) -> Vec<Quote> {
        let paras = scan::paragraphs(text);
        let raws = scan::scan(text, &paras);
        let ctxs = attribute::attribute(text, &paras, &raws);
        raws.into_iter()
            .zip(ctxs)
            .map(|(mut r, ctx)| {
                let joined = |spans: &[(usize, usize)]| {
                    spans
                        .iter()
                        .map(|&(s, e)| text.get(s..e).unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let kind = kind::classify(&joined(&r.spans), &ctx, self.max_term_words);
                // In a fragment, a comma inside the closing mark is the
                // writer's punctuation (`called the offer "a good start," but`).
                if kind != QuoteKind::Full
                    && !ctx.trailing
                    && let Some(last) = r.spans.last_mut()
                    && text.get(last.0..last.1).is_some_and(|t| t.ends_with(','))
                {
                    last.1 -= 1;
                }
                let text_out = joined(&r.spans);
                let a = ctx.attribution;
                Quote {
                    text: text_out,
                    spans: r.spans,
                    speaker: a.speaker,
                    speaker_mention: a.mention,
                    cue: a.cue,
                    kind,
                    paragraph: r.para,
                    confidence: a.confidence,
                }
            })
            .collect()
    }
}

/// All quotations in `text`, in reading order, with default settings.
pub fn extract(text: &str) -> Vec<Quote> {
    Extractor::default().extract(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Quote {
        let qs = extract(text);
        assert_eq!(qs.len(), 1, "{qs:#?}");
        qs.into_iter().next().unwrap_or_else(|| unreachable!())
    }

    fn speakers(text: &str) -> Vec<Option<String>> {
        extract(text).into_iter().map(|q| q.speaker).collect()
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn every_mark_shape() {
        for t in [
            "Anna Berg said, \"We will stay here.\"",
            "Anna Berg said, “We will stay here.”",
            "Anna Berg said, ‘We will stay here.’",
            "Anna Berg said, 'We will stay here.'",
            "Anna Berg said, «We will stay here.»",
            "Anna Berg said, ‹We will stay here.›",
            "Anna Berg said, „We will stay here.“",
            "Anna Berg said, “We will stay here.\"",
            "Anna Berg said, ‘We will stay here.'",
        ] {
            let q = one(t);
            assert_eq!(q.text, "We will stay here.", "{t}");
            assert_eq!(q.speaker, s("Anna Berg"), "{t}");
            assert_eq!(q.kind, QuoteKind::Full, "{t}");
        }
        let q = one("Anna Berg said the plan would 「绝不承诺放弃使用武力」 today.");
        assert_eq!(q.kind, QuoteKind::Partial);
        assert_eq!(
            one("他说『我们会留下来的朋友们』。").text,
            "我们会留下来的朋友们"
        );
    }

    #[test]
    fn apostrophes_are_never_marks() {
        let t = "Russia's envoy didn't say much about the '90s, Novak's' (sic) view, rock 'n' roll or the students' union, ’tis said.";
        assert!(extract(t).is_empty());
    }

    #[test]
    fn quote_over_paragraphs_is_one_with_two_spans() {
        let t = "Anna Berg said the talks were \"going well, all things considered.\n\n\"We expect more next week,\" she added.";
        let q = one(t);
        assert_eq!(q.spans.len(), 2);
        assert_eq!(
            q.text,
            "going well, all things considered. We expect more next week,"
        );
        assert_eq!(q.speaker, s("Anna Berg"));
        assert_eq!(q.paragraph, 0);
    }

    #[test]
    fn split_quote_gives_two_attributed_quotes() {
        let t = "Tom Hale spoke first.\n\n\"The first part is here,\" he said. \"The second part is there.\"";
        let qs = extract(t);
        assert_eq!(qs.len(), 2);
        assert!(qs.iter().all(|q| q.speaker == s("Tom Hale")));
        assert!(qs.iter().all(|q| q.kind == QuoteKind::Full));
    }

    #[test]
    fn partial_and_reported_speech() {
        let q = one("Norway said Friday it saw \"a narrow window for progress\" before the vote.");
        assert_eq!(
            (q.kind, q.speaker.as_deref()),
            (QuoteKind::Partial, Some("Norway"))
        );
        let q = one(
            "Foreign Minister Ivo Brandl called the offer \"a decent first draft,\" but talks go on.",
        );
        assert_eq!(q.text, "a decent first draft");
        assert_eq!(q.speaker, s("Ivo Brandl"));
    }

    #[test]
    fn nested_quote_is_part_of_the_outer_one() {
        let q = one("“They called it ‘a provocation’ yesterday,” she said.");
        assert_eq!(q.text, "They called it ‘a provocation’ yesterday,");
    }

    #[test]
    fn stray_marks_recover_at_paragraph_end() {
        let t = "A stray \" mark and an \"unclosed quote here.\n\nLena Roth said, \"This one is fine.\"";
        let q = one(t);
        assert_eq!(q.text, "This one is fine.");
        assert_eq!(q.paragraph, 1);
    }

    #[test]
    fn short_quotes_are_terms() {
        let q = one("Moscow calls it a \"special operation\" in every statement.");
        assert_eq!(q.kind, QuoteKind::Term);
        assert!(!q.is_statement());
        let q = one("\"No,\" Lena Roth said.");
        assert!(q.is_statement());
    }

    #[test]
    fn attribution_positions_and_cues() {
        let intro = "Petra Novak arrived in Paris on Monday.\n\n";
        for (tail, cue) in [
            ("\"We are ready to talk,\" Novak said.", "said"),
            ("\"We are ready to talk,\" said Novak.", "said"),
            (
                "\"We are ready to talk,\" he told reporters Thursday.",
                "told",
            ),
            (
                "Novak wrote on Telegram: \"We are ready to talk.\"",
                "wrote",
            ),
            (
                "Novak agreed on Twitter, saying, \"We are ready to talk.\"",
                "saying",
            ),
            ("Novak said: \"We are ready to talk.\"", "said"),
            ("\"We are ready to talk,\" she added.", "added"),
        ] {
            let q = one(&format!("{intro}{tail}"));
            assert_eq!(q.speaker, s("Petra Novak"), "{tail}");
            assert_eq!(q.cue.as_deref(), Some(cue), "{tail}");
        }
    }

    #[test]
    fn titles_and_appositions() {
        for (t, who) in [
            (
                "Czech Foreign Minister Petra Novak said, \"We stay calm here.\"",
                "Petra Novak",
            ),
            (
                "Her spokesman, Pavel Orlov, said, \"We stay calm here.\"",
                "Pavel Orlov",
            ),
            (
                "Gen. Mohammad Bagheri, Iran's joint chief of staff, told mourners, \"We stay calm here.\"",
                "Mohammad Bagheri",
            ),
            (
                "\"We stay calm here,\" U.S. Ambassador to the U.N. Maria Olsen-Berg said Monday in a statement.",
                "Maria Olsen-Berg",
            ),
            (
                "The truce held, according to Ivan Sokol, the ministry's envoy.\n\n\"We stay calm here,\" he said.",
                "Ivan Sokol",
            ),
            ("\"We stay calm here,\" the Pentagon said.", "Pentagon"),
            ("NATO said, \"We stay calm here.\"", "NATO"),
            (
                "\"We stay calm here,\" said Gen. Mohammad Bagheri, Iran's joint chief of staff.",
                "Mohammad Bagheri",
            ),
        ] {
            assert_eq!(speakers(t), vec![s(who)], "{t}");
        }
    }

    #[test]
    fn organisations_and_descriptions() {
        let t = "Russia's Foreign Ministry issued a note.\n\nIn a statement, the ministry said, \"We reject the claims made.\"";
        assert_eq!(speakers(t), vec![s("Foreign Ministry")]);
        let t = "\"We reject the claims made,\" according to the ministry.";
        assert_eq!(one(t).cue.as_deref(), Some("according to"));
        let t = "\"We reject the claims made,\" a senior European diplomat said.";
        assert_eq!(speakers(t), vec![s("senior European diplomat")]);
    }

    #[test]
    fn surnames_and_pronouns_resolve_back() {
        let t = "Oskar Lind met reporters.\n\n\"Nothing has moved today,\" Lind said.\n\n\"We will wait and see,\" he added.";
        assert_eq!(speakers(t), vec![s("Oskar Lind"), s("Oskar Lind")]);
        let qs = extract(t);
        assert!(qs.iter().all(|q| q.confidence > 0.0 && q.confidence < 1.0));
        assert!(qs[1].confidence < qs[0].confidence, "a pronoun is a guess");
    }

    #[test]
    fn no_attribution_means_no_speaker() {
        let q = one("The weather was cold.\n\n\"Nobody expected this at all.\"");
        assert_eq!(q.speaker, None);
        assert_eq!(q.confidence, 0.0);
    }

    #[test]
    fn spans_are_byte_offsets_inside_the_marks() {
        let t = "Zoë Ködel said, «Ça va très bien.»";
        let q = one(t);
        let (a, b) = q.spans[0];
        assert_eq!(&t[a..b], "Ça va très bien.");
        assert_eq!(q.speaker, s("Zoë Ködel"));
    }

    #[test]
    fn serde_kind_is_lowercase() {
        let q = one("Anna Berg said, \"We will stay here.\"");
        let json = serde_json::to_string(&q).unwrap_or_default();
        assert!(json.contains("\"kind\":\"full\""), "{json}");
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use std::time::Instant;

    fn fixtures_mib() -> String {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/articles");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "txt"));
        files.sort();
        let mut out = String::new();
        while out.len() < 1 << 20 {
            for f in &files {
                out.push_str(&std::fs::read_to_string(f).unwrap_or_default());
                out.push_str("\n\n");
            }
        }
        out
    }

    /// Timings of the inputs that used to be quadratic:
    /// `cargo test --lib quotes::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn time_inputs() {
        let cases: Vec<(&str, String)> = vec![
            ("8k“+8k”", "“".repeat(8_000) + &"”".repeat(8_000)),
            ("50k“+50k”", "“".repeat(50_000) + &"”".repeat(50_000)),
            ("100k alt \"a", "\"a".repeat(100_000)),
            ("20k‘+20k’", "‘".repeat(20_000) + &"’".repeat(20_000)),
            ("10k«‹ nested", "«‹".repeat(10_000) + &"›»".repeat(10_000)),
            ("1MiB fixtures", fixtures_mib()),
            ("said x20k", "said ".repeat(20_000)),
            ("said x40k", "said ".repeat(40_000)),
            (
                "prev-sent 10k",
                "x ".repeat(10_000) + ". " + &"\"ab cd ef\" ".repeat(10_000),
            ),
            (
                "prev-sent 20k",
                "x ".repeat(20_000) + ". " + &"\"ab cd ef\" ".repeat(20_000),
            ),
            (
                "colon 10k",
                "x ".repeat(10_000) + &": \"ab cd ef\" ".repeat(10_000),
            ),
            (
                "colon 20k",
                "x ".repeat(20_000) + &": \"ab cd ef\" ".repeat(20_000),
            ),
        ];
        let only = std::env::var("QUOTES_ONLY").unwrap_or_default();
        let cases: Vec<_> = cases
            .into_iter()
            .filter(|(n, _)| only.is_empty() || n.contains(&only))
            .collect();
        for (name, t) in &cases {
            let t0 = Instant::now();
            let qs = extract(t);
            println!(
                "{name:<16} {:>9} B  {:>6} quotes  {:?}",
                t.len(),
                qs.len(),
                t0.elapsed()
            );
        }
    }
}
