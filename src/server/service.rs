//! The `detente.v1.Detente` service: validation and limits, then the library.
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::auth::{is_size_error, size_status};
use super::deadline::Deadline;
use super::limits::Limits;
use super::metrics::{Metrics, RpcTimer};
use crate::analyzer::{Analysis, assemble, statement_texts};
use crate::error::Error;
use crate::proto::{self, detente_server::Detente};
use crate::queue::BatchQueue;
use crate::wire;

/// The service's state: the engine appears once the model has loaded.
#[derive(Clone)]
pub struct DetenteService {
    engine: Arc<OnceLock<BatchQueue>>,
    limits: Limits,
    metrics: Arc<Metrics>,
}

impl DetenteService {
    pub fn new(engine: Arc<OnceLock<BatchQueue>>, limits: Limits, metrics: Arc<Metrics>) -> Self {
        Self {
            engine,
            limits,
            metrics,
        }
    }

    fn engine(&self) -> Result<&BatchQueue, Status> {
        self.engine
            .get()
            .ok_or_else(|| Status::unavailable("the model is still loading; retry shortly"))
    }

    async fn analyze_one(
        &self,
        req: &proto::AnalyzeArticleRequest,
    ) -> Result<proto::ArticleAnalysis, Status> {
        let engine = self.engine()?;
        self.limits.check_article(&req.text)?;
        let analyzer = engine.analyzer().clone();
        let text = req.text.clone();
        let quotes = tokio::task::spawn_blocking(move || analyzer.extract(&text))
            .await
            .map_err(|e| Status::internal(format!("extraction failed: {e}")))?;
        self.limits.check_quotes(quotes.len())?;
        let statements: Vec<String> = statement_texts(&quotes)
            .into_iter()
            .map(str::to_string)
            .collect();
        let labels = engine.classify(statements).await.map_err(to_status)?;
        let analysis: Analysis = assemble(quotes, labels).map_err(to_status)?;
        Ok(wire::analysis_to_proto(&req.id, &req.title, &analysis))
    }
}

/// Maps library errors to gRPC codes: the caller's fault, the server's load,
/// or the server's fault.
pub fn to_status(e: Error) -> Status {
    match e {
        Error::InvalidInput(m) => Status::invalid_argument(m),
        Error::Overloaded(m) => Status::resource_exhausted(m),
        Error::Tokenizer(m) => Status::invalid_argument(format!("tokenizer: {m}")),
        other => Status::internal(other.to_string()),
    }
}

type AnalysisStream = Pin<Box<dyn Stream<Item = Result<proto::ArticleAnalysis, Status>> + Send>>;

#[tonic::async_trait]
impl Detente for DetenteService {
    async fn analyze_article(
        &self,
        request: Request<proto::AnalyzeArticleRequest>,
    ) -> Result<Response<proto::ArticleAnalysis>, Status> {
        let timer = self.metrics.rpc("AnalyzeArticle", deadline(&request));
        let req = request.into_inner();
        let out = self.analyze_one(&req).await;
        finish(timer, &out);
        out.map(Response::new)
    }

    type AnalyzeArticlesStream = AnalysisStream;

    async fn analyze_articles(
        &self,
        request: Request<Streaming<proto::AnalyzeArticleRequest>>,
    ) -> Result<Response<Self::AnalyzeArticlesStream>, Status> {
        let timer = self.metrics.rpc("AnalyzeArticles", deadline(&request));
        if let Err(status) = self.engine() {
            timer.finish(status.code());
            return Err(status);
        }
        let input = request.into_inner();
        let this = self.clone();
        let metrics = self.metrics.clone();
        let width = self.limits.stream_concurrency.max(1);
        // Several articles of one stream are in flight at once so their
        // statements share forward passes; `buffered` keeps the answers in
        // request order. A bad article answers with `error` set for its id.
        let output = input
            .map(move |item| {
                let this = this.clone();
                let metrics = metrics.clone();
                async move {
                    match item {
                        Ok(req) => Ok(match this.analyze_one(&req).await {
                            Ok(a) => {
                                metrics.stream_article(tonic::Code::Ok);
                                a
                            }
                            Err(status) => {
                                metrics.stream_article(status.code());
                                proto::ArticleAnalysis {
                                    id: req.id,
                                    title: req.title,
                                    error: Some(proto::Error {
                                        code: status.code() as i32,
                                        message: status.message().to_string(),
                                    }),
                                    ..Default::default()
                                }
                            }
                        }),
                        // The transport failed or a message was over the size
                        // limit: nothing more can be read from this stream.
                        Err(status) if is_size_error(&status) => Err(size_status(&status)),
                        Err(status) => Err(status),
                    }
                }
            })
            .buffered(width);
        Ok(Response::new(Box::pin(Timed {
            inner: Box::pin(output),
            timer: Some(timer),
        })))
    }

