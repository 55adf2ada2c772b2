//! Reading articles for the CLI: files, directories, stdin and JSON Lines.
//! HTML pages are reduced to their article text and declared encodings are
//! decoded. A bad input is reported on its own and never stops the others.
use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

use encoding_rs::{Encoding, UTF_8};
use scraper::{ElementRef, Html, Node};
use serde::Deserialize;

/// Extensions picked up when walking a directory.
const ARTICLE_EXTENSIONS: &[&str] = &["txt", "md", "markdown", "html", "htm", "xhtml"];
/// Larger files are not articles (and would be read whole into memory).
const MAX_FILE_BYTES: u64 = 32 << 20;

/// One input article.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub id: String,
    /// From a JSON Lines record, when it has one.
    pub title: Option<String>,
    pub text: String,
}

/// An input that could not be read, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub source: String,
    pub reason: String,
}

impl Failure {
    fn new(source: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            reason: reason.into(),
        }
    }
}

/// How inputs are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Every input is JSON Lines, not only `*.jsonl` files.
    pub jsonl: bool,
    /// Assumed for inputs that declare no encoding (no BOM, no meta charset).
    pub encoding: Option<&'static Encoding>,
}

/// Parses an `--encoding` label (WHATWG names: latin1, windows-1251, shift_jis…).
pub fn encoding_label(label: &str) -> Result<&'static Encoding, String> {
    Encoding::for_label_no_replacement(label.trim().as_bytes())
        .ok_or_else(|| format!("unknown encoding {label:?}"))
}

/// Expands directories and reads every input. Failures are printed on stderr
/// (`detente: PATH: REASON`) as they happen and counted.
pub fn read_inputs(inputs: &[PathBuf], opts: ReadOptions) -> (Vec<Article>, usize) {
    let (articles, failures) = collect(inputs, opts);
    for f in &failures {
        eprintln!("detente: {}: {}", f.source, f.reason);
    }
    (articles, failures.len())
}

/// [`read_inputs`] without the printing.
pub fn collect(inputs: &[PathBuf], opts: ReadOptions) -> (Vec<Article>, Vec<Failure>) {
    let mut articles = Vec::new();
    let mut failures = Vec::new();
    let mut stdin_read = false;
    for input in inputs {
        if input == Path::new("-") {
            if stdin_read {
                failures.push(Failure::new("-", "stdin was already read"));
                continue;
            }
            stdin_read = true;
            let mut bytes = Vec::new();
            match std::io::stdin().lock().read_to_end(&mut bytes) {
                Ok(_) => read_bytes("-", &bytes, None, opts, &mut articles, &mut failures),
                Err(e) => failures.push(Failure::new("-", format!("cannot read stdin: {e}"))),
            }
            continue;
        }
        if input.is_dir() {
            let before = articles.len() + failures.len();
            walk(input, &mut |f| {
                read_file(&f, opts, &mut articles, &mut failures)
            })
            .into_iter()
            .for_each(|f| failures.push(f));
            if articles.len() + failures.len() == before {
                failures.push(Failure::new(
                    input.display().to_string(),
                    format!(
                        "no articles in this directory (looked for .{})",
                        ARTICLE_EXTENSIONS.join(", .")
                    ),
                ));
            }
        } else {
            read_file(input, opts, &mut articles, &mut failures);
        }
    }
    (articles, failures)
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|x| x.to_str())
        .map(str::to_ascii_lowercase)
}

fn read_file(
    path: &Path,
    opts: ReadOptions,
    articles: &mut Vec<Article>,
    failures: &mut Vec<Failure>,
) {
    let id = path.display().to_string();
    let bytes = std::fs::metadata(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|m| {
            if m.len() > MAX_FILE_BYTES {
                Err(format!(
                    "too large for an article ({} MiB; the limit is {} MiB)",
                    m.len() >> 20,
                    MAX_FILE_BYTES >> 20
                ))
            } else {
                std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
            }
        });
    match bytes {
        Ok(bytes) => read_bytes(
            &id,
            &bytes,
            extension(path).as_deref(),
            opts,
            articles,
            failures,
        ),
        Err(reason) => failures.push(Failure::new(id, reason)),
    }
}

