//! API keys and the tower wrapper around the detente service: it checks the
//! `authorization: Bearer <key>` metadata (health and reflection are mounted
//! outside it, so probes need no key) and names the flag in tonic's own
//! message-size errors.
use super::BoxFuture;
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

use subtle::ConstantTimeEq;
use tonic::body::Body;
use tonic::server::NamedService;

use super::metrics::Metrics;
use crate::error::{Error, Result};

/// The accepted keys, one per line of `--api-key-file`.
#[derive(Clone)]
pub struct ApiKeys {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ApiKeys {
    // Keys never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.keys.len())
    }
}

impl ApiKeys {
    /// One key per line; blank lines and lines starting with `#` are skipped.
    pub fn parse(text: &str) -> Result<Self> {
        let keys: Vec<Vec<u8>> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.as_bytes().to_vec())
            .collect();
        if keys.is_empty() {
            return Err(Error::InvalidInput(
                "the API key file holds no key (one key per line)".into(),
            ));
        }
        if keys.iter().any(|k| k.iter().any(|b| !b.is_ascii_graphic())) {
            return Err(Error::InvalidInput(
                "API keys must be printable ASCII without spaces".into(),
            ));
        }
        Ok(Self { keys })
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))
    }

    /// Compares against every key without stopping early, so timing does
    /// not tell which key (or how much of one) matched.
    pub fn accepts(&self, given: &[u8]) -> bool {
        let mut ok = subtle::Choice::from(0);
        for k in &self.keys {
            ok |= k.as_slice().ct_eq(given);
        }
        ok.into()
    }

    fn check(&self, headers: &http::HeaderMap) -> std::result::Result<(), tonic::Status> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(tonic::Status::unauthenticated(
                "missing API key: send `authorization: Bearer <key>` metadata \
                 (this server was started with --api-key-file)",
            ));
        };
        let given = value.as_bytes();
        let key = given
            .strip_prefix(b"Bearer ")
            .or_else(|| given.strip_prefix(b"bearer "));
        match key {
            Some(k) if self.accepts(k.trim_ascii()) => Ok(()),
            Some(_) => Err(tonic::Status::unauthenticated("invalid API key")),
            None => Err(tonic::Status::unauthenticated(
                "malformed authorization metadata: expected `Bearer <key>`",
            )),
        }
    }
}

/// Wraps the detente service: API keys (when configured), refusal metrics,
/// and clearer message-size errors.
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    keys: Option<Arc<ApiKeys>>,
    metrics: Arc<Metrics>,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, keys: Option<ApiKeys>, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            keys: keys.map(Arc::new),
            metrics,
        }
    }
}

impl<S: NamedService> NamedService for Guarded<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for Guarded<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<std::result::Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if let Some(keys) = &self.keys
            && let Err(status) = keys.check(req.headers())
        {
            self.metrics
                .refused(rpc_name(req.uri().path()), status.code());
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let rpc = rpc_name(req.uri().path()).to_string();
        let metrics = self.metrics.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(rename_size_error(resp, &rpc, &metrics))
        })
    }
}

/// `/detente.v1.Detente/AnalyzeArticle` → `AnalyzeArticle`.
fn rpc_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// tonic refuses an oversized message with OUT_OF_RANGE and a message that
/// names no flag; callers get RESOURCE_EXHAUSTED naming `--max-message-bytes`.
/// Only unary calls end this way (streams carry it in the stream's error).
fn rename_size_error(
    resp: http::Response<Body>,
    rpc: &str,
    metrics: &Metrics,
) -> http::Response<Body> {
    match tonic::Status::from_header_map(resp.headers()) {
        Some(status) if is_size_error(&status) => {
            metrics.refused(rpc, tonic::Code::ResourceExhausted);
            size_status(&status).into_http()
        }
        _ => resp,
    }
}

pub(crate) fn is_size_error(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::OutOfRange
        && status.message().contains("message length too large")
}

pub(crate) fn size_status(status: &tonic::Status) -> tonic::Status {
    tonic::Status::resource_exhausted(format!(
        "{} (request message over the limit set by --max-message-bytes)",
        status.message()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_compare() {
        let keys = ApiKeys::parse("# fleet keys\nalpha-1\n\n  beta-2  \n").unwrap();
        assert!(keys.accepts(b"alpha-1"));
        assert!(keys.accepts(b"beta-2"));
        assert!(!keys.accepts(b"alpha-"));
        assert!(!keys.accepts(b""));
        assert!(ApiKeys::parse("\n# none\n").is_err());
        assert!(ApiKeys::parse("has space\n").is_err());
    }

    #[test]
    fn bearer_header_is_required() {
        let keys = ApiKeys::parse("k1\n").unwrap();
        let mut h = http::HeaderMap::new();
        assert_eq!(
            keys.check(&h).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        h.insert(http::header::AUTHORIZATION, "Bearer k2".parse().unwrap());
        assert!(keys.check(&h).is_err());
        h.insert(http::header::AUTHORIZATION, "k1".parse().unwrap());
        assert!(keys.check(&h).is_err());
        h.insert(http::header::AUTHORIZATION, "Bearer k1".parse().unwrap());
        assert!(keys.check(&h).is_ok());
    }
}
