//! The CLI's gRPC client: the same answers as in-process, over the wire.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use detente::analyzer::{Analysis, Info};
use detente::proto::{self, detente_client::DetenteClient};
use detente::quotes::Quote;
use detente::stance::Classification;
use detente::wire;

#[derive(Clone)]
pub struct Client {
    inner: DetenteClient<InterceptedService<Channel, Auth>>,
}

/// Adds `authorization: Bearer <key>` to every call when a key is set.
#[derive(Clone)]
pub struct Auth(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
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

/// How to reach a server that requires an API key or TLS: flags of every
/// command that takes `--server`, with environment fallbacks.
#[derive(Args, Clone)]
pub struct ConnectArgs {
    /// API key for a server started with --api-key-file (sent as
    /// `authorization: Bearer <key>`). The environment variable keeps it out
    /// of the process list.
    #[arg(
        long,
        env = "DETENTE_API_KEY",
        hide_env_values = true,
        value_name = "KEY",
        help_heading = "Server connection"
    )]
    pub api_key: Option<String>,
    /// CA certificate (PEM) the server's TLS certificate must chain to; with
    /// it the connection is TLS (an address without a scheme gets https://).
    #[arg(
        long,
        env = "DETENTE_TLS_CA",
        value_name = "PEM_FILE",
        help_heading = "Server connection"
    )]
    pub tls_ca: Option<PathBuf>,
}

impl std::fmt::Debug for ConnectArgs {
    // The key never reaches logs or debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectArgs")
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}

impl Client {
    /// Connects with the API key and CA certificate of `how` (an empty key
    /// counts as none).
    pub async fn connect(url: &str, how: &ConnectArgs) -> Result<Self> {
        let key = how.api_key.clone().filter(|k| !k.is_empty());
        Self::connect_with(url, key, how.tls_ca.clone()).await
    }

    /// `api_key` goes out as `authorization: Bearer <key>`. With `ca` (a PEM
    /// file), the connection is TLS and the server's certificate must chain
    /// to it; an `https://` address needs `ca` too.
    pub async fn connect_with(
        url: &str,
        api_key: Option<String>,
        ca: Option<PathBuf>,
    ) -> Result<Self> {
        // Several servers, comma-separated, share the load: requests are
        // balanced over them (each stream stays on one server).
        let urls: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| match &ca {
                Some(_) if !u.contains("://") => format!("https://{u}"),
                _ => u.to_string(),
            })
            .collect();
        anyhow::ensure!(!urls.is_empty(), "no server address in {url:?}");
        let tls = match &ca {
            Some(ca) => {
                let pem = std::fs::read(ca)
                    .with_context(|| format!("cannot read the CA certificate {}", ca.display()))?;
                Some(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
            }
            None => None,
        };
        let mut endpoints = Vec::with_capacity(urls.len());
        for u in &urls {
            let mut e = endpoint(u)?;
            if let Some(tls) = &tls {
                e = e.tls_config(tls.clone()).context("TLS settings")?;
            }
            endpoints.push(e);
        }
        let auth = match api_key {
            Some(k) => Some(
                format!("Bearer {k}")
                    .parse::<MetadataValue<Ascii>>()
                    .context("the API key must be printable ASCII")?,
            ),
            None => None,
        };
        let channel = if endpoints.len() == 1 {
            endpoints[0]
                .connect()
                .await
                .with_context(|| format!("cannot reach the detente server at {url}"))?
        } else {
            Channel::balance_list(endpoints.into_iter())
        };
        Ok(Self {
            inner: DetenteClient::with_interceptor(channel, Auth(auth))
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
