//! The CLI's gRPC client: the same answers as in-process, over the wire.
use anyhow::{Context, Result};
use tonic::transport::{Channel, Endpoint};

use detente::analyzer::{Analysis, Info};
use detente::proto::{self, detente_client::DetenteClient};
use detente::quotes::Quote;
use detente::stance::Classification;
use detente::wire;

pub struct Client {
    inner: DetenteClient<Channel>,
}

/// Accepts `host:port` as well as `http://host:port`.
fn endpoint(url: &str) -> Result<Endpoint> {
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    Endpoint::from_shared(url.clone()).with_context(|| format!("bad server address {url}"))
}

impl Client {
    pub async fn connect(url: &str) -> Result<Self> {
        let channel = endpoint(url)?
            .connect()
            .await
            .with_context(|| format!("cannot reach the detente server at {url}"))?;
        Ok(Self {
            inner: DetenteClient::new(channel)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20),
        })
    }

    /// Streams the articles and returns one result per article, in order.
    pub async fn analyze(
        &mut self,
        articles: Vec<(String, String)>,
    ) -> Result<Vec<Result<Analysis, String>>> {
        let n = articles.len();
        let requests: Vec<proto::AnalyzeArticleRequest> = articles
            .into_iter()
            .map(|(id, text)| proto::AnalyzeArticleRequest {
                id,
                title: String::new(),
                text,
            })
            .collect();
        let mut stream = self
            .inner
            .analyze_articles(tokio_stream::iter(requests))
            .await
            .map_err(status_error)?
            .into_inner();
        let mut out = Vec::with_capacity(n);
        while let Some(a) = stream.message().await.map_err(status_error)? {
            out.push(match &a.error {
                Some(e) => Err(e.message.clone()),
                None => Ok(wire::analysis_from_proto(&a)),
            });
        }
        if out.len() != n {
            anyhow::bail!("server answered {} of {n} articles", out.len());
        }
        Ok(out)
    }

    pub async fn classify(&mut self, statements: Vec<String>) -> Result<Vec<Classification>> {
        let resp = self
            .inner
            .classify_statements(proto::ClassifyStatementsRequest { statements })
            .await
            .map_err(status_error)?
            .into_inner();
        resp.results
            .iter()
            .map(|r| {
                wire::classification_from_proto(r)
                    .context("server sent a statement without a stance")
            })
            .collect()
    }

    pub async fn extract(&mut self, text: String) -> Result<Vec<Quote>> {
        let resp = self
            .inner
            .extract_quotes(proto::ExtractQuotesRequest { text })
            .await
            .map_err(status_error)?
            .into_inner();
        Ok(resp.quotes.iter().map(wire::quote_from_proto).collect())
    }

    pub async fn info(&mut self) -> Result<Info> {
        let resp = self
            .inner
            .get_info(proto::GetInfoRequest {})
            .await
            .map_err(status_error)?
            .into_inner();
        Ok(wire::info_from_proto(&resp))
    }
}

fn status_error(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("server answered {:?}: {}", s.code(), s.message())
}
