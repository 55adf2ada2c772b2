//! `detente analyze` as a person runs it on a folder of mixed inputs: good
//! articles (one nested), an HTML page, an empty file and a binary file. Every
//! format is checked, and so is the exit code: 1, because the binary file
//! fails while the others are still analyzed.
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::server::{json_lines, stderr};
use serde_json::Value;

/// The binary, with the terminal width left to the default.
fn detente() -> Command {
    let mut cmd = common::server::detente();
    cmd.env_remove("COLUMNS");
    cmd
}

fn run(args: &[&str], dir: &Path) -> Output {
    detente()
        .args(args)
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run detente")
}

// Fictional reports, written for these tests.
const HARBOR: &str = "\
Dock Workers and Port Owners Trade Threats as Strike Deadline Nears

The dispute at the port of Calderra deepened on Thursday as the dock workers' union set a strike date.

\"If the owners cut one more shift, we will shut every crane on the waterfront,\" said Marta Ilves, who leads the union. \"Nobody should mistake our patience for weakness.\"

The port authority answered within hours. \"Any blockade will be met with the full force of the law,\" said its director, Piet Sandor.

A mediator, Joana Ferreira, struck a calmer note. \"Both sides have told me they want a settlement, and I believe we can find one this week,\" she said.
";

const SUMMIT: &str = "\
Neighbors Agree to Reopen Border Crossings After Summit

The leaders of Valdera and Ostmark agreed on Monday to reopen three border crossings that have been closed since the spring.

\"We are ready to work with our neighbors on every open question,\" said Valdera's prime minister, Ana Korsak. \"This is the start of a better chapter.\"

Ostmark's president, Emil Hartung, welcomed the step. \"We extend our hand in friendship and hope the crossings will stay open for good,\" Hartung said.
";

/// A saved news page: navigation, a script holding quotation marks, a
/// cookie banner and a footer around the story, whose first quotation runs
/// over two paragraphs (no closing mark at the end of the first).
const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Grain deal | The Daily Example</title>
<script>window.banner = "\"Subscribe now,\" said nobody.";</script>
<style>p { color: #333 }</style></head>
<body>
<nav class="site-nav"><a href="/">Home</a> <a href="/world">World</a> <a href="/markets">Markets</a></nav>
<div class="cookie-consent">"We value your privacy," the site says. <button>Accept</button></div>
<main><article>
<h1>Grain corridor talks resume in Lisbon</h1>
<p>Negotiators returned to the table on Wednesday. &ldquo;We have agreed on the inspection rules, and the insurers have seen the draft,&rdquo; said the trade envoy, Ruth Okonjo. &ldquo;What remains is technical.</p>
<p>&ldquo;The ships can sail again within a month if the insurers come on board,&rdquo; Okonjo said.</p>
<p>Not everyone was convinced. &ldquo;We will block any cargo that crosses our waters without permission,&rdquo; said Admiral Tarek Mansur.</p>
</article>
<aside class="related"><h2>Related</h2><ul><li><a href="/a">"Other story," they said</a></li></ul></aside>
</main>
<footer>&copy; The Daily Example. "All rights reserved."</footer>
</body></html>
"#;

/// The inputs, in a fresh temporary folder.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::write(p.join("harbor.txt"), HARBOR).unwrap();
    std::fs::create_dir(p.join("world")).unwrap();
    std::fs::write(p.join("world/summit.md"), SUMMIT).unwrap();
    std::fs::write(p.join("grain.html"), PAGE).unwrap();
    std::fs::write(p.join("empty.txt"), "").unwrap();
    // A PNG header under an article's name: the kind of file a folder collects.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend((0u8..=255).cycle().take(2048));
    std::fs::write(p.join("scan.txt"), png).unwrap();
    // Not articles: skipped without a word.
    std::fs::write(p.join("notes.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(p.join(".draft.txt"), "\"Hidden,\" said Nobody.").unwrap();
    dir
}

fn id_of(path: &Path, rel: &str) -> String {
    path.join(rel).display().to_string()
}

/// Runs `args` on a fresh [`folder`], checks that only the binary file
/// failed, and returns the folder, the run and its stdout.
fn run_folder(args: &[&str]) -> (tempfile::TempDir, Output, String) {
    let dir = folder();
    let o = run(args, dir.path());
    assert_binary_reported(&o, dir.path());
    let text = String::from_utf8(o.stdout.clone()).expect("UTF-8 stdout");
    (dir, o, text)
}

/// The failure is reported once, with the path and the reason, and is the
/// only line about a failure.
fn assert_binary_reported(o: &Output, dir: &Path) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
    let err = stderr(o);
    let scan = id_of(dir, "scan.txt");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(&scan)).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("detente: ") && lines[0].contains("binary"),
        "{err}"
    );
    for skipped in ["notes.csv", ".draft.txt", "grain.html", "harbor.txt"] {
        assert!(
            !err.contains(&format!("{skipped}:")),
            "{skipped} reported: {err}"
        );
    }
}

