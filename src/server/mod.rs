//! The gRPC face: the detente service, health, reflection and graceful
//! shutdown. The model loads after the port is bound, so health answers
//! NOT_SERVING until it is ready.
mod limits;
mod service;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use limits::Limits;
pub use service::{DetenteService, to_status};

use crate::analyzer::{Analyzer, ModelOptions};
use crate::error::{Error, Result};
use crate::proto::detente_server::DetenteServer;
use crate::queue::{BatchQueue, QueueOptions};

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub limits: Limits,
    pub queue: QueueOptions,
    /// Largest gRPC message accepted, in bytes.
    pub max_message_bytes: usize,
    /// HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub drain: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            limits: Limits::default(),
            queue: QueueOptions::default(),
            max_message_bytes: 4 << 20,
            max_concurrent_streams: 256,
            drain: Duration::from_secs(30),
        }
    }
}

/// Binds, loads the model, serves until `shutdown` resolves, then drains.
/// `on_bound` receives the bound address (useful with port 0).
pub async fn serve(
    opts: ServeOptions,
    model: ModelOptions,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = TcpListener::bind(opts.addr)
        .await
        .map_err(|e| Error::io(opts.addr.to_string(), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io(opts.addr.to_string(), e))?;
    on_bound(bound);

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_not_serving::<DetenteServer<DetenteService>>()
        .await;
    // Both reflection versions: grpcurl and other tools still speak v1alpha.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder()
        .build_v1()
        .map_err(|e| Error::Server(format!("reflection: {e}")))?;
    let reflection_alpha = reflection_builder()
        .build_v1alpha()
        .map_err(|e| Error::Server(format!("reflection: {e}")))?;

    let engine: Arc<OnceLock<BatchQueue>> = Arc::new(OnceLock::new());
    let service = DetenteService::new(engine.clone(), opts.limits);
    let detente = DetenteServer::new(service)
        .max_decoding_message_size(opts.max_message_bytes)
        .max_encoding_message_size(opts.max_message_bytes.max(64 << 20));

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let health_on_stop = health.clone();
    let mut stop_signal = stop_rx.clone();
    let graceful = async move {
        let _ = stop_signal.wait_for(|s| *s).await;
        // Load balancers stop sending before the listener closes.
        health_on_stop
            .set_not_serving::<DetenteServer<DetenteService>>()
            .await;
    };
    let server = tonic::transport::Server::builder()
        .max_concurrent_streams(opts.max_concurrent_streams)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(detente)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), graceful);
    let mut server = tokio::spawn(server);

    // Shutdown signal → stop accepting and drain.
    let signal_tx = stop_tx.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        let _ = signal_tx.send(true);
    });

    let started = std::time::Instant::now();
    let load = tokio::task::spawn_blocking(move || Analyzer::load(&model));
    tokio::select! {
        loaded = load => {
            let analyzer = loaded.map_err(|e| Error::Server(format!("model loading panicked: {e}")))??;
            tracing::info!(seconds = started.elapsed().as_secs_f32(), "model loaded");
            let _ = engine.set(BatchQueue::start(Arc::new(analyzer), opts.queue, None));
            health.set_serving::<DetenteServer<DetenteService>>().await;
        }
        done = &mut server => {
            return finish(done);
        }
    }

    let mut stopping = stop_rx;
    tokio::select! {
        done = &mut server => finish(done),
        _ = stopping.wait_for(|s| *s) => {
            match tokio::time::timeout(opts.drain, &mut server).await {
                Ok(done) => finish(done),
                Err(_) => {
                    tracing::warn!(seconds = opts.drain.as_secs(), "drain deadline passed; exiting with requests in flight");
                    Ok(())
                }
            }
        }
    }
}

fn finish(
    done: std::result::Result<
        std::result::Result<(), tonic::transport::Error>,
        tokio::task::JoinError,
    >,
) -> Result<()> {
    match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::Server(e.to_string())),
        Err(e) => Err(Error::Server(format!("server task: {e}"))),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
