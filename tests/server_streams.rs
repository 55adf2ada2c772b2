//! AnalyzeArticles at scale with bad articles mixed in, a client that walks
//! away mid-stream, and deadlines: cancelled work stops costing inference.
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use detente::proto::{self, detente_client::DetenteClient};
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
    let mut client = DetenteClient::new(server.channel().await.unwrap());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_streams_and_deadlines_stop_the_work() {
    let server = common::server::start_with(&["--metrics-addr", "127.0.0.1:0"], &[], None).await;
    let channel = server.channel().await.unwrap();

    // A client that reads two answers of an endless stream, then hangs up
    // (its own connection closes, as when a process dies).
    let mut client = DetenteClient::new(server.channel().await.unwrap());
    // HTTP/2 flow control keeps this from running ahead of the server.
    let endless = tokio_stream::iter((0..).map(|i| article(i * 10).0));
    let mut stream = client.analyze_articles(endless).await.unwrap().into_inner();
    for _ in 0..2 {
        let a = stream.next().await.unwrap().unwrap();
        assert!(a.error.is_none());
    }
    drop(stream);
    drop(client);

    // Large requests with a deadline too short to finish: the callers give
    // up, and the queue skips their remaining jobs instead of computing them.
    let statements: Vec<String> = (0..1000)
        .map(|i| format!("Statement {i}: the sides exchanged views on the border question today."))
        .collect();
    let started = Instant::now();
    let mut calls = Vec::new();
    for _ in 0..4 {
        let mut c = DetenteClient::new(channel.clone());
        let mut req = tonic::Request::new(proto::ClassifyStatementsRequest {
            statements: statements.clone(),
        });
        req.set_timeout(Duration::from_millis(300));
        calls.push(tokio::spawn(
            async move { c.classify_statements(req).await },
        ));
    }
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        // tonic reports its own expired deadline as CANCELLED; a client-side
        // timer may win the race and say DEADLINE_EXCEEDED.
        assert!(
            matches!(
                err.code(),
                tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
            ),
            "{err:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // The server is free again soon: 4000 statements would take far longer
    // than this if the abandoned jobs were still being computed.
    let mut c = DetenteClient::new(channel.clone());
    let quick = Instant::now();
    let r = c
        .classify_statements(proto::ClassifyStatementsRequest {
            statements: vec!["We welcome the agreement.".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.results.len(), 1);
    assert!(
        quick.elapsed() < Duration::from_secs(5),
        "server still busy with abandoned work: {:?}",
        quick.elapsed()
    );
    let skipped = server.metric("detente_queue_skipped_jobs_total").await;
    assert!(skipped >= 4.0, "skipped jobs: {skipped}");
    // Every expired ClassifyStatements call was recorded as CANCELLED.
    let expired = server
        .metric("detente_requests_total{code=\"CANCELLED\",rpc=\"ClassifyStatements\"")
        .await;
    assert_eq!(expired, 4.0);
}
