//! Everything that touches the model: finding its files, the BERT encoder,
//! sentence vectors and the stance head.
pub mod adapter;
pub mod bert;
pub mod encoder;
pub mod head;
pub mod int8;
pub mod kernels;
pub mod lexical;
pub mod resolve;

pub use encoder::{BatchLimits, Encoder, Precision, Tokens};
pub use head::{HeadConfig, HeadKind, StanceHead};
pub use lexical::LexicalModel;
pub use resolve::{DEFAULT_MODEL, DEFAULT_REVISION, ModelFiles, resolve};
