//! The gRPC face: the detente service, health, reflection, metrics, API keys,
//! TLS and graceful shutdown. The model loads after the port is bound, so
//! health answers NOT_SERVING until it is ready, and again from the moment a
//! shutdown signal arrives.
mod auth;
mod deadline;
mod limits;
pub mod metrics;
mod service;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

pub use auth::ApiKeys;
pub use limits::Limits;
pub use metrics::Metrics;
pub use service::{DetenteService, to_status};

use crate::analyzer::{Analyzer, ModelOptions};

/// The future type of the server's tower middlewares (API keys, deadlines).
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
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
    /// Between the shutdown signal and closing the listener, health already
    /// says NOT_SERVING while requests are still accepted, so load balancers
    /// can steer away before connections are refused.
    pub shutdown_delay: Duration,
    /// Server-side cap on a unary request's duration; a client's shorter
    /// `grpc-timeout` wins, and is the only deadline of a stream. Either ends
    /// the call with DEADLINE_EXCEEDED (see `deadline.rs`).
    pub request_timeout: Option<Duration>,
    /// Where to serve Prometheus metrics over HTTP; off when `None`.
    pub metrics_addr: Option<SocketAddr>,
    /// When set, detente RPCs need `authorization: Bearer <key>`.
    pub api_keys: Option<ApiKeys>,
    /// PEM certificate chain and private key: serve TLS instead of plaintext.
    pub tls: Option<TlsPem>,
}

#[derive(Clone)]
pub struct TlsPem {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for TlsPem {
    // The private key never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsPem { .. }")
    }
}

/// Where the server listens, reported once the sockets are bound.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub grpc: SocketAddr,
    pub metrics: Option<SocketAddr>,
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
            shutdown_delay: Duration::ZERO,
            request_timeout: Some(Duration::from_secs(120)),
            metrics_addr: None,
            api_keys: None,
            tls: None,
        }
    }
}

/// Binds, loads the model, serves until `shutdown` resolves, then drains.
/// `on_bound` receives the bound addresses (useful with port 0).
pub async fn serve(
    opts: ServeOptions,
    model: ModelOptions,
    on_bound: impl FnOnce(Bound),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = TcpListener::bind(opts.addr)
        .await
        .map_err(|e| Error::io(opts.addr.to_string(), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io(opts.addr.to_string(), e))?;
    let metrics = Arc::new(Metrics::new()?);
    let engine: Arc<OnceLock<BatchQueue>> = Arc::new(OnceLock::new());
    let metrics_task = match opts.metrics_addr {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| Error::io(addr.to_string(), e))?;
            let at = l.local_addr().map_err(|e| Error::io(addr.to_string(), e))?;
            let task = tokio::spawn(metrics::serve_http(l, metrics.clone(), engine.clone()));
            Some((at, task))
        }
        None => None,
    };
    on_bound(Bound {
        grpc: bound,
        metrics: metrics_task.as_ref().map(|(at, _)| *at),
    });
    let result = serve_bound(opts, model, listener, metrics, engine, shutdown).await;
    if let Some((_, task)) = metrics_task {
        task.abort();
    }
    result
}

async fn serve_bound(
    opts: ServeOptions,
    model: ModelOptions,
    listener: TcpListener,
    metrics: Arc<Metrics>,
    engine: Arc<OnceLock<BatchQueue>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
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

    let service = DetenteService::new(engine.clone(), opts.limits, metrics.clone());
    let detente = auth::Guarded::new(
        deadline::Deadlines::new(
            DetenteServer::new(service)
                .max_decoding_message_size(opts.max_message_bytes)
                .max_encoding_message_size(opts.max_message_bytes.max(64 << 20)),
            opts.request_timeout,
        ),
        opts.api_keys.clone(),
        metrics.clone(),
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut stop_signal = stop_rx.clone();
    let graceful = async move {
        let _ = stop_signal.wait_for(|s| *s).await;
    };
    // No `.timeout(..)` here: deadlines are kept by `deadline::Deadlines`,
    // which answers DEADLINE_EXCEEDED (tonic's timeout says CANCELLED).
    let mut builder = tonic::transport::Server::builder()
        .max_concurrent_streams(opts.max_concurrent_streams)
        // Dead peers are noticed and their connections closed.
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)));
    if let Some(tls) = &opts.tls {
        let identity = tonic::transport::Identity::from_pem(&tls.cert, &tls.key);
        builder = builder
            .tls_config(
                tonic::transport::ServerTlsConfig::new()
                    .identity(identity)
                    // A peer that stalls the handshake cannot hold a socket.
                    .timeout(Duration::from_secs(10)),
            )
            .map_err(|e| Error::Server(format!("TLS (--tls-cert, --tls-key): {e}")))?;
    }
    let server = builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(detente)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), graceful);
    let mut server = tokio::spawn(server);

    // Shutdown signal → NOT_SERVING at once (load balancers steer away), a
    // grace period still accepting, then stop accepting and drain.
    let signal_tx = stop_tx.clone();
    let health_on_stop = health.clone();
    let delay = opts.shutdown_delay;
    let signalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signalled_on_stop = signalled.clone();
    tokio::spawn(async move {
        shutdown.await;
        signalled_on_stop.store(true, std::sync::atomic::Ordering::SeqCst);
        health_on_stop
            .set_not_serving::<DetenteServer<DetenteService>>()
            .await;
        tracing::info!(
            delay_seconds = delay.as_secs_f32(),
            "shutting down: health is NOT_SERVING; draining in-flight requests"
        );
        tokio::time::sleep(delay).await;
        let _ = signal_tx.send(true);
    });

    let started = std::time::Instant::now();
    let load = tokio::task::spawn_blocking(move || Analyzer::load(&model));
    tokio::select! {
        loaded = load => {
            let analyzer = loaded.map_err(|e| Error::Server(format!("model loading panicked: {e}")))??;
            tracing::info!(seconds = started.elapsed().as_secs_f32(), "model loaded");
            metrics.model_loaded(started.elapsed());
            let observer: crate::queue::BatchObserver = metrics.clone();
            let _ = engine.set(BatchQueue::start(Arc::new(analyzer), opts.queue, Some(observer)));
            // A shutdown signal may have come during loading: stay NOT_SERVING then.
            if !signalled.load(std::sync::atomic::Ordering::SeqCst) {
                health.set_serving::<DetenteServer<DetenteService>>().await;
            }
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
