//! Sentence vectors: tokenizer, BERT, mean pooling and normalization, with
//! length-sorted batching so padding costs little.
use std::borrow::Borrow;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;
use tokenizers::Tokenizer;

use super::adapter::{Adapter, EncoderShape};
use super::bert::{Bert, BertConfig, Dropout, LayerDelta, mean_pool_normalize};
use super::resolve::ModelFiles;
use crate::error::{Error, Result};

/// sentence-transformers reads at most this many tokens of a statement unless
/// the model's `sentence_bert_config.json` says otherwise.
const DEFAULT_MAX_TOKENS: usize = 256;

/// One statement, tokenized and cut to the encoder's window.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub ids: Vec<u32>,
    /// True when the statement was longer than the window.
    pub truncated: bool,
}

/// Limits on one forward pass.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_batch_size: usize,
    /// Padded tokens per pass (batch size × longest sequence).
    pub max_batch_tokens: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_batch_size: 32,
            max_batch_tokens: 8192,
        }
    }
}

/// The arithmetic of the encoder's linear layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// bf16 where the CPU has AVX-512 BF16, f32 elsewhere.
    #[default]
    Auto,
    /// f32 throughout: vectors match sentence-transformers to 1e-4.
    F32,
    /// bf16 products with f32 sums (about twice as fast); labels agree with
    /// f32 on all but a fraction of a percent of statements.
    Bf16,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::Auto => "auto",
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}

pub struct Encoder {
    tokenizer: Tokenizer,
    bert: Bert,
    device: Device,
    max_tokens: usize,
    sep_id: u32,
    pad_id: u32,
    limits: BatchLimits,
}

#[derive(Deserialize)]
struct SentenceConfig {
    max_seq_length: Option<usize>,
}

