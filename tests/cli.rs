//! The binary as a user meets it: output shapes, exit codes, errors.
mod common;

use common::server::{detente, json_lines, stdout};

#[test]
fn classify_jsonl_shape_is_the_contract() {
    let out = detente()
        .args(["classify", "--format", "jsonl"])
        .arg("We will respond with force to any incursion.")
        .arg("The committee meets on Tuesday.")
        .output()
        .unwrap();
    let lines = json_lines(stdout(&out).as_bytes());
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["text"],
        "We will respond with force to any incursion."
    );
    assert_eq!(lines[0]["label"], "threatening");
    for l in &lines {
        let s = &l["scores"];
        let sum: f64 = ["optimistic", "threatening", "conciliatory", "neutral"]
            .iter()
            .map(|k| s[k].as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-3);
    }
}

#[test]
fn classify_reads_stdin_lines_in_order() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = detente()
        .args(["classify", "--format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"We hope for a deal.\nTroops are massing at the border.\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let texts: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|v| v["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        ["We hope for a deal.", "Troops are massing at the border."]
    );
}

#[test]
fn extract_json_has_quotes_and_speakers_without_labels() {
    let out = detente()
        .args(["extract", "--format", "json", "examples/strait-talks.txt"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let quotes = v["quotes"].as_array().unwrap();
    assert!(quotes.len() >= 10);
    assert!(quotes.iter().any(|q| q["speaker"] == "Helena Varga"));
    assert!(quotes.iter().all(|q| q.get("label").is_none()));
}

#[test]
fn missing_file_fails_with_one_line_and_code_1() {
    let out = detente()
        .args(["analyze", "no/such/article.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/article.txt"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = detente()
        .args(["analyze", "--format", "yaml", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unreachable_server_is_a_clear_error() {
    let out = detente()
        .args(["classify", "--server", "http://127.0.0.1:9", "hello there"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("detente: ") && err.contains("127.0.0.1:9"),
        "{err}"
    );
}

#[test]
fn article_without_quotes_has_no_score() {
    let out = detente()
        .args(["analyze", "--format", "json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"The council met on Monday. No one spoke to reporters.")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tension"]["has_score"], false);
    assert!(v["tension"].get("score").is_none());
}
