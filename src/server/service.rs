//! The `detente.v1.Detente` service: validation and limits, then the library.
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::limits::Limits;
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
}

impl DetenteService {
    pub fn new(engine: Arc<OnceLock<BatchQueue>>, limits: Limits) -> Self {
        Self { engine, limits }
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
        let req = request.into_inner();
        self.analyze_one(&req).await.map(Response::new)
    }

    type AnalyzeArticlesStream = AnalysisStream;

    async fn analyze_articles(
        &self,
        request: Request<Streaming<proto::AnalyzeArticleRequest>>,
    ) -> Result<Response<Self::AnalyzeArticlesStream>, Status> {
        self.engine()?;
        let input = request.into_inner();
        let this = self.clone();
        let width = self.limits.stream_concurrency.max(1);
        // Several articles of one stream are in flight at once so their
        // statements share forward passes; `buffered` keeps the answers in
        // request order. A bad article answers with `error` set for its id.
        let output = input
            .map(move |item| {
                let this = this.clone();
                async move {
                    match item {
                        Ok(req) => Ok(match this.analyze_one(&req).await {
                            Ok(a) => a,
                            Err(status) => proto::ArticleAnalysis {
                                id: req.id,
                                title: req.title,
                                error: Some(proto::Error {
                                    code: status.code() as i32,
                                    message: status.message().to_string(),
                                }),
                                ..Default::default()
                            },
                        }),
                        // The transport failed: nothing more will arrive.
                        Err(status) => Err(status),
                    }
                }
            })
            .buffered(width);
        Ok(Response::new(Box::pin(output)))
    }

    async fn classify_statements(
        &self,
        request: Request<proto::ClassifyStatementsRequest>,
    ) -> Result<Response<proto::ClassifyStatementsResponse>, Status> {
        let engine = self.engine()?;
        let req = request.into_inner();
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
        Ok(Response::new(proto::ClassifyStatementsResponse { results }))
    }

    async fn extract_quotes(
        &self,
        request: Request<proto::ExtractQuotesRequest>,
    ) -> Result<Response<proto::ExtractQuotesResponse>, Status> {
        let req = request.into_inner();
        self.limits.check_article(&req.text)?;
        let quotes = tokio::task::spawn_blocking(move || crate::quotes::extract(&req.text))
            .await
            .map_err(|e| Status::internal(format!("extraction failed: {e}")))?;
        self.limits.check_quotes(quotes.len())?;
        Ok(Response::new(proto::ExtractQuotesResponse {
            quotes: quotes.iter().map(wire::quote_to_proto).collect(),
        }))
    }

    async fn get_info(
        &self,
        _request: Request<proto::GetInfoRequest>,
    ) -> Result<Response<proto::Info>, Status> {
        let engine = self.engine()?;
        Ok(Response::new(wire::info_to_proto(
            &engine.analyzer().info(),
        )))
    }
}