fn expected_ids(dir: &Path) -> Vec<String> {
    // Sorted by path, as the walk lists them.
    let mut ids: Vec<String> = ["empty.txt", "grain.html", "harbor.txt", "world/summit.md"]
        .iter()
        .map(|r| id_of(dir, r))
        .collect();
    ids.sort();
    ids
}

fn check_analysis(v: &Value) {
    for key in ["quotes", "tension", "speakers", "id"] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    for q in v["quotes"].as_array().unwrap() {
        for key in ["text", "speaker", "spans", "cue", "label", "scores"] {
            assert!(q.get(key).is_some(), "quote without {key}: {q}");
        }
    }
}

fn by_id<'a>(items: &'a [Value], dir: &Path, rel: &str) -> &'a Value {
    let id = id_of(dir, rel);
    items
        .iter()
        .find(|v| v["id"] == id.as_str())
        .unwrap_or_else(|| panic!("no result for {id}"))
}

#[test]
fn json_analyzes_every_good_input_and_reports_the_binary_one() {
    let (dir, _, text) = run_folder(&["analyze", "--format", "json"]);
    let v: Value = serde_json::from_str(&text).expect("stdout is one JSON document");
    let items = v.as_array().expect("an array for several articles");
    let ids: Vec<String> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, expected_ids(dir.path()));
    items.iter().for_each(check_analysis);

    let empty = by_id(items, dir.path(), "empty.txt");
    assert_eq!(empty["quotes"].as_array().unwrap().len(), 0);
    assert_eq!(empty["tension"]["has_score"], false);

    let harbor = by_id(items, dir.path(), "harbor.txt");
    assert!(harbor["quotes"].as_array().unwrap().len() >= 3);
    assert_eq!(harbor["tension"]["has_score"], true);

    // The HTML page: the story's quotations, with their speakers, and
    // nothing from the script, the cookie banner, the links or the footer.
    let grain = by_id(items, dir.path(), "grain.html");
    let quotes = grain["quotes"].as_array().unwrap();
    let texts: Vec<&str> = quotes.iter().map(|q| q["text"].as_str().unwrap()).collect();
    let all = texts.join(" | ");
    for furniture in ["Subscribe", "privacy", "Other story", "rights reserved"] {
        assert!(!all.contains(furniture), "{furniture} kept: {all}");
    }
    assert!(
        quotes
            .iter()
            .any(|q| q["text"].as_str().unwrap().contains("block any cargo")
                && q["speaker"] == "Tarek Mansur"),
        "{grain}"
    );
    // The quotation left open at the end of a paragraph goes on in the next:
    // one quotation, two spans, which needs the paragraphs kept apart.
    let over = quotes
        .iter()
        .find(|q| {
            q["text"]
                .as_str()
                .unwrap()
                .contains("What remains is technical")
        })
        .unwrap_or_else(|| panic!("{all}"));
    assert!(
        over["text"].as_str().unwrap().contains("ships can sail"),
        "{over}"
    );
    assert_eq!(over["spans"].as_array().unwrap().len(), 2, "{over}");
    assert_eq!(over["speaker"], "Ruth Okonjo", "{over}");
}

#[test]
fn jsonl_prints_one_object_per_analyzed_article() {
    let (dir, o, text) = run_folder(&["analyze", "--format", "jsonl"]);
    let items = json_lines(text.as_bytes());
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected_ids(dir.path()));
    items.iter().for_each(check_analysis);
    // The run's summary goes to stderr, never into the data.
    assert!(
        stderr(&o).contains("4 articles analyzed, 1 failed"),
        "{}",
        stderr(&o)
    );
}

/// Splits one CSV record (RFC 4180 quoting).
fn csv_record(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[test]
fn csv_has_a_header_and_a_row_per_analyzed_article() {
    let (dir, _, text) = run_folder(&["analyze", "--format", "csv"]);
    let rows: Vec<Vec<String>> = text.lines().map(csv_record).collect();
    let header = &rows[0];
    assert_eq!(&header[..4], ["id", "quotations", "statements", "tension"]);
    assert!(rows.iter().all(|r| r.len() == header.len()), "{text}");
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, expected_ids(dir.path()));
    for r in &rows[1..] {
        let quotations: usize = r[1].parse().unwrap();
        if r[0].ends_with("empty.txt") {
            assert_eq!((quotations, r[3].as_str()), (0, ""));
        } else {
            assert!(quotations > 0, "{r:?}");
            let tension: f32 = r[3].parse().unwrap();
            assert!((0.0..=100.0).contains(&tension));
        }
    }
}

#[test]
fn text_shows_every_article_and_a_summary_without_color_when_piped() {
    let (dir, o, text) = run_folder(&["analyze"]);
    assert!(!text.contains('\x1b'), "color escapes in piped output");
    for id in expected_ids(dir.path()) {
        assert!(text.lines().any(|l| l == id), "no heading for {id}");
    }
    assert!(text.contains("Marta Ilves") && text.contains("quotation"));
    assert!(text.contains("4 articles analyzed, 1 failed"), "{text}");
    // No progress bar when stderr is not a terminal.
    assert!(!stderr(&o).contains("eta"), "{}", stderr(&o));
    // Piped text is wrapped at 100 columns.
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 100, "{widest}");
}

