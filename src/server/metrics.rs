//! Prometheus metrics and the small HTTP listener that serves them at /metrics.
//! The registry always exists (recording is cheap); the listener runs only
//! with `--metrics-addr`.
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::queue::{BatchQueue, QueueObserver};

/// Latency buckets from 1 ms to ~30 s.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGauge,
    stream_articles: IntCounterVec,
    queue_wait: Histogram,
    tokenize: Histogram,
    inference: Histogram,
    batch_size: Histogram,
    queue_depth: IntGauge,
    skipped_jobs: IntCounter,
    model_load: Gauge,
}

fn metric_error(e: prometheus::Error) -> Error {
    Error::Server(format!("metrics: {e}"))
}

impl Metrics {
    pub fn new() -> Result<Self> {
        let registry = Registry::new_custom(Some("detente".into()), None).map_err(metric_error)?;
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "RPCs answered, by method and gRPC code."),
            &["rpc", "code"],
        )
        .map_err(metric_error)?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "request_duration_seconds",
                "Time from an RPC's arrival to its answer (streams: to the stream's end).",
            )
            .buckets(SECONDS.to_vec()),
            &["rpc"],
        )
        .map_err(metric_error)?;
        let in_flight = IntGauge::new("requests_in_flight", "RPCs being answered now.")
            .map_err(metric_error)?;
        let stream_articles = IntCounterVec::new(
            Opts::new(
                "stream_articles_total",
                "Articles answered inside AnalyzeArticles streams, by gRPC code of the entry.",
            ),
            &["code"],
        )
        .map_err(metric_error)?;
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .map_err(metric_error)
        };
        let queue_wait = histogram(
            "queue_wait_seconds",
            "Time a job waited in the inference queue.",
            SECONDS.to_vec(),
        )?;
        let tokenize = histogram(
            "tokenize_seconds",
            "Time to tokenize one request's statements.",
            SECONDS.to_vec(),
        )?;
        let inference = histogram(
            "inference_seconds",
            "Time of one drain of the queue through the model.",
            SECONDS.to_vec(),
        )?;
        let batch_size = histogram(
            "batch_statements",
            "Statements labeled in one drain of the queue.",
            vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
        )?;
        let queue_depth = IntGauge::new(
            "queue_depth_statements",
            "Statements admitted and not yet answered.",
        )
        .map_err(metric_error)?;
        let skipped_jobs = IntCounter::new(
            "queue_skipped_jobs_total",
            "Queued jobs dropped unlabeled because their caller had gone (cancelled or deadline).",
        )
        .map_err(metric_error)?;
        let model_load = Gauge::new("model_load_seconds", "Time the model took to load.")
            .map_err(metric_error)?;
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(in_flight.clone()),
            Box::new(stream_articles.clone()),
            Box::new(queue_wait.clone()),
            Box::new(tokenize.clone()),
            Box::new(inference.clone()),
            Box::new(batch_size.clone()),
            Box::new(queue_depth.clone()),
            Box::new(skipped_jobs.clone()),
            Box::new(model_load.clone()),
        ];
        for c in collectors {
            registry.register(c).map_err(metric_error)?;
        }
        Ok(Self {
            registry,
            requests,
            latency,
            in_flight,
            stream_articles,
            queue_wait,
            tokenize,
            inference,
            batch_size,
            queue_depth,
            skipped_jobs,
            model_load,
        })
    }

    /// Starts timing one RPC; the guard records it when finished or dropped.
    /// `deadline` is when the call's deadline passes, if it has one.
    pub fn rpc(self: &Arc<Self>, rpc: &'static str, deadline: Option<Instant>) -> RpcTimer {
        self.in_flight.inc();
        RpcTimer {
            metrics: self.clone(),
            rpc,
            started: Instant::now(),
            deadline,
            code: None,
        }
    }

    /// Counts an RPC refused before it reached the service (e.g. no API key).
    pub fn refused(&self, rpc: &str, code: tonic::Code) {
        self.requests
            .with_label_values(&[rpc, code_name(code)])
            .inc();
    }

    pub fn stream_article(&self, code: tonic::Code) {
        self.stream_articles
            .with_label_values(&[code_name(code)])
            .inc();
    }

    pub fn model_loaded(&self, took: Duration) {
        self.model_load.set(took.as_secs_f64());
    }

    /// The text exposition format, with the queue depth read now.
    pub fn render(&self, queue: Option<&BatchQueue>) -> String {
        if let Some(q) = queue {
            self.queue_depth
                .set(i64::try_from(q.queued()).unwrap_or(i64::MAX));
        }
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "could not encode metrics");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl QueueObserver for Metrics {
    fn tokenized(&self, _statements: usize, took: Duration) {
        self.tokenize.observe(took.as_secs_f64());
    }
    fn waited(&self, took: Duration) {
        self.queue_wait.observe(took.as_secs_f64());
    }
    fn batch(&self, statements: usize, queued: usize, took: Duration) {
        self.batch_size.observe(statements as f64);
        self.inference.observe(took.as_secs_f64());
        self.queue_depth
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
    }
    fn skipped(&self, jobs: usize) {
        self.skipped_jobs.inc_by(jobs as u64);
    }
}

/// Records one RPC: its code when `finish`ed; when dropped unfinished,
/// DEADLINE_EXCEEDED if its deadline has passed, else CANCELLED (the client
/// went away).
pub struct RpcTimer {
    metrics: Arc<Metrics>,
    rpc: &'static str,
    started: Instant,
    deadline: Option<Instant>,
    code: Option<tonic::Code>,
}

impl RpcTimer {
    pub fn finish(mut self, code: tonic::Code) {
        self.code = Some(code);
    }
}

impl Drop for RpcTimer {
    fn drop(&mut self) {
        let code = self.code.unwrap_or_else(|| match self.deadline {
            Some(at) if Instant::now() >= at => tonic::Code::DeadlineExceeded,
            _ => tonic::Code::Cancelled,
        });
        self.metrics.in_flight.dec();
        self.metrics
            .requests
            .with_label_values(&[self.rpc, code_name(code)])
            .inc();
        self.metrics
            .latency
            .with_label_values(&[self.rpc])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Serves GET /metrics (and nothing else) over HTTP/1; runs until aborted.
pub async fn serve_http(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    engine: Arc<OnceLock<BatchQueue>>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "metrics listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        let engine = engine.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let response =
                        if req.method() == hyper::Method::GET && req.uri().path() == "/metrics" {
                            hyper::Response::builder()
                                .header("content-type", "text/plain; version=0.0.4")
                                .body(Full::new(Bytes::from(metrics.render(engine.get()))))
                        } else {
                            hyper::Response::builder()
                                .status(hyper::StatusCode::NOT_FOUND)
                                .body(Full::new(Bytes::from_static(
                                    b"only GET /metrics is served here\n",
                                )))
                        };
                    async move {
                        Ok::<_, Infallible>(
                            response
                                .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new()))),
                        )
                    }
                });
            // Slow or idle clients cannot hold a connection open forever.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
            let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
        });
    }
}
