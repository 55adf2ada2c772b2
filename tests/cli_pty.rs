//! The text output as a person sees it: `detente analyze` in a real
//! pseudo-terminal (pure Rust, nothing to install) of a known width.
use std::io::Read;
use std::sync::mpsc;
use std::time::Duration;

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

// A fictional report, written for this test, with long quotations (so they
// wrap), accented names (multi-byte, one column each) and a short one.
const ARTICLE: &str = "\
Fishing Fleets Stay in Port as Patrol Boats Circle Disputed Banks

Tensions over the Aldmere fishing banks rose again on Friday after two patrol boats shadowed a trawler for most of the night.

\"If another of our boats is harassed, the navy will escort every trawler to the banks and it will not turn back for anyone,\" said Rosalía Ñúñez, the fisheries minister, speaking to reporters at the harbor in a long statement.

The neighboring coast guard called the patrols routine. \"Our crews followed the rules of the sea to the letter and will keep doing so,\" said its commander, Jörg Åkesson.

A regional envoy, Thandiwe Mbeki-Oyelaran, urged calm. \"We are ready to host both delegations next week, and I am confident that a sensible arrangement for the banks can be found before the season opens,\" she said.

\"Enough,\" said a trawler captain.
";

/// Runs detente in a pseudo-terminal `cols` wide and returns everything it
/// wrote (stdout and stderr share the terminal).
fn in_pty(cols: u16, args: &[&str], env: &[(&str, &str)]) -> String {
    let pty = native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows: 200,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("open a pseudo-terminal");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_detente"));
    cmd.args(args);
    cmd.cwd(env!("CARGO_MANIFEST_DIR"));
    for var in [
        "NO_COLOR",
        "COLUMNS",
        "DETENTE_SERVER",
        "CLICOLOR",
        "CLICOLOR_FORCE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = pair.slave.spawn_command(cmd).expect("spawn detente");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("pty reader");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        // Ends with EOF or EIO once the child is gone; both are the end here.
        let _ = reader.read_to_end(&mut out);
        let _ = tx.send(out);
    });
    let status = child.wait().expect("wait for detente");
    let out = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("terminal output within two minutes");
    drop(pair.master);
    assert!(status.success(), "{}", String::from_utf8_lossy(&out));
    String::from_utf8(out).expect("UTF-8 output")
}

/// Removes CSI and OSC escape sequences and carriage returns.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    for c in chars.by_ref() {
                        if c == '\x07' {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

fn article_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("banks.txt"), ARTICLE).unwrap();
    dir
}

/// Every line fits, and each quotation's continuation lines start in the
/// column where the quotation column starts.
fn assert_renders_at(cols: usize, screen: &str) {
    let lines: Vec<&str> = screen.lines().collect();
    for l in &lines {
        // The test article has no wide characters: one char, one column.
        assert!(
            l.chars().count() <= cols,
            "line wider than {cols}: {l:?}\n{screen}"
        );
    }
    let header = lines
        .iter()
        .position(|l| l.ends_with("quotation"))
        .unwrap_or_else(|| panic!("no quotation table:\n{screen}"));
    let col = lines[header].chars().count() - "quotation".len();
    let mut rows = 0;
    let mut continuations = 0;
    for l in lines[header + 1..].iter().take_while(|l| !l.is_empty()) {
        let text: String = l.chars().skip(col).collect();
        let before: String = l.chars().take(col).collect();
        assert!(
            !text.is_empty() && !text.starts_with(' ') && before.ends_with("  "),
            "quotation not at column {col}: {l:?}\n{screen}"
        );
        if before.trim().is_empty() {
            continuations += 1;
        } else {
            rows += 1;
        }
    }
    assert!(rows >= 4, "{screen}");
    assert!(continuations >= 2, "nothing wrapped:\n{screen}");
}

#[test]
fn text_fits_an_80_column_terminal_with_aligned_quotations() {
    let dir = article_dir();
    let file = dir.path().join("banks.txt");
    let file = file.to_str().unwrap();
    let raw = in_pty(80, &["analyze", file], &[]);
    assert!(raw.contains("\x1b["), "no color on a terminal");
    let screen = strip_ansi(&raw);
    assert!(screen.contains("Rosalía Ñúñez"), "{screen}");
    assert_renders_at(80, &screen);
    // Multi-byte names take one column per character, so the stance column
    // after them stays aligned with the header's.
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines.iter().position(|l| l.ends_with("quotation")).unwrap();
    let stance_col = lines[at].find("stance").unwrap();
    let rows: Vec<&&str> = lines[at + 1..]
        .iter()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.contains("Rosalía"))
        .collect();
    assert!(!rows.is_empty(), "{screen}");
    for l in rows {
        let stance: String = l.chars().skip(stance_col).take(4).collect();
        assert!(
            ["thre", "conc", "opti", "neut"].contains(&stance.as_str()),
            "misaligned: {l:?}\n{:?}",
            lines[at]
        );
    }
}

#[test]
fn text_follows_a_narrower_terminal() {
    let dir = article_dir();
    let file = dir.path().join("banks.txt");
    let screen = strip_ansi(&in_pty(64, &["analyze", file.to_str().unwrap()], &[]));
    assert_renders_at(64, &screen);
}

#[test]
fn no_color_turns_color_off_on_a_terminal() {
    let dir = article_dir();
    let file = dir.path().join("banks.txt");
    let raw = in_pty(
        80,
        &["analyze", file.to_str().unwrap()],
        &[("NO_COLOR", "1")],
    );
    assert!(
        !raw.contains("\x1b["),
        "escape codes with NO_COLOR: {raw:?}"
    );
}

#[test]
fn many_inputs_show_a_progress_bar_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..12 {
        std::fs::write(dir.path().join(format!("a{i:02}.txt")), ARTICLE).unwrap();
    }
    let d = dir.path().to_str().unwrap();
    let raw = in_pty(100, &["analyze", "--format", "jsonl", d], &[]);
    let screen = strip_ansi(&raw);
    assert!(
        screen.contains("articles") && screen.contains("eta"),
        "no progress bar: {screen}"
    );
    let raw = in_pty(100, &["--quiet", "analyze", "--format", "jsonl", d], &[]);
    assert!(!strip_ansi(&raw).contains("eta"), "a bar despite --quiet");
}
