//! detente finds quoted statements in news articles, labels the stance of each
//! with a local transformer (optimistic, threatening, conciliatory or neutral)
//! and scores each article's tension.
//!
//! Data flows forward: [`quotes`] (no ML) → [`model`] (encoder + stance head)
//! → [`tension`] → [`analyzer::Analysis`]. The gRPC [`server`] and the CLI are
//! thin faces over [`Analyzer`].
pub mod analyzer;
pub mod error;
pub mod metrics;
pub mod model;
pub mod queue;
pub mod quotes;
pub mod server;
pub mod stance;
pub mod tension;
pub mod train;
pub mod wire;

pub use analyzer::{Analysis, Analyzer, ModelOptions};
pub use error::{Error, Result};
pub use stance::{Classification, Scores, Stance};

/// Types generated from `proto/detente/v1/detente.proto`.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("detente.v1");
    /// The encoded descriptor set, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("detente_descriptor");
}
