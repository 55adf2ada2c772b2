//! AnalyzeArticles at scale with bad articles mixed in, a client that walks
//! away mid-stream, and deadlines (the client's and the server's): expired
//! calls answer DEADLINE_EXCEEDED, and cancelled work stops costing inference.
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use detente::proto;
use tokio_stream::StreamExt;

fn article(i: usize) -> (proto::AnalyzeArticleRequest, &'static str) {
    let id = format!("art-{i}");
    let (text, kind) = match i % 10 {
        // Over --max-article-bytes (set to 4096 below): an error entry.
        3 => ("z".repeat(5000), "oversized"),
        5 => (String::new(), "empty"),
        6 => ("   \n\n\t  ".to_string(), "empty"),
        // Valid UTF-8 full of control characters and quotation marks.
        7 => (
            format!(
                "\u{0}\u{1}\u{7f}\u{1b}[31m\"\u{0}junk {i}\u{fffe}\" \u{200b}\"\"\u{2028}\r\r\u{0}"
            ),
            "junk",
        ),
        8 => (
            format!("No quotation here at all, only prose number {i}."),
            "no-quotes",
        ),
        _ => (
            format!("\"We are ready to talk again, round {i},\" the minister said."),
            "quote",
        ),
    };
    (
        proto::AnalyzeArticleRequest {
            id,
            title: format!("t{i}"),
            text,
        },
        kind,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_articles_with_bad_ones_mixed_in() {
    let server = common::server::start(&["--max-article-bytes", "4096"]).await;
    let mut client = server.client().await;
    let n = 1000;
    let (requests, kinds): (Vec<_>, Vec<_>) = (0..n).map(article).unzip();
    let started = Instant::now();
    let mut stream = client
        .analyze_articles(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let mut answers: HashMap<String, proto::ArticleAnalysis> = HashMap::new();
    while let Some(item) = tokio::time::timeout(Duration::from_secs(60), stream.next())
        .await
        .expect("stream stalled")
    {
        let a = item.expect("the stream itself must not fail");
        assert!(
            answers.insert(a.id.clone(), a).is_none(),
            "an id was answered twice"
        );
    }
    eprintln!("{n} articles in {:.1}s", started.elapsed().as_secs_f32());
    assert_eq!(answers.len(), n, "every article answered exactly once");
    for (i, kind) in kinds.iter().enumerate() {
        let a = &answers[&format!("art-{i}")];
        assert_eq!(a.title, format!("t{i}"));
        match *kind {
            "oversized" => {
                let e = a
                    .error
                    .as_ref()
                    .expect("oversized article gets an error entry");
                assert_eq!(e.code, tonic::Code::InvalidArgument as i32);
                assert!(e.message.contains("--max-article-bytes"), "{}", e.message);
            }
            "empty" | "no-quotes" => {
                assert!(a.error.is_none(), "{kind}: {:?}", a.error);
                assert!(a.quotes.is_empty());
                assert!(!a.tension.as_ref().unwrap().has_score);
            }
            "junk" => assert!(a.error.is_none(), "junk: {:?}", a.error),
            _ => {
                assert!(a.error.is_none(), "{:?}", a.error);
                assert_eq!(a.quotes.len(), 1);
                let q = a.quotes[0].quote.as_ref().unwrap();
                assert!(q.text.contains(&format!("round {i}")), "{}", q.text);
                assert!(a.tension.as_ref().unwrap().has_score);
            }
        }
    }
}

/// Polls `metric` until it reads `want`, for at most `within`.
async fn settles(server: &common::server::Server, metric: &str, want: f64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let got = server.metric(metric).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{metric} still {got} after {within:?} (want {want})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const IN_FLIGHT: &str = "detente_requests_in_flight";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_a_stream_frees_it() {
    let server = common::server::start_metered(&[]).await;
    let mut client = server.client().await;

    // An endless request half that the client can close.
    //
    // Why the client closes it: tonic's client (hyper) sends the request half
    // from a task of its own, and resets the HTTP/2 stream only when the
    // call is dropped before the response headers arrive. A client that
    // drops only the response half of an endless stream therefore keeps the
    // stream open and keeps sending articles: to the server that is a live
    // caller (its answers are still accepted at the HTTP/2 level), so its
    // in-flight gauge rightly stays at 1. That was the gauge stuck at 1 seen
    // before (checked: six seconds after such a client dropped its response
    // half, the server was still answering some 150 of its articles a
    // second); nothing on the server side was holding on. Once both halves
    // are gone the client resets the stream, hyper drops the response body,
    // and with it the request stream and the articles in flight.
    let (close, closed) = tokio::sync::oneshot::channel::<()>();
    let endless = futures::StreamExt::take_until(
        tokio_stream::iter((0..).map(|i| article(i * 10).0)),
        closed,
    );
    let mut stream = client.analyze_articles(endless).await.unwrap().into_inner();
    for _ in 0..2 {
        let a = stream.next().await.unwrap().unwrap();
        assert!(a.error.is_none());
    }
    assert_eq!(server.metric(IN_FLIGHT).await, 1.0);
    drop(stream);
    drop(close);
    drop(client);

    settles(&server, IN_FLIGHT, 0.0, Duration::from_secs(5)).await;
    let ended = server
        .metric("detente_requests_total{code=\"CANCELLED\",rpc=\"AnalyzeArticles\"")
        .await
        + server
            .metric("detente_requests_total{code=\"OK\",rpc=\"AnalyzeArticles\"")
            .await;
    assert_eq!(ended, 1.0, "the stream was recorded once as it ended");
    let mut client = server.client().await;
    common::server::answers_one_statement(&mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_client_deadlines_answer_deadline_exceeded_and_stop_the_work() {
    let server = common::server::start_metered(&[]).await;
    // Without tonic's own client-side timer, which would say CANCELLED first.
    let raw = common::server::plain_h2_client(&server.url).await;

    // Large requests with a deadline too short to finish: the server answers
    // DEADLINE_EXCEEDED, and the queue skips their remaining jobs instead of
    // computing them.
    let statements: Vec<String> = (0..1000)
        .map(|i| format!("Statement {i}: the sides exchanged views on the border question today."))
        .collect();
    let mut calls = Vec::new();
    for _ in 0..4 {
        let mut c = raw.clone();
        let mut req = tonic::Request::new(proto::ClassifyStatementsRequest {
            statements: statements.clone(),
        });
        req.set_timeout(Duration::from_millis(300));
        calls.push(tokio::spawn(
            async move { c.classify_statements(req).await },
        ));
    }
    for call in calls {
        let r = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("answered in time")
            .unwrap();
        common::server::refused(r, tonic::Code::DeadlineExceeded, "grpc-timeout");
    }

    // The abandoned work was skipped, not computed. Counted rather than
    // timed: the queue is FIFO, so once a later statement is answered every
    // abandoned job has been either labeled or dropped, and the batch
    // histogram's sum says how many statements went through the model.
    let mut client = server.client().await;
    common::server::answers_one_statement(&mut client).await;
    let skipped = server.metric("detente_queue_skipped_jobs_total").await;
    assert!(skipped >= 4.0, "skipped jobs: {skipped}");
    let computed = server.metric("detente_batch_statements_sum").await;
    assert!(
        computed < 2000.0,
        "{computed} of the 4000 abandoned statements went through the model"
    );
    let expired = server
        .metric("detente_requests_total{code=\"DEADLINE_EXCEEDED\",rpc=\"ClassifyStatements\"")
        .await;
    assert_eq!(expired, 4.0);

    // A stream ends at its client's deadline too, with answers before it.
    let mut c = raw.clone();
    let mut req = tonic::Request::new(tokio_stream::iter((0..).map(|i| article(i * 10).0)));
    req.set_timeout(Duration::from_secs(2));
    let mut stream = c.analyze_articles(req).await.unwrap().into_inner();
    let mut answered = 0;
    let status = loop {
        match tokio::time::timeout(Duration::from_secs(15), stream.next())
            .await
            .expect("the stream ended in time")
        {
            Some(Ok(_)) => answered += 1,
            Some(Err(status)) => break status,
            None => panic!("the stream ended without an error"),
        }
    };
    assert!(answered > 0);
    common::server::refused(
        Err::<(), _>(status),
        tonic::Code::DeadlineExceeded,
        "grpc-timeout",
    );
    settles(&server, IN_FLIGHT, 0.0, Duration::from_secs(5)).await;
    let expired = server
        .metric("detente_requests_total{code=\"DEADLINE_EXCEEDED\",rpc=\"AnalyzeArticles\"")
        .await;
    assert_eq!(expired, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_request_timeout_answers_deadline_exceeded() {
    let server = common::server::start_metered(&["--request-timeout-seconds", "0.2"]).await;
    let mut client = server.client().await;
    let statements: Vec<String> = (0..1000)
        .map(|i| format!("Statement {i}: the delegations will meet again next week."))
        .collect();
    let r = client
        .classify_statements(proto::ClassifyStatementsRequest { statements })
        .await;
    common::server::refused(
        r,
        tonic::Code::DeadlineExceeded,
        "--request-timeout-seconds",
    );

    // The cap is for unary calls: a stream that runs past it is answered in full.
    let slow = futures::StreamExt::then(tokio_stream::iter(0..5), |i| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        article(i * 10).0
    });
    let mut stream = client.analyze_articles(slow).await.unwrap().into_inner();
    let mut answered = 0;
    let mut labeled = 0;
    while let Some(a) = stream.next().await {
        let a = a.unwrap();
        assert!(a.error.is_none());
        answered += 1;
        // Terms are not labeled: only scored quotations went through the model.
        labeled += a.quotes.iter().filter(|q| q.scores.is_some()).count();
    }
    assert_eq!(answered, 5);
    settles(&server, IN_FLIGHT, 0.0, Duration::from_secs(5)).await;

    // The timed-out request stopped costing inference: counted, not timed.
    // The stream's jobs queued behind it, so it has been dealt with by now.
    let computed = server.metric("detente_batch_statements_sum").await - labeled as f64;
    assert!(
        computed < 1000.0,
        "{computed} of the 1000 timed-out statements went through the model"
    );
}
