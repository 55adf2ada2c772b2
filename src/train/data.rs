//! The labeled corpus: JSON Lines files of `{"text", "label", ...}` and their
//! deterministic, stratified train/dev/test split.
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::stance::Stance;

#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub label: Stance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Dev,
    Test,
}

impl Split {
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

/// Fraction of each label held out for dev, and again for test.
const HOLDOUT: f64 = 0.1;

#[derive(Deserialize)]
struct Line {
    text: String,
    label: String,
}

/// Reads one JSON Lines file. Blank lines are skipped; a malformed line is an
/// error naming the file and line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Example>> {
    let body = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (n, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| Error::Data {
            path: path.to_path_buf(),
            reason: format!("line {}: {reason}", n + 1),
        };
        let l: Line = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let label = l.label.parse::<Stance>().map_err(bad)?;
        if l.text.trim().is_empty() {
            return Err(bad("empty text".into()));
        }
        out.push(Example {
            text: l.text,
            label,
        });
    }
    Ok(out)
}

/// Reads a file, or every `*.jsonl` file of a directory in name order.
pub fn read_corpus(path: &Path) -> Result<(Vec<Example>, Vec<PathBuf>)> {
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    if files.is_empty() {
        return Err(Error::Data {
            path: path.to_path_buf(),
            reason: "no .jsonl files".into(),
        });
    }
    let mut all = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for f in &files {
        for ex in read_jsonl(f)? {
            // A statement written twice would leak between splits.
            if seen.insert(normalize(&ex.text)) {
                all.push(ex);
            }
        }
    }
    Ok((all, files))
}

fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// FNV-1a: a stable hash, so the split never changes between builds or machines.
fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Assigns each example to a split: within each label, examples are ordered
/// by a hash of their text and the first 10% go to test, the next 10% to dev.
pub fn split(examples: &[Example]) -> Vec<Split> {
    let mut out = vec![Split::Train; examples.len()];
    for label in Stance::ALL {
        let mut idx: Vec<usize> = (0..examples.len())
            .filter(|&i| examples[i].label == label)
            .collect();
        idx.sort_by_key(|&i| (fnv1a(&normalize(&examples[i].text)), i));
        let k = (idx.len() as f64 * HOLDOUT).round() as usize;
        for (rank, &i) in idx.iter().enumerate() {
            out[i] = if rank < k {
                Split::Test
            } else if rank < 2 * k {
                Split::Dev
            } else {
                Split::Train
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, label: Stance) -> Example {
        Example {
            text: text.into(),
            label,
        }
    }

    #[test]
    fn split_is_stratified_and_deterministic() {
        let mut data = Vec::new();
        for (i, label) in Stance::ALL.iter().cycle().take(400).enumerate() {
            data.push(ex(&format!("statement number {i}"), *label));
        }
        let a = split(&data);
        let b = split(&data);
        assert_eq!(a, b);
        for label in Stance::ALL {
            let count = |s: Split| {
                data.iter()
                    .zip(&a)
                    .filter(|(e, sp)| e.label == label && **sp == s)
                    .count()
            };
            assert_eq!(count(Split::Test), 10);
            assert_eq!(count(Split::Dev), 10);
            assert_eq!(count(Split::Train), 80);
        }
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("c.jsonl");
        std::fs::write(
            &p,
            "{\"text\":\"ok\",\"label\":\"neutral\"}\n{\"text\":\"x\",\"label\":\"angry\"}\n",
        )
        .unwrap();
        let err = read_jsonl(&p).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("angry"), "{err}");
    }

    #[test]
    fn duplicates_are_dropped_across_files() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("a.jsonl"),
            "{\"text\":\"Same  words\",\"label\":\"neutral\"}\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("b.jsonl"),
            "{\"text\":\"same words\",\"label\":\"neutral\"}\n",
        )
        .unwrap();
        let (all, files) = read_corpus(tmp.path()).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(all.len(), 1);
    }
}