/// Turns one input's bytes into articles: JSON Lines, HTML or plain text.
fn read_bytes(
    id: &str,
    bytes: &[u8],
    ext: Option<&str>,
    opts: ReadOptions,
    articles: &mut Vec<Article>,
    failures: &mut Vec<Failure>,
) {
    if opts.jsonl || ext == Some("jsonl") {
        match decode(bytes, false, opts.encoding) {
            Ok(text) => read_jsonl(id, &text, articles, failures),
            Err(reason) => failures.push(Failure::new(id, reason)),
        }
        return;
    }
    let html = matches!(ext, Some("html" | "htm" | "xhtml")) || looks_like_html(bytes);
    match decode(bytes, html, opts.encoding) {
        Ok(text) => {
            let text = if html { html_to_text(&text) } else { text };
            articles.push(Article {
                id: id.to_string(),
                title: None,
                text,
            });
        }
        Err(reason) => failures.push(Failure::new(id, reason)),
    }
}

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    title: Option<String>,
    text: String,
}

/// One article per line: `{"id", "title", "text"}`; `id` and `title` are
/// optional (the id defaults to `SOURCE:LINE`). Blank lines are skipped.
fn read_jsonl(source: &str, text: &str, articles: &mut Vec<Article>, failures: &mut Vec<Failure>) {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{source}:{}", i + 1);
        match serde_json::from_str::<Record>(line) {
            Ok(r) => {
                let id = match r.id {
                    Some(serde_json::Value::String(s)) => s,
                    Some(serde_json::Value::Null) | None => at,
                    Some(other) => other.to_string(),
                };
                articles.push(Article {
                    id,
                    title: r.title.filter(|t| !t.trim().is_empty()),
                    text: r.text,
                });
            }
            Err(e) => failures.push(Failure::new(at, format!("not a JSON Lines article: {e}"))),
        }
    }
}

/// Collects article files under `dir` (sorted, hidden entries skipped) and
/// hands each to `found`. Symlinked directories are not followed, so a link
/// cycle cannot trap the walk. Returns the directories that could not be read.
fn walk(dir: &Path, found: &mut dyn FnMut(PathBuf)) -> Vec<Failure> {
    let mut failures = Vec::new();
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                failures.push(Failure::new(
                    d.display().to_string(),
                    format!("cannot read directory: {e}"),
                ));
                continue;
            }
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let p = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                stack.push(p);
            } else if (kind.is_file() || (kind.is_symlink() && p.is_file()))
                && extension(&p).is_some_and(|x| ARTICLE_EXTENSIONS.contains(&x.as_str()))
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files.into_iter().for_each(found);
    failures
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let start = bytes.len().min(512);
    let head = String::from_utf8_lossy(&bytes[..start]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// Decodes bytes to text: a BOM wins, then (for HTML) a meta charset, then
/// `assumed`, then UTF-8. Undeclared bytes that are not UTF-8 are an error
/// rather than a guess, and so are binary files.
pub fn decode(
    bytes: &[u8],
    html: bool,
    assumed: Option<&'static Encoding>,
) -> Result<String, String> {
    if let Some((enc, bom)) = Encoding::for_bom(bytes) {
        return Ok(enc
            .decode_without_bom_handling(&bytes[bom..])
            .0
            .into_owned());
    }
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Err("binary file, not text".into());
    }
    let declared = if html { meta_charset(bytes) } else { None };
    if let Some(enc) = declared.or(assumed).filter(|e| *e != UTF_8) {
        return Ok(enc.decode_without_bom_handling(bytes).0.into_owned());
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => Err(format!(
            "not UTF-8 (invalid byte at offset {}) and no encoding declared; \
             pass --encoding LABEL (e.g. --encoding windows-1252) or convert it to UTF-8",
            e.valid_up_to()
        )),
    }
}

/// The encoding named by `<meta charset=…>` or `<meta http-equiv … content="…; charset=…">`
/// in the first KiB, as browsers look for it.
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = bytes[..bytes.len().min(1024)].to_ascii_lowercase();
    let head: Cow<str> = String::from_utf8_lossy(&head);
    for tag in head.split("<meta").skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        let Some(at) = tag.find("charset") else {
            continue;
        };
        let rest = tag[at + "charset".len()..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let label: String = rest
            .trim_start()
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
            .collect();
        if let Some(enc) = Encoding::for_label(label.as_bytes()) {
            // A page cannot declare itself UTF-16 in ASCII bytes; browsers read it as UTF-8.
            return Some(
                if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
                    UTF_8
                } else {
                    enc.output_encoding()
                },
            );
        }
    }
    None
}