impl Encoder {
    pub fn load(files: &ModelFiles) -> Result<Self> {
        let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| Error::io(p, e));
        let cfg: BertConfig =
            serde_json::from_slice(&read(&files.config)?).map_err(|e| Error::ModelFile {
                path: files.config.clone(),
                reason: e.to_string(),
            })?;
        let mut tokenizer =
            Tokenizer::from_file(&files.tokenizer).map_err(|e| Error::ModelFile {
                path: files.tokenizer.clone(),
                reason: e.to_string(),
            })?;
        // The shipped tokenizer.json pads and truncates to 128; we do both
        // ourselves, per batch, at the window sentence-transformers uses.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let token = |t: &str| {
            tokenizer.token_to_id(t).ok_or_else(|| Error::ModelFile {
                path: files.tokenizer.clone(),
                reason: format!("vocabulary has no {t}"),
            })
        };
        let sep_id = token("[SEP]")?;
        let pad_id = token("[PAD]").unwrap_or(0);
        let sentence_max = match &files.sentence_config {
            Some(p) => serde_json::from_slice::<SentenceConfig>(&read(p)?)
                .ok()
                .and_then(|c| c.max_seq_length),
            None => None,
        };
        let max_tokens = sentence_max
            .unwrap_or(DEFAULT_MAX_TOKENS)
            .min(cfg.max_position_embeddings)
            .max(2);
        let device = Device::Cpu;
        // SAFETY: the weights file is memory-mapped read-only; detente never
        // writes to it, and the cache's blobs are not rewritten in place.
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[&files.weights], DType::F32, &device) }
                .map_err(|e| Error::ModelFile {
                    path: files.weights.clone(),
                    reason: e.to_string(),
                })?;
        let bert = Bert::load(vb, &cfg).map_err(|e| Error::ModelFile {
            path: files.weights.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            tokenizer,
            bert,
            device,
            max_tokens,
            sep_id,
            pad_id,
            limits: BatchLimits::default(),
        })
    }

    pub fn with_limits(mut self, limits: BatchLimits) -> Self {
        self.limits = BatchLimits {
            max_batch_size: limits.max_batch_size.max(1),
            max_batch_tokens: limits.max_batch_tokens.max(self.max_tokens),
        };
        self
    }

    pub fn limits(&self) -> BatchLimits {
        self.limits
    }

    /// Chooses the linear layers' arithmetic; returns what is in effect
    /// (`Auto` resolves to `Bf16` or `F32`).
    pub fn set_precision(&mut self, precision: Precision) -> Result<Precision> {
        let bf16 = match precision {
            Precision::F32 => false,
            Precision::Bf16 if !super::kernels::bf16_supported() => {
                return Err(Error::InvalidInput(
                    "precision bf16 needs a CPU with AVX-512 BF16; use f32 or auto".into(),
                ));
            }
            Precision::Bf16 => true,
            Precision::Auto => super::kernels::bf16_supported(),
        };
        self.bert.set_bf16(bf16)?;
        Ok(self.precision())
    }

    /// The arithmetic in effect: `Bf16` or `F32`.
    pub fn precision(&self) -> Precision {
        if self.bert.is_bf16() {
            Precision::Bf16
        } else {
            Precision::F32
        }
    }

    pub fn hidden_size(&self) -> usize {
        self.bert.hidden_size()
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Tokenizes with [CLS]/[SEP] and keeps at most `max_tokens`, as
    /// sentence-transformers does: the tail is cut and [SEP] kept last.
    pub fn tokenize(&self, text: &str) -> Result<Tokens> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let mut ids = enc.get_ids().to_vec();
        let truncated = ids.len() > self.max_tokens;
        if truncated {
            ids.truncate(self.max_tokens - 1);
            ids.push(self.sep_id);
        }
        Ok(Tokens { ids, truncated })
    }

    pub fn tokenize_all(&self, texts: &[&str]) -> Result<Vec<Tokens>> {
        texts.iter().map(|t| self.tokenize(t)).collect()
    }

    /// Sentence vectors `[n, hidden]` for tokenized statements, in input order.
    pub fn embed_tokens<T: Borrow<Tokens>>(&self, tokens: &[T]) -> Result<Tensor> {
        if tokens.is_empty() {
            return Ok(Tensor::zeros(
                (0, self.hidden_size()),
                DType::F32,
                &self.device,
            )?);
        }
        // Sort by length so each pass pads little, then restore the order.
        let mut order: Vec<usize> = (0..tokens.len()).collect();
        order.sort_by_key(|&i| tokens[i].borrow().ids.len());
        let mut parts = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let mut end = start + 1;
            while end < order.len()
                && end - start < self.limits.max_batch_size
                && (end - start + 1) * tokens[order[end]].borrow().ids.len()
                    <= self.limits.max_batch_tokens
            {
                end += 1;
            }
            let batch: Vec<&Tokens> = order[start..end]
                .iter()
                .map(|&i| tokens[i].borrow())
                .collect();
            parts.push(self.forward_batch(&batch)?);
            start = end;
        }
        let sorted = Tensor::cat(&parts, 0)?;
        let mut inverse = vec![0u32; order.len()];
        for (pos, &i) in order.iter().enumerate() {
            inverse[i] = pos as u32;
        }
        let idx = Tensor::new(inverse.as_slice(), &self.device)?;
        Ok(sorted.index_select(&idx, 0)?)
    }

    /// Sentence vectors for statements, in input order, with their truncation flags.
    pub fn embed(&self, texts: &[&str]) -> Result<(Tensor, Vec<bool>)> {
        let tokens = self.tokenize_all(texts)?;
        let truncated = tokens.iter().map(|t| t.truncated).collect();
        Ok((self.embed_tokens(&tokens)?, truncated))
    }

    pub fn num_layers(&self) -> usize {
        self.bert.num_layers()
    }

    /// The sizes a fine-tuning adapter must match.
    pub fn shape(&self) -> EncoderShape {
        self.bert.shape()
    }

    /// Folds a fine-tuned adapter into the encoder's weights.
    pub fn merge_adapter(&mut self, adapter: &Adapter) -> Result<()> {
        Ok(self.bert.merge(adapter)?)
    }

    /// Sentence vectors through the differentiable forward pass, with
    /// trainable updates and, when training, dropout: for fine-tuning only.
    pub fn embed_differentiable(
        &self,
        batch: &[&Tokens],
        deltas: &[LayerDelta],
        dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let (ids, mask) = self.pad(batch)?;
        let hidden = self
            .bert
            .forward_differentiable(&ids, &mask, deltas, dropout)?;
        Ok(mean_pool_normalize(&hidden, &mask)?)
    }

    fn pad(&self, batch: &[&Tokens]) -> Result<(Tensor, Tensor)> {
        let len = batch.iter().map(|t| t.ids.len()).max().unwrap_or(0);
        let n = batch.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for t in batch {
            ids.extend_from_slice(&t.ids);
            ids.extend(std::iter::repeat_n(self.pad_id, len - t.ids.len()));
            mask.extend(std::iter::repeat_n(1f32, t.ids.len()));
            mask.extend(std::iter::repeat_n(0f32, len - t.ids.len()));
        }
        Ok((
            Tensor::from_vec(ids, (n, len), &self.device)?,
            Tensor::from_vec(mask, (n, len), &self.device)?,
        ))
    }

    /// One padded forward pass.
    fn forward_batch(&self, batch: &[&Tokens]) -> Result<Tensor> {
        let len = batch.iter().map(|t| t.ids.len()).max().unwrap_or(0);
        let (ids, mask) = self.pad(batch)?;
        let padded = batch.iter().any(|t| t.ids.len() < len);
        let hidden = self.bert.forward(&ids, padded.then_some(&mask))?;
        Ok(mean_pool_normalize(&hidden, &mask)?)
    }
}
