//! `detente train`: sentence vectors from the encoder, stance heads fit with
//! candle, the best chosen on the dev split, temperature calibrated on dev,
//! and the test split touched only to report.
pub mod card;
pub mod data;
mod finetune;
pub mod lexical;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::metrics::{Metrics, evaluate};
use crate::model::head::{
    Candidate, EncoderStamp, HeadConfig, HeadKind, LexicalConfig, PROBE_COMPONENTS, PROBE_TEXT,
    StanceHead, head_logits, logits_tensor, mix_logits,
};
use crate::model::{Encoder, ModelFiles, Tokens};
use crate::stance::{Stance, model_text};
use data::{Example, Split};

pub const DEFAULT_SEED: u64 = 20_220_127;

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: PathBuf,
    pub out: PathBuf,
    pub seed: u64,
    /// Also try fine-tuning the encoder's linear layers; kept only if it
    /// beats the frozen encoder on dev.
    pub finetune: bool,
    /// Also fit the lexical model; mixed in only if the mixture beats the
    /// head alone on dev.
    pub lexical: bool,
}

/// Inverse-frequency loss weights: each label pulls equally on the loss
/// whatever its share of the training split; a label absent from the split
/// gets weight 0.
fn class_weights(labels: impl Iterator<Item = Stance>) -> [f32; 4] {
    let mut freq = [0f32; 4];
    let mut n = 0f32;
    for y in labels {
        freq[y.index()] += 1.0;
        n += 1.0;
    }
    std::array::from_fn(|i| {
        if freq[i] > 0.0 {
            n / (4.0 * freq[i])
        } else {
            0.0
        }
    })
}

/// The class-weighted mean negative log-likelihood of `gold` under `logits`,
/// the loss of every model `detente train` fits.
fn weighted_nll(logits: &Tensor, gold: &[Stance], class_w: &[f32; 4]) -> Result<Tensor> {
    let y: Vec<u32> = gold.iter().map(|s| s.index() as u32).collect();
    let w: Vec<f32> = gold.iter().map(|s| class_w[s.index()]).collect();
    let w_sum = f64::from(w.iter().sum::<f32>());
    let y = Tensor::new(y.as_slice(), &Device::Cpu)?.unsqueeze(1)?;
    let w = Tensor::new(w.as_slice(), &Device::Cpu)?;
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp.gather(&y, 1)?.squeeze(1)?;
    Ok(((picked * w)?.sum_all()? * (-1.0 / w_sum))?)
}

/// One head configuration to try.
#[derive(Debug, Clone, Copy)]
struct Spec {
    kind: HeadKind,
    hidden: usize,
    lr: f64,
    weight_decay: f64,
    steps: usize,
}

impl Spec {
    fn name(&self) -> String {
        match self.kind {
            HeadKind::Logistic => format!("logistic (weight decay {})", self.weight_decay),
            HeadKind::Mlp => format!(
                "mlp {} hidden (weight decay {})",
                self.hidden, self.weight_decay
            ),
        }
    }
}

const SPECS: [Spec; 3] = [
    Spec {
        kind: HeadKind::Logistic,
        hidden: 0,
        lr: 0.05,
        weight_decay: 0.0,
        steps: 500,
    },
    Spec {
        kind: HeadKind::Logistic,
        hidden: 0,
        lr: 0.05,
        weight_decay: 0.05,
        steps: 500,
    },
    Spec {
        kind: HeadKind::Mlp,
        hidden: 256,
        lr: 0.005,
        weight_decay: 0.01,
        steps: 400,
    },
];

const EVAL_EVERY: usize = 10;

/// Vectors and labels of one split.
pub struct SplitData {
    pub x: Tensor,
    pub y: Vec<Stance>,
}

pub struct Trained {
    pub head: StanceHead,
    pub files: Vec<PathBuf>,
    pub counts: BTreeMap<(Split, Stance), usize>,
}