#[test]
fn quiet_keeps_failures_but_drops_the_summary() {
    let (_, o, _) = run_folder(&["--quiet", "analyze", "--format", "jsonl"]);
    assert!(!stderr(&o).contains("articles analyzed"), "{}", stderr(&o));
}

fn with_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = detente()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn detente");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn jsonl_input_keeps_ids_and_titles_and_fails_bad_lines_alone() {
    let lines = [
        serde_json::json!({"id": "harbor-1", "title": "Strike looms", "text": HARBOR}).to_string(),
        "{\"id\": \"broken\", \"text\": ".to_string(),
        serde_json::json!({"text": SUMMIT}).to_string(),
    ];
    let o = with_stdin(
        &["analyze", "--jsonl", "--format", "jsonl", "-"],
        lines.join("\n").as_bytes(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("detente: -:2: "), "{}", stderr(&o));
    let items = json_lines(&o.stdout);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], "harbor-1");
    assert_eq!(items[0]["title"], "Strike looms");
    assert_eq!(
        items[1]["id"], "-:3",
        "the line number stands in for a missing id"
    );
    assert!(items[1].get("title").is_none());
}

#[test]
fn declared_encodings_are_decoded_and_undeclared_ones_reported() {
    let dir = tempfile::tempdir().unwrap();
    let latin1 = |s: &str| -> Vec<u8> { s.chars().map(|c| c as u32 as u8).collect() };
    let story = "\"We will talk to anyone who wants peace,\" said Jos\u{e9} Ram\u{ed}rez, the mayor of Sant Mart\u{ed}.";
    let page = format!(
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"></head><body><p>{story}</p></body></html>"
    );
    std::fs::write(dir.path().join("declared.html"), latin1(&page)).unwrap();
    let undeclared = dir.path().join("undeclared.txt");
    std::fs::write(&undeclared, latin1(story)).unwrap();
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend(story.as_bytes());
    std::fs::write(dir.path().join("bom.txt"), bom).unwrap();

    let o = run(&["analyze", "--format", "jsonl"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}: not UTF-8", undeclared.display())),
        "{err}"
    );
    let items = json_lines(&o.stdout);
    assert_eq!(items.len(), 2);
    for v in &items {
        assert_eq!(v["quotes"][0]["speaker"], "Jos\u{e9} Ram\u{ed}rez", "{v}");
    }

    // Told the encoding, the undeclared file reads too.
    let o = detente()
        .args(["analyze", "--format", "json", "--encoding", "latin1"])
        .arg(&undeclared)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["quotes"][0]["speaker"], "Jos\u{e9} Ram\u{ed}rez");
}

#[test]
fn a_folder_without_articles_is_a_failure_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.csv"), "x\n").unwrap();
    let o = run(&["analyze", "--format", "json"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no articles"), "{}", stderr(&o));
}

#[test]
fn every_subcommand_help_has_examples() {
    for sub in [
        "analyze",
        "classify",
        "extract",
        "info",
        "serve",
        "train",
        "eval",
        "completions",
    ] {
        let o = detente().args([sub, "--help"]).output().unwrap();
        assert!(o.status.success(), "{sub}");
        let help = String::from_utf8(o.stdout.clone()).unwrap();
        assert!(help.contains("Examples:"), "{sub} --help has no examples");
    }
    let o = detente().args(["analyze", "--help"]).output().unwrap();
    let help = String::from_utf8(o.stdout.clone()).unwrap();
    for needle in ["--jsonl", "--encoding", "Exit status"] {
        assert!(help.contains(needle), "analyze --help lacks {needle}");
    }
}

#[test]
fn man_page_and_completions_come_from_the_same_definitions() {
    let o = detente().arg("man").output().unwrap();
    assert!(o.status.success());
    let man = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(
        man.starts_with(".ie") || man.contains(".TH detente"),
        "{man}"
    );
    for sub in ["analyze", "classify", "extract", "serve"] {
        assert!(man.contains(sub), "man page lacks {sub}");
    }
    // Hidden: `man` is for packagers, not the everyday help.
    let o = detente().arg("--help").output().unwrap();
    let help = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(!help.lines().any(|l| l.trim_start().starts_with("man ")));

    for shell in ["bash", "zsh", "fish"] {
        let o = detente().args(["completions", shell]).output().unwrap();
        assert!(o.status.success(), "{shell}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("analyze"));
    }
}

#[test]
fn usage_errors_exit_2_with_a_hint() {
    for args in [
        &["analyze"][..],
        &["analyze", "--format", "yaml", "x.txt"],
        &["analyze", "--encoding", "klingon", "x.txt"],
        &["frobnicate"],
    ] {
        let o = detente().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.starts_with("error:") && (err.contains("Usage") || err.contains("--help")),
            "{args:?}: {err}"
        );
    }
}