/// Elements that are never article text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "button", "select", "textarea", "svg", "iframe", "object", "video", "audio", "canvas",
    "figure", "head", "menu", "dialog",
];
/// Elements that end a paragraph.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "table",
    "tr",
    "td",
    "th",
    "hr",
    "body",
    "address",
    "center",
];
/// Class or id words that mark page furniture rather than the story.
const BOILERPLATE: &[&str] = &[
    "nav",
    "navbar",
    "menu",
    "breadcrumb",
    "breadcrumbs",
    "footer",
    "header",
    "masthead",
    "sidebar",
    "cookie",
    "cookies",
    "consent",
    "share",
    "sharing",
    "social",
    "subscribe",
    "newsletter",
    "related",
    "recommended",
    "promo",
    "advert",
    "ad",
    "ads",
    "banner",
    "comments",
    "byline-share",
    "paywall",
    "popup",
    "modal",
    "skip",
];

fn is_boilerplate(e: &ElementRef) -> bool {
    let v = e.value();
    if SKIPPED.contains(&v.name()) || v.attr("hidden").is_some() {
        return true;
    }
    if v.attr("aria-hidden") == Some("true") {
        return true;
    }
    if matches!(
        v.attr("role"),
        Some("navigation" | "banner" | "contentinfo" | "complementary" | "search" | "dialog")
    ) {
        return true;
    }
    let words = v
        .classes()
        .chain(v.id())
        .flat_map(|c| c.split(['-', '_']))
        .map(str::to_ascii_lowercase);
    for w in words {
        if BOILERPLATE.contains(&w.as_str()) {
            return true;
        }
    }
    false
}

/// Collects paragraphs: text between block boundaries, whitespace collapsed.
#[derive(Default)]
struct Paragraphs {
    done: Vec<String>,
    current: String,
    /// Characters of the current paragraph inside links (menus are mostly links).
    link_chars: usize,
    /// The last text ended in whitespace not yet written.
    pending_space: bool,
}

impl Paragraphs {
    fn push_text(&mut self, t: &str, in_link: bool) {
        // A space only where the page had whitespace: "a <b>b</b>" keeps
        // it, "don'<i>t</i>" does not gain one.
        let mut space = self.pending_space || t.starts_with(char::is_whitespace);
        for word in t.split_whitespace() {
            if space && !self.current.is_empty() && !self.current.ends_with('\n') {
                self.current.push(' ');
            }
            self.current.push_str(word);
            if in_link {
                self.link_chars += word.len();
            }
            space = true;
        }
        self.pending_space = if t.trim().is_empty() {
            space || !t.is_empty()
        } else {
            t.ends_with(char::is_whitespace)
        };
    }

    fn line_break(&mut self) {
        self.pending_space = false;
        if self.current.ends_with('\n') || self.current.is_empty() {
            // <br><br> separates paragraphs in older pages.
            self.flush();
        } else {
            self.current.push('\n');
        }
    }

    fn flush(&mut self) {
        let text: Vec<String> = self
            .current
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect();
        let text = text.join("\n");
        let total = text.len().max(1);
        // A block that is nearly all links is a menu or a list of other stories.
        let menu = self.link_chars * 10 > total * 6;
        if !text.is_empty() && !menu {
            self.done.push(text);
        }
        self.current.clear();
        self.link_chars = 0;
        self.pending_space = false;
    }
}

fn visit(e: ElementRef, in_link: bool, out: &mut Paragraphs) {
    if is_boilerplate(&e) {
        return;
    }
    let name = e.value().name();
    let block = BLOCKS.contains(&name);
    let in_link = in_link || name == "a";
    if block {
        out.flush();
    }
    for child in e.children() {
        match child.value() {
            Node::Text(t) => out.push_text(t, in_link),
            Node::Element(el) if el.name() == "br" => out.line_break(),
            Node::Element(_) => {
                if let Some(c) = ElementRef::wrap(child) {
                    visit(c, in_link, out);
                }
            }
            _ => {}
        }
    }
    if block {
        out.flush();
    }
}