pub fn train(
    encoder: &mut Encoder,
    model: &ModelFiles,
    opts: &TrainOptions,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<Trained> {
    let (examples, files) = data::read_corpus(&opts.data)?;
    let splits = data::split(&examples);
    let mut counts = BTreeMap::new();
    for (e, s) in examples.iter().zip(&splits) {
        *counts.entry((*s, e.label)).or_insert(0) += 1;
    }
    for label in Stance::ALL {
        if counts.get(&(Split::Train, label)).copied().unwrap_or(0) == 0
            || counts.get(&(Split::Dev, label)).copied().unwrap_or(0) == 0
        {
            return Err(Error::Data {
                path: opts.data.clone(),
                reason: format!("label {label} needs examples in both the train and dev splits"),
            });
        }
    }
    let (probe, _) = encoder.embed(&[PROBE_TEXT])?;
    let probe: Vec<f32> = probe.get(0)?.to_vec1()?;
    let stamp = EncoderStamp {
        model_id: model.model_id.clone(),
        revision: model.revision.clone(),
        embedding_size: encoder.hidden_size(),
        max_tokens: encoder.max_tokens(),
        probe: probe.into_iter().take(PROBE_COMPONENTS).collect(),
    };
    let texts: Vec<_> = examples.iter().map(|e| model_text(&e.text)).collect();
    let texts: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
    let tokens = encoder.tokenize_all(&texts)?;
    let indices = |want: Split| -> Vec<usize> {
        (0..examples.len()).filter(|&i| splits[i] == want).collect()
    };
    let (train_idx, dev_idx, test_idx) = (
        indices(Split::Train),
        indices(Split::Dev),
        indices(Split::Test),
    );
    let vectors = |encoder: &Encoder, idx: &[usize], label: &str| -> Result<SplitData> {
        let t: Vec<Tokens> = idx.iter().map(|&i| tokens[i].clone()).collect();
        let mut parts = Vec::new();
        for (k, chunk) in t.chunks(256).enumerate() {
            parts.push(encoder.embed_tokens(chunk)?);
            progress(label, (k * 256 + chunk.len()).min(t.len()), t.len());
        }
        Ok(SplitData {
            x: Tensor::cat(&parts, 0)?,
            y: idx.iter().map(|&i| examples[i].label).collect(),
        })
    };
    let train = vectors(encoder, &train_idx, "embedding train")?;
    let dev = vectors(encoder, &dev_idx, "embedding dev")?;
    let frozen = choose_frozen(&train, &dev, opts.seed)?;
    let mut candidates = frozen.candidates.clone();
    let sizes = split_sizes(&counts);

    // Fine-tuning is kept only when it beats the frozen encoder on dev.
    let mut tuned = None;
    if opts.finetune {
        let pairs = |idx: &[usize]| -> Vec<(Tokens, Stance)> {
            idx.iter()
                .map(|&i| (tokens[i].clone(), examples[i].label))
                .collect()
        };
        let t = finetune::finetune(
            encoder,
            &pairs(&train_idx),
            &pairs(&dev_idx),
            &frozen.fitted,
            opts.seed,
            &|a, b| progress("fine-tuning", a, b),
        )?;
        let (best_f1, best_acc, best_run, best_step) = t.best_checkpoint;
        let tuned_name = format!("{} + fully fine-tuned encoder", frozen.spec.name());
        let runs = t.runs.len();
        candidates.push(Candidate {
            name: if runs > 1 {
                format!(
                    "{tuned_name}, best epoch-end checkpoint of any run (run {}, not kept)",
                    best_run + 1
                )
            } else {
                format!("{tuned_name}, best epoch-end checkpoint (not kept)")
            },
            dev_macro_f1: best_f1,
            dev_accuracy: best_acc,
            steps: best_step,
        });
        for (run, &(f1, acc)) in t.runs.iter().enumerate() {
            candidates.push(Candidate {
                name: if runs > 1 {
                    format!("{tuned_name}, run {} alone, full-size (not kept)", run + 1)
                } else {
                    format!("{tuned_name}, full-size (not kept)")
                },
                dev_macro_f1: f1,
                dev_accuracy: acc,
                steps: t.steps,
            });
        }
        // The kept rank is the last tried, if fine-tuning is kept at all.
        let kept = t.dev_macro_f1 > frozen.dev_macro_f1;
        let kept_rank = t.ranks.last().map_or(0, |r| r.0);
        for &(rank, f1, acc) in &t.ranks {
            let mean = if runs > 1 {
                format!(", mean of {runs} runs")
            } else {
                String::new()
            };
            let note = if kept && rank == kept_rank {
                ""
            } else {
                " (not kept)"
            };
            candidates.push(Candidate {
                name: format!("{tuned_name}{mean}, stored at rank {rank}{note}"),
                dev_macro_f1: f1,
                dev_accuracy: acc,
                steps: t.steps,
            });
        }
        if kept {
            tuned = Some(t);
        }
    }
    let (fitted, adapter, dev) = match tuned {
        Some(t) => {
            encoder.merge_adapter(&t.adapter)?;
            // Vectors through the merged encoder: exactly what inference sees.
            let dev = vectors(encoder, &dev_idx, "embedding dev")?;
            (t.head, Some(t.adapter), dev)
        }
        None => (frozen.fitted, None, dev),
    };
    let test = vectors(encoder, &test_idx, "embedding test")?;
    let lexical = if opts.lexical {
        let pairs = |idx: &[usize]| -> Vec<(&str, Stance)> {
            idx.iter().map(|&i| (texts[i], examples[i].label)).collect()
        };
        // Optional like fine-tuning: a corpus it cannot fit still trains a head.
        match lexical::fit(&pairs(&train_idx), &pairs(&dev_idx), opts.seed, &|a, b| {
            progress("lexical model", a, b)
        }) {
            Ok(fit) => {
                let logits = |idx: &[usize]| -> Vec<[f32; 4]> {
                    idx.iter().map(|&i| fit.model.logits(texts[i])).collect()
                };
                let (dev, test) = (logits(&dev_idx), logits(&test_idx));
                Some(LexicalParts { fit, dev, test })
            }
            Err(e) => {
                tracing::warn!(error = %e, "no lexical model");
                None
            }
        }
    } else {
        None
    };
    let mut head = finish(
        fitted,
        frozen.spec,
        &dev,
        &test,
        stamp,
        opts.seed,
        candidates,
        &sizes,
        lexical,
    )?;
    if let Some(adapter) = adapter {
        head.set_adapter(adapter);
    }
    head.save(&opts.out)?;
    let card = card::model_card(head.config(), &files, &counts);
    let card_path = opts.out.join("MODEL_CARD.md");
    std::fs::write(&card_path, card).map_err(|e| Error::io(&card_path, e))?;
    Ok(Trained {
        head,
        files,
        counts,
    })
}

fn split_sizes(counts: &BTreeMap<(Split, Stance), usize>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for ((split, _), n) in counts {
        *out.entry(split.as_str().to_string()).or_insert(0) += n;
    }
    out
}

struct Frozen {
    spec: Spec,
    fitted: Fitted,
    dev_macro_f1: f32,
    candidates: Vec<Candidate>,
}

/// Fits every frozen-encoder candidate and keeps the best on dev macro-F1.
fn choose_frozen(train: &SplitData, dev: &SplitData, seed: u64) -> Result<Frozen> {
    let mut best: Option<(f32, Spec, Fitted)> = None;
    let mut candidates = Vec::new();
    for spec in SPECS {
        let fitted = fit(spec, train, dev, seed)?;
        let m = evaluate(&dev.y, &fitted.probabilities(&dev.x, 1.0)?);
        tracing::info!(
            candidate = spec.name(),
            dev_macro_f1 = m.macro_f1,
            steps = fitted.steps,
            "fitted"
        );
        candidates.push(Candidate {
            name: spec.name(),
            dev_macro_f1: m.macro_f1,
            dev_accuracy: m.accuracy,
            steps: fitted.steps,
        });
        // Strictly better only: on a tie the simpler, earlier candidate stays.
        if best.as_ref().is_none_or(|(f1, _, _)| m.macro_f1 > *f1) {
            best = Some((m.macro_f1, spec, fitted));
        }
    }
    let Some((dev_macro_f1, spec, fitted)) = best else {
        return Err(Error::Data {
            path: PathBuf::new(),
            reason: "no candidate head".into(),
        });
    };
    Ok(Frozen {
        spec,
        fitted,
        dev_macro_f1,
        candidates,
    })
}

/// The fitted lexical model and its logits on the dev and test splits.
struct LexicalParts {
    fit: lexical::FitLexical,
    dev: Vec<[f32; 4]>,
    test: Vec<[f32; 4]>,
}

/// Shares of the lexical model tried in the mixture.
pub const LEXICAL_WEIGHTS: [f32; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// The lexical share with the best dev macro-F1, if any beats the head alone
/// (strictly: on a tie the smaller share stays).
fn choose_weight(head: &Tensor, lexical: &Tensor, gold: &[Stance]) -> Result<Option<(f32, f32)>> {
    let alone = evaluate(gold, &probs_from_logits(head)?).macro_f1;
    let mut best: Option<(f32, f32)> = None;
    for w in LEXICAL_WEIGHTS {
        let f1 = evaluate(gold, &probs_from_logits(&mix_logits(head, lexical, w)?)?).macro_f1;
        if f1 > best.map_or(alone, |(_, b)| b) {
            best = Some((w, f1));
        }
    }
    Ok(best)
}

/// Mixes in the lexical model if it helps on dev, calibrates the temperature
/// on dev and records dev and test metrics.
#[allow(clippy::too_many_arguments)]
fn finish(
    fitted: Fitted,
    spec: Spec,
    dev: &SplitData,
    test: &SplitData,
    encoder: EncoderStamp,
    seed: u64,
    mut candidates: Vec<Candidate>,
    split_sizes: &BTreeMap<String, usize>,
    lexical: Option<LexicalParts>,
) -> Result<StanceHead> {
    let mut dev_logits = fitted.logits(&dev.x)?;
    let mut test_logits = fitted.logits(&test.x)?;
    let mut mixed = None;
    if let Some(l) = lexical {
        let (lex_dev, lex_test) = (logits_tensor(&l.dev)?, logits_tensor(&l.test)?);
        let choice = choose_weight(&dev_logits, &lex_dev, &dev.y)?;
        let dev_accuracy = evaluate(&dev.y, &probs_from_logits(&lex_dev)?).accuracy;
        candidates.push(Candidate {
            name: "lexical model alone (not kept)".into(),
            dev_macro_f1: l.fit.dev_macro_f1,
            dev_accuracy,
            steps: l.fit.steps,
        });
        if let Some((weight, _)) = choice {
            dev_logits = mix_logits(&dev_logits, &lex_dev, weight)?;
            test_logits = mix_logits(&test_logits, &lex_test, weight)?;
            let m = evaluate(&dev.y, &probs_from_logits(&dev_logits)?);
            candidates.push(Candidate {
                name: format!("chosen head mixed with the lexical model at weight {weight:.1}"),
                dev_macro_f1: m.macro_f1,
                dev_accuracy: m.accuracy,
                steps: fitted.steps,
            });
            let config = LexicalConfig {
                weight,
                ngrams: l.fit.model.len(),
                min_count: lexical::MIN_COUNT,
                epochs: l.fit.epochs,
                dev_macro_f1: l.fit.dev_macro_f1,
            };
            mixed = Some((l.fit.model, config));
        }
    }
    let temperature = calibrate(&dev_logits, &dev.y)?;
    let scaled = |logits: &Tensor| -> Result<Vec<[f32; 4]>> {
        probs_from_logits(&(logits / f64::from(temperature))?)
    };
    let mut metrics = BTreeMap::new();
    metrics.insert("dev".to_string(), evaluate(&dev.y, &scaled(&dev_logits)?));
    metrics.insert(
        "test".to_string(),
        evaluate(&test.y, &scaled(&test_logits)?),
    );
    let config = HeadConfig {
        encoder,
        labels: Stance::ALL.to_vec(),
        kind: spec.kind,
        hidden: spec.hidden,
        temperature,
        seed,
        metrics,
        candidates,
        split_sizes: split_sizes.clone(),
        adapter: None,
        lexical: None,
    };
    let mut head = StanceHead::new(config, fitted.w1, fitted.b1, fitted.out);
    if let Some((model, config)) = mixed {
        head.set_lexical(model, config);
    }
    Ok(head)
}

/// Fits every candidate on frozen vectors, keeps the best on dev macro-F1,
/// calibrates its temperature on dev and reports dev and test metrics.
pub fn fit_best(
    train: &SplitData,
    dev: &SplitData,
    test: &SplitData,
    encoder: EncoderStamp,
    seed: u64,
    split_sizes: &BTreeMap<String, usize>,
) -> Result<StanceHead> {
    let frozen = choose_frozen(train, dev, seed)?;
    finish(
        frozen.fitted,
        frozen.spec,
        dev,
        test,
        encoder,
        seed,
        frozen.candidates,
        split_sizes,
        None,
    )
}

struct Fitted {
    w1: Tensor,
    b1: Tensor,
    out: Option<(Tensor, Tensor)>,
    steps: usize,
}

impl Fitted {
    fn logits(&self, x: &Tensor) -> Result<Tensor> {
        head_logits(
            x,
            &self.w1,
            &self.b1,
            self.out.as_ref().map(|(a, b)| (a, b)),
        )
    }

    fn probabilities(&self, x: &Tensor, temperature: f32) -> Result<Vec<[f32; 4]>> {
        probs_from_logits(&(self.logits(x)? / f64::from(temperature))?)
    }
}

/// A head's trainable variables.
struct HeadVars {
    w1: Var,
    b1: Var,
    out: Option<(Var, Var)>,
}

impl HeadVars {
    /// Variables starting from a fitted head's values.
    fn new(init: &Fitted) -> Result<Self> {
        Ok(Self {
            w1: Var::from_tensor(&init.w1)?,
            b1: Var::from_tensor(&init.b1)?,
            out: match &init.out {
                None => None,
                Some((w2, b2)) => Some((Var::from_tensor(w2)?, Var::from_tensor(b2)?)),
            },
        })
    }

    fn logits(&self, x: &Tensor) -> Result<Tensor> {
        head_logits(
            x,
            self.w1.as_tensor(),
            self.b1.as_tensor(),
            self.out
                .as_ref()
                .map(|(a, b)| (a.as_tensor(), b.as_tensor())),
        )
    }

    fn vars(&self) -> Vec<Var> {
        let mut vars = vec![self.w1.clone(), self.b1.clone()];
        if let Some((w2, b2)) = &self.out {
            vars.push(w2.clone());
            vars.push(b2.clone());
        }
        vars
    }

    fn snapshot(&self, steps: usize) -> Result<Fitted> {
        Ok(Fitted {
            w1: self.w1.as_tensor().copy()?,
            b1: self.b1.as_tensor().copy()?,
            out: match &self.out {
                None => None,
                Some((w2, b2)) => Some((w2.as_tensor().copy()?, b2.as_tensor().copy()?)),
            },
            steps,
        })
    }
}

fn probs_from_logits(logits: &Tensor) -> Result<Vec<[f32; 4]>> {
    let p = candle_nn::ops::softmax(logits, D::Minus1)?.to_vec2::<f32>()?;
    Ok(p.into_iter().map(|r| [r[0], r[1], r[2], r[3]]).collect())
}

/// Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for linear
/// layers, drawn from a seeded ChaCha stream so reruns are identical.
fn seeded_uniform(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Result<Var> {
    let bound = 1.0 / (cols as f32).sqrt();
    let v: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random_range(-bound..bound))
        .collect();
    Ok(Var::from_tensor(&Tensor::from_vec(
        v,
        (rows, cols),
        &Device::Cpu,
    )?)?)
}

fn fit(spec: Spec, train: &SplitData, dev: &SplitData, seed: u64) -> Result<Fitted> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dim = train.x.dim(1)?;
    let classes = Stance::ALL.len();
    let first = if spec.kind == HeadKind::Mlp {
        spec.hidden
    } else {
        classes
    };
    let head = HeadVars {
        w1: seeded_uniform(&mut rng, first, dim)?,
        b1: Var::from_tensor(&Tensor::zeros(first, DType::F32, &Device::Cpu)?)?,
        out: match spec.kind {
            HeadKind::Logistic => None,
            HeadKind::Mlp => Some((
                seeded_uniform(&mut rng, classes, spec.hidden)?,
                Var::from_tensor(&Tensor::zeros(classes, DType::F32, &Device::Cpu)?)?,
            )),
        },
    };
    let class_w = class_weights(train.y.iter().copied());

    let mut opt = AdamW::new(
        head.vars(),
        ParamsAdamW {
            lr: spec.lr,
            weight_decay: spec.weight_decay,
            ..Default::default()
        },
    )?;
    let mut best: Option<(f32, Fitted)> = None;
    for step in 1..=spec.steps {
        let loss = weighted_nll(&head.logits(&train.x)?, &train.y, &class_w)?;
        opt.backward_step(&loss)?;
        if step % EVAL_EVERY == 0 {
            let f = head.snapshot(step)?;
            let f1 = evaluate(&dev.y, &f.probabilities(&dev.x, 1.0)?).macro_f1;
            if best.as_ref().is_none_or(|(b, _)| f1 > *b) {
                best = Some((f1, f));
            }
        }
    }
    match best {
        Some((_, f)) => Ok(f),
        None => head.snapshot(spec.steps),
    }
}

/// The temperature that minimizes the dev split's negative log-likelihood
/// (Guo et al., 2017), searched on a grid: one parameter needs no optimizer.
fn calibrate(logits: &Tensor, gold: &[Stance]) -> Result<f32> {
    let mut best = (f32::INFINITY, 1.0f32);
    for i in 0..=236 {
        let t = 0.3 + 0.02 * i as f32;
        let probs = probs_from_logits(&(logits / f64::from(t))?)?;
        let nll = evaluate(gold, &probs).nll;
        if nll < best.0 {
            best = (nll, t);
        }
    }
    Ok(best.1)
}

/// Metrics of a head on a labeled file, for `detente eval`.
pub fn evaluate_examples(probs: &[[f32; 4]], examples: &[Example]) -> Metrics {
    let gold: Vec<Stance> = examples.iter().map(|e| e.label).collect();
    evaluate(&gold, probs)
}

pub fn default_data_dir() -> &'static Path {
    Path::new("models/data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Four well-separated clusters: every candidate must learn them, and a
    /// rerun with the same seed must give the same weights.
    #[test]
    fn fits_separable_data_reproducibly() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let make = |rng: &mut ChaCha8Rng, n: usize| -> SplitData {
            let mut x = Vec::new();
            let mut y = Vec::new();
            for i in 0..n {
                let label = Stance::ALL[i % 4];
                for d in 0..8 {
                    let centre = if d == label.index() { 2.0 } else { 0.0 };
                    x.push(centre + rng.random_range(-0.3f32..0.3));
                }
                y.push(label);
            }
            SplitData {
                x: Tensor::from_vec(x, (n, 8), &Device::Cpu).unwrap(),
                y,
            }
        };
        let (train, dev, test) = (make(&mut rng, 200), make(&mut rng, 40), make(&mut rng, 40));
        let stamp = EncoderStamp {
            model_id: "test".into(),
            revision: "0".into(),
            embedding_size: 8,
            max_tokens: 16,
            probe: vec![],
        };
        let a = fit_best(&train, &dev, &test, stamp.clone(), 7, &BTreeMap::new()).unwrap();
        let b = fit_best(&train, &dev, &test, stamp, 7, &BTreeMap::new()).unwrap();
        assert!(a.config().metrics["test"].accuracy > 0.95);
        let pa = a.probabilities(&test.x, None).unwrap();
        let pb = b.probabilities(&test.x, None).unwrap();
        assert_eq!(pa, pb);
        for p in pa {
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn class_weights_make_each_label_pull_equally() {
        use Stance::*;
        let labels = [
            Neutral,
            Neutral,
            Neutral,
            Neutral,
            Neutral,
            Neutral,
            Optimistic,
            Threatening,
        ];
        let w = class_weights(labels.iter().copied());
        for s in [Neutral, Optimistic, Threatening] {
            let pull: f32 = labels
                .iter()
                .filter(|&&y| y == s)
                .map(|y| w[y.index()])
                .sum();
            let share = labels.len() as f32 / 4.0;
            assert!((pull - share).abs() < 1e-5, "{s:?}: {pull} vs {share}");
        }
        assert_eq!(w[Conciliatory.index()], 0.0, "absent label");
    }
}
