//! Robustness properties: `extract` never panics and its spans are always
//! well-formed, whatever the input.

use detente::quotes::{Quote, extract};
use proptest::prelude::*;

/// Checks every structural guarantee of the output for `text`.
fn check(text: &str) -> Vec<Quote> {
    let qs = extract(text);
    let mut last_end = 0;
    for q in &qs {
        assert!(!q.spans.is_empty(), "quote without spans");
        let mut pieces = Vec::new();
        for &(s, e) in &q.spans {
            assert!(
                s <= e && e <= text.len(),
                "span {s}..{e} outside 0..{}",
                text.len()
            );
            assert!(
                text.is_char_boundary(s) && text.is_char_boundary(e),
                "span {s}..{e} splits a char"
            );
            assert!(
                s >= last_end,
                "span {s}..{e} overlaps or precedes {last_end}"
            );
            last_end = e;
            pieces.push(text.get(s..e).unwrap_or_default());
        }
        assert_eq!(q.text, pieces.join(" "));
        assert!(
            (0.0..=1.0).contains(&q.confidence),
            "confidence {}",
            q.confidence
        );
        if q.speaker.is_none() {
            assert_eq!(q.confidence, 0.0);
        }
    }
    qs
}

/// Fragments that stress the scanner: every mark, apostrophes, paragraph
/// breaks, RTL text, zero-width and combining characters, reporting words.
const FRAGMENTS: &[&str] = &[
    "\"",
    "'",
    "“",
    "”",
    "‘",
    "’",
    "«",
    "»",
    "‹",
    "›",
    "„",
    "‚",
    "「",
    "」",
    "『",
    "』",
    "‟",
    "‛",
    " ",
    " ",
    " ",
    "\n",
    "\n\n",
    "\r\n\r\n",
    "  \n \n",
    "\t",
    ",",
    ".",
    ":",
    "—",
    "(",
    ")",
    "?",
    "word",
    "Novak",
    "said",
    "he said",
    "said Novak",
    "according to",
    "the ministry",
    "U.S.",
    "Gen.",
    "don't",
    "Russia's",
    "'90s",
    "rock 'n' roll",
    "students'",
    "’tis",
    "שלום עולם",
    "مرحبا بكم",
    "\u{200B}",
    "\u{200D}",
    "\u{FEFF}",
    "\u{202E}",
    "e\u{301}",
    "日本語の文章",
    "Petra Novak",
    "Her spokesman, Pavel Orlov, said",
    "she added",
    "🙂",
    "\u{0}",
];

fn fragment_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..300).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_unicode_string(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn quote_heavy_fragments(text in fragment_text()) {
        check(&text);
    }

    #[test]
    fn lossy_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn ten_thousand_marks() {
    let marks = ["\"", "“", "”", "‘", "’", "'", "«", "»", "„", "「", "」"];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut text = String::new();
    for i in 0..10_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        text.push_str(marks[(seed % marks.len() as u64) as usize]);
        text.push_str(if i % 7 == 0 {
            " word "
        } else if i % 501 == 0 {
            "\n\n"
        } else {
            "a"
        });
    }
    check(&text);
}

#[test]
fn deep_nesting() {
    let mut text = String::from("He said ");
    for _ in 0..5_000 {
        text.push_str("“‘");
    }
    text.push_str("core words here");
    for _ in 0..5_000 {
        text.push_str("’”");
    }
    text.push_str(" today.");
    let qs = check(&text);
    assert_eq!(qs.len(), 1, "only the outermost quotation is reported");
    // Unbalanced deep nesting must not panic either.
    check(&"“‘".repeat(20_000));
    check(&"’”".repeat(20_000));
}

#[test]
fn continuation_chain_over_many_paragraphs() {
    let text = format!(
        "Lena Roth said: \"{}",
        "One more paragraph.\n\n\"".repeat(2_000)
    );
    let qs = check(&text);
    assert!(qs.len() <= 1);
}

/// Runs `extract` on `text` and fails if it takes longer than a bound that
/// is generous for a debug build: linear inputs of this size take well under
/// a second, the old quadratic pairing took minutes.
fn check_quickly(name: &str, text: &str) -> Vec<Quote> {
    let t0 = std::time::Instant::now();
    let qs = check(text);
    let took = t0.elapsed();
    assert!(
        took < std::time::Duration::from_secs(10),
        "{name}: {} bytes took {took:?}",
        text.len()
    );
    qs
}

#[test]
fn fifty_thousand_nested_marks_are_linear() {
    // Every “ pairs with a ”: 50k nested empty quotes, each once rescanned
    // over its whole span.
    let text = "“".repeat(50_000) + &"”".repeat(50_000);
    assert!(check_quickly("50k“+50k”", &text).is_empty());
    let text = "He said “".to_string()
        + &"“".repeat(50_000)
        + "core words"
        + &"”".repeat(50_000)
        + "” today.";
    assert_eq!(check_quickly("50k nested with words", &text).len(), 1);
}

#[test]
fn a_mebibyte_of_quote_marks_is_linear() {
    const MIB: usize = 1 << 20;
    let patterns: [(&str, &str); 5] = [
        ("“", "”"),
        ("«‹", "›»"),
        ("‘", "’"),
        ("„", "“"),
        ("「『", "』」"),
    ];
    for (open, close) in patterns {
        let n = MIB / (open.len() + close.len());
        let text = open.repeat(n) + &close.repeat(n);
        check_quickly(&format!("{open}…{close}"), &text);
    }
    // Mixed marks, words and the occasional paragraph break.
    let marks = [
        "\"", "“", "”", "‘", "’", "'", "«", "»", "‹", "›", "„", "「", "」",
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut text = String::with_capacity(MIB + 64);
    while text.len() < MIB {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        text.push_str(marks[(seed % marks.len() as u64) as usize]);
        match seed % 97 {
            0 => text.push_str("\n\n"),
            1..=10 => text.push_str(" said "),
            11..=20 => text.push('a'),
            _ => {}
        }
    }
    check_quickly("mixed", &text);
    let text = "\"a".repeat(MIB / 2);
    check_quickly("alternating \"a", &text);
}

#[test]
fn long_sentences_around_quotes_are_linear() {
    // Per-quote or per-cue scans back to the sentence start used to be
    // quadratic in the sentence length.
    let n = 60_000;
    check_quickly("cues", &"said ".repeat(4 * n));
    let text = "x ".repeat(n) + ". " + &"\"ab cd ef\" ".repeat(n);
    assert_eq!(check_quickly("after a long sentence", &text).len(), n);
    let text = "x ".repeat(n) + &": \"ab cd ef\" ".repeat(n);
    assert_eq!(check_quickly("after colons", &text).len(), n);
}
