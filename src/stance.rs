//! The four stances and their probabilities: the vocabulary every module shares.
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stance {
    Optimistic,
    Threatening,
    Conciliatory,
    Neutral,
}

impl Stance {
    /// The head's output order; also the order of every per-label list.
    pub const ALL: [Stance; 4] = [
        Stance::Optimistic,
        Stance::Threatening,
        Stance::Conciliatory,
        Stance::Neutral,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stance::Optimistic => "optimistic",
            Stance::Threatening => "threatening",
            Stance::Conciliatory => "conciliatory",
            Stance::Neutral => "neutral",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(i: usize) -> Option<Stance> {
        Stance::ALL.get(i).copied()
    }
}

impl std::fmt::Display for Stance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Stance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stance::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown label {s:?}: expected optimistic, threatening, conciliatory or neutral"
                )
            })
    }
}

/// The text the stance model reads. News copy is typeset (’ “ ”), the
/// training corpus is typed (' "), and the tokenizer keeps the two apart, so
/// typographic quote marks and apostrophes are read as their ASCII forms.
pub fn model_text(text: &str) -> Cow<'_, str> {
    let ascii = |c: char| match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{02BC}' => Some('\''),
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => Some('"'),
        _ => None,
    };
    if text.chars().any(|c| ascii(c).is_some()) {
        Cow::Owned(text.chars().map(|c| ascii(c).unwrap_or(c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Calibrated probabilities of the four stances.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Scores {
    pub optimistic: f32,
    pub threatening: f32,
    pub conciliatory: f32,
    pub neutral: f32,
}

impl Scores {
    pub fn from_array(p: [f32; 4]) -> Self {
        Self {
            optimistic: p[0],
            threatening: p[1],
            conciliatory: p[2],
            neutral: p[3],
        }
    }

    pub fn to_array(self) -> [f32; 4] {
        [
            self.optimistic,
            self.threatening,
            self.conciliatory,
            self.neutral,
        ]
    }

    pub fn get(self, stance: Stance) -> f32 {
        self.to_array()[stance.index()]
    }

    /// The most probable stance (ties go to the earlier label in `Stance::ALL`).
    pub fn argmax(self) -> Stance {
        let p = self.to_array();
        let mut best = 0;
        for i in 1..4 {
            if p[i] > p[best] {
                best = i;
            }
        }
        Stance::ALL[best]
    }
}

/// One labeled statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub label: Stance,
    pub scores: Scores,
    /// True when only the beginning of the statement fit the encoder's window.
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_model_reads_typeset_quote_marks_as_typed_ones() {
        use super::model_text;
        assert_eq!(
            model_text("We won\u{2019}t \u{201C}blink\u{201D}"),
            "We won't \"blink\""
        );
        assert!(matches!(
            model_text("plain 'text'"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(model_text("\u{00AB}non\u{00BB}"), "\u{00AB}non\u{00BB}");
    }

    use super::*;

    #[test]
    fn labels_round_trip_in_head_order() {
        for (i, s) in Stance::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
            assert_eq!(s.as_str().parse::<Stance>().unwrap(), *s);
        }
        assert!("angry".parse::<Stance>().is_err());
    }

    #[test]
    fn argmax_picks_the_largest() {
        let s = Scores::from_array([0.1, 0.6, 0.2, 0.1]);
        assert_eq!(s.argmax(), Stance::Threatening);
    }
}
