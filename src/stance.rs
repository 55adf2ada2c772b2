//! The four stances and their probabilities: the vocabulary every module shares.
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