/// The element holding the story: the `<article>` with the most paragraph
/// text, else `<main>` or `[role=main]`, else the body.
fn story_root(doc: &Html) -> Option<ElementRef<'_>> {
    let select = |css: &str| scraper::Selector::parse(css).ok();
    let text_len = |e: &ElementRef| -> usize {
        select("p").map_or(0, |p| {
            e.select(&p)
                .map(|p| p.text().map(str::len).sum::<usize>())
                .sum()
        })
    };
    if let Some(sel) = select("article") {
        let best = doc.select(&sel).max_by_key(|e| text_len(e));
        if let Some(best) = best.filter(|e| text_len(e) > 0) {
            return Some(best);
        }
    }
    for css in ["main", "[role=main]", "body"] {
        if let Some(e) = select(css).and_then(|s| doc.select(&s).next()) {
            return Some(e);
        }
    }
    None
}

/// The article text of an HTML page: scripts, navigation and other page
/// furniture dropped, paragraphs kept and separated by a blank line (the
/// quote extractor splits paragraphs there, and quotations may run over them).
pub fn html_to_text(html: &str) -> String {
    let doc = Html::parse_document(html);
    let mut out = Paragraphs::default();
    match story_root(&doc) {
        Some(root) => visit(root, false, &mut out),
        None => visit(doc.root_element(), false, &mut out),
    }
    out.flush();
    out.done.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_keeps_paragraphs_and_drops_furniture() {
        let page = r#"<!DOCTYPE html><html><head><title>T</title>
            <script>var x = "not a quote";</script><style>p{}</style></head>
            <body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
            <div class="cookie-banner">We use cookies.</div>
            <article><h1>Talks resume</h1>
            <p>The minister said the talks were &ldquo;going <em>well</em>,
               all things considered.</p>
            <p>&ldquo;We expect more next week,&rdquo; she added.</p>
            <ul class="related"><li><a href="/a">Other story</a></li></ul>
            </article><footer>© Example</footer></body></html>"#;
        let text = html_to_text(page);
        assert_eq!(
            text,
            "Talks resume\n\nThe minister said the talks were \u{201c}going well, all things \
             considered.\n\n\u{201c}We expect more next week,\u{201d} she added."
        );
    }

    #[test]
    fn inline_elements_do_not_glue_or_split_words() {
        let text = html_to_text("<body><p>a <b>bold</b> move, don'<i>t</i> you think</p></body>");
        assert_eq!(text, "a bold move, don't you think");
    }

    #[test]
    fn declared_encodings_are_decoded() {
        let page =
            b"<html><head><meta charset=\"windows-1252\"></head><body><p>caf\xe9</p></body></html>";
        let text = decode(page, true, None).unwrap();
        assert!(text.contains("caf\u{e9}"));
        let bom = b"\xef\xbb\xbfhello";
        assert_eq!(decode(bom, false, None).unwrap(), "hello");
        let utf16 = b"\xff\xfeh\x00i\x00";
        assert_eq!(decode(utf16, false, None).unwrap(), "hi");
        assert!(
            decode(b"caf\xe9", false, None)
                .unwrap_err()
                .contains("offset 3")
        );
        assert_eq!(
            decode(b"caf\xe9", false, Some(encoding_rs::WINDOWS_1252)).unwrap(),
            "caf\u{e9}"
        );
        assert!(
            decode(b"\x89PNG\r\n\x1a\n\0\0", false, None)
                .unwrap_err()
                .contains("binary")
        );
    }

    #[test]
    fn jsonl_lines_become_articles_and_bad_lines_fail_alone() {
        let mut articles = Vec::new();
        let mut failures = Vec::new();
        read_jsonl(
            "in.jsonl",
            "{\"id\": \"a\", \"title\": \"T\", \"text\": \"x\"}\n\n{\"text\": \"y\"}\n{\"id\": 7}\n{\"id\": 8, \"text\": \"z\"}\n",
            &mut articles,
            &mut failures,
        );
        let ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a", "in.jsonl:3", "8"]);
        assert_eq!(articles[0].title.as_deref(), Some("T"));
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].source, "in.jsonl:4");
    }
}