    async fn classify_statements(
        &self,
        request: Request<proto::ClassifyStatementsRequest>,
    ) -> Result<Response<proto::ClassifyStatementsResponse>, Status> {
        let timer = self.metrics.rpc("ClassifyStatements", deadline(&request));
        let out = self.classify(request.into_inner()).await;
        finish(timer, &out);
        out.map(Response::new)
    }

    async fn extract_quotes(
        &self,
        request: Request<proto::ExtractQuotesRequest>,
    ) -> Result<Response<proto::ExtractQuotesResponse>, Status> {
        let timer = self.metrics.rpc("ExtractQuotes", deadline(&request));
        let out = self.extract(request.into_inner()).await;
        finish(timer, &out);
        out.map(Response::new)
    }

    async fn get_info(
        &self,
        request: Request<proto::GetInfoRequest>,
    ) -> Result<Response<proto::Info>, Status> {
        let timer = self.metrics.rpc("GetInfo", deadline(&request));
        let out = self
            .engine()
            .map(|engine| wire::info_to_proto(&engine.analyzer().info()));
        finish(timer, &out);
        out.map(Response::new)
    }
}

impl DetenteService {
    async fn classify(
        &self,
        req: proto::ClassifyStatementsRequest,
    ) -> Result<proto::ClassifyStatementsResponse, Status> {
        let engine = self.engine()?;
        self.limits.check_statements(&req.statements)?;
        let labels = engine
            .classify(req.statements.clone())
            .await
            .map_err(to_status)?;
        let results = req
            .statements
            .iter()
            .zip(&labels)
            .map(|(t, c)| wire::classification_to_proto(t, c))
            .collect();
        Ok(proto::ClassifyStatementsResponse { results })
    }

    async fn extract(
        &self,
        req: proto::ExtractQuotesRequest,
    ) -> Result<proto::ExtractQuotesResponse, Status> {
        self.limits.check_article(&req.text)?;
        let quotes = tokio::task::spawn_blocking(move || crate::quotes::extract(&req.text))
            .await
            .map_err(|e| Status::internal(format!("extraction failed: {e}")))?;
        self.limits.check_quotes(quotes.len())?;
        Ok(proto::ExtractQuotesResponse {
            quotes: quotes.iter().map(wire::quote_to_proto).collect(),
        })
    }
}

/// The call's deadline, set by `deadline::Deadlines`.
fn deadline<T>(request: &Request<T>) -> Option<std::time::Instant> {
    request.extensions().get::<Deadline>().map(|d| d.0)
}

fn finish<T>(timer: RpcTimer, out: &Result<T, Status>) {
    timer.finish(match out {
        Ok(_) => tonic::Code::Ok,
        Err(s) => s.code(),
    });
}

/// A response stream that records its RPC when it ends: OK at its end, the
/// code of a terminal error; when dropped early, CANCELLED (the caller reset
/// the stream or its connection died) or DEADLINE_EXCEEDED (see `RpcTimer`).
/// Dropping it drops the request stream and the articles in flight.
struct Timed {
    inner: AnalysisStream,
    timer: Option<RpcTimer>,
}

impl Stream for Timed {
    type Item = Result<proto::ArticleAnalysis, Status>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let next = self.inner.as_mut().poll_next(cx);
        let code = match &next {
            std::task::Poll::Ready(None) => Some(tonic::Code::Ok),
            std::task::Poll::Ready(Some(Err(s))) => Some(s.code()),
            _ => None,
        };
        if let Some(code) = code
            && let Some(timer) = self.timer.take()
        {
            timer.finish(code);
        }
        next
    }
}
