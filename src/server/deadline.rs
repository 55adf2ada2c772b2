//! Deadlines. The client's `grpc-timeout` (any RPC, streams included) and the
//! server's `--request-timeout-seconds` (unary RPCs) end a call with
//! DEADLINE_EXCEEDED and a message saying which deadline passed; the call's
//! work is dropped with it, so its queued statements are skipped.
//!
//! tonic's own server timeout is not used: it answers CANCELLED, and it
//! bounds only the time to the response headers, so a stream could outlive
//! its caller's deadline. tonic still reads `grpc-timeout` itself (outside
//! this wrapper, with a timer that would say CANCELLED), which is why a
//! client's deadline is kept here a few milliseconds early: the
//! DEADLINE_EXCEEDED answer is always ready first.
use super::BoxFuture;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Bytes, Frame};
use tonic::body::Body;
use tonic::server::NamedService;

/// When the RPC's deadline passes, in the request's extensions: the service
/// reads it so that a call dropped at its deadline is counted as
/// DEADLINE_EXCEEDED rather than CANCELLED.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

/// How much earlier than the client's own deadline the server gives up.
const AHEAD_OF_CLIENT: Duration = Duration::from_millis(10);

/// The service's streaming RPCs: the server's cap does not apply to them
/// (a stream of many articles may rightly run long), the client's deadline does.
const STREAMING: &[&str] = &["AnalyzeArticles"];

/// Wraps the detente service with the deadlines above.
#[derive(Clone)]
pub struct Deadlines<S> {
    inner: S,
    server_cap: Option<Duration>,
}

impl<S> Deadlines<S> {
    pub fn new(inner: S, server_cap: Option<Duration>) -> Self {
        Self { inner, server_cap }
    }
}

impl<S: NamedService> NamedService for Deadlines<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for Deadlines<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let now = Instant::now();
        let rpc = req.uri().path().rsplit('/').next().unwrap_or_default();
        let streaming = STREAMING.contains(&rpc);
        // A malformed header is ignored, as tonic does.
        let client = req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| parse_grpc_timeout(v.as_bytes()));
        let server = self.server_cap.filter(|_| !streaming);
        let chosen = match (client, server) {
            (Some(c), Some(s)) if s < c => Some(Chosen::Server(s)),
            (Some(c), _) => Some(Chosen::Client(c)),
            (None, Some(s)) => Some(Chosen::Server(s)),
            (None, None) => None,
        };
        // A deadline too far off to represent is no deadline.
        let Some((chosen, at)) = chosen.and_then(|c| Some((c, now.checked_add(c.budget())?)))
        else {
            let fut = self.inner.call(req);
            return Box::pin(fut);
        };
        req.extensions_mut().insert(Deadline(at));
        let fut = self.inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout_at(at.into(), fut).await {
                Ok(Ok(resp)) if streaming => {
                    Ok(resp.map(|body| Body::new(DeadlineBody::new(body, at, chosen))))
                }
                Ok(resp) => resp,
                // The handler's future is dropped here, and its work with it.
                Err(_) => Ok(chosen.status().into_http()),
            }
        })
    }
}

/// Which deadline governs a call, and its length as given.
#[derive(Debug, Clone, Copy)]
enum Chosen {
    Client(Duration),
    Server(Duration),
}

impl Chosen {
    fn budget(self) -> Duration {
        match self {
            Chosen::Client(d) => d.saturating_sub(AHEAD_OF_CLIENT),
            Chosen::Server(d) => d,
        }
    }

    fn status(self) -> tonic::Status {
        tonic::Status::deadline_exceeded(match self {
            Chosen::Client(d) => format!(
                "deadline exceeded: the client's timeout of {} (grpc-timeout) passed \
                 before the answer was complete; the work was stopped",
                human(d)
            ),
            Chosen::Server(d) => format!(
                "deadline exceeded: the request ran past the server's limit of {} \
                 (--request-timeout-seconds); the work was stopped",
                human(d)
            ),
        })
    }
}

fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `grpc-timeout`: at most 8 digits and a unit (H, M, S, m, u, n), as in
/// gRPC over HTTP/2. `None` when malformed.
fn parse_grpc_timeout(v: &[u8]) -> Option<Duration> {
    let (&unit, digits) = v.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n.saturating_mul(3600)),
        b'M' => Duration::from_secs(n.saturating_mul(60)),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A streaming response that ends with DEADLINE_EXCEEDED trailers when the
/// deadline passes first. The inner body (the response stream, which owns the
/// request stream and the work in flight) is dropped at that moment.
struct DeadlineBody {
    inner: Option<Body>,
    sleep: Pin<Box<tokio::time::Sleep>>,
    chosen: Chosen,
}

impl DeadlineBody {
    fn new(inner: Body, at: Instant, chosen: Chosen) -> Self {
        Self {
            inner: Some(inner),
            sleep: Box::pin(tokio::time::sleep_until(at.into())),
            chosen,
        }
    }
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.inner = None;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(frame)) => return Poll::Ready(Some(frame)),
            Poll::Pending => {}
        }
        if this.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.inner = None;
        let mut trailers = http::HeaderMap::new();
        match this.chosen.status().add_header(&mut trailers) {
            Ok(()) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Err(status) => Poll::Ready(Some(Err(status))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_units() {
        let p = |s: &str| parse_grpc_timeout(s.as_bytes());
        assert_eq!(p("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(p("3M"), Some(Duration::from_secs(180)));
        assert_eq!(p("4S"), Some(Duration::from_secs(4)));
        assert_eq!(p("300m"), Some(Duration::from_millis(300)));
        assert_eq!(p("99999999u"), Some(Duration::from_micros(99_999_999)));
        assert_eq!(p("7n"), Some(Duration::from_nanos(7)));
        for bad in ["", "S", "123456789S", "12x", "-1S", "1.5S", "1 S"] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn streaming_list_matches_the_proto() {
        let proto = include_str!("../../proto/detente/v1/detente.proto");
        let streaming: Vec<&str> = proto
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("rpc ") && l.contains("stream "))
            .filter_map(|l| l["rpc ".len()..].split('(').next())
            .collect();
        assert_eq!(streaming, STREAMING);
    }

    #[test]
    fn messages_say_which_deadline_passed() {
        let c = Chosen::Client(Duration::from_millis(300)).status();
        assert_eq!(c.code(), tonic::Code::DeadlineExceeded);
        assert!(
            c.message().contains("300ms (grpc-timeout)"),
            "{}",
            c.message()
        );
        let s = Chosen::Server(Duration::from_secs(120)).status();
        assert!(
            s.message().contains("120.0s (--request-timeout-seconds)"),
            "{}",
            s.message()
        );
        assert_eq!(
            Chosen::Client(Duration::from_millis(3)).budget(),
            Duration::ZERO
        );
    }
}
