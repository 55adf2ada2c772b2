//! Many concurrent callers on the real server and model: every answer comes
//! back exactly once, to the caller who asked, carrying that caller's text.
mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use detente::proto::{self, detente_client::DetenteClient};

const CLIENTS: usize = 64;
const REQUESTS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_fifty_requests_each() {
    let server = common::server::start_metered(&[]).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        // One connection per client, as separate processes would have.
        let channel = server.channel().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let mut client = DetenteClient::new(channel);
            let mut seen = Vec::with_capacity(REQUESTS);
            for i in 0..REQUESTS {
                let marker = format!("Q{c}x{i}Z");
                if i % 5 == 0 {
                    // Every fifth request goes through extraction too.
                    let text = format!(
                        "\"We hope round {marker} of the talks brings progress,\" the envoy said."
                    );
                    let a = client
                        .analyze_article(proto::AnalyzeArticleRequest {
                            id: marker.clone(),
                            title: String::new(),
                            text,
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    assert_eq!(a.id, marker);
                    assert_eq!(a.quotes.len(), 1, "{a:?}");
                    let q = a.quotes[0].quote.as_ref().unwrap();
                    assert!(q.text.contains(&marker), "{} lacks {marker}", q.text);
                    assert_ne!(a.quotes[0].stance, 0);
                } else {
                    let statement =
                        format!("The delegation {marker} will answer any provocation firmly.");
                    let r = client
                        .classify_statements(common::server::statements(&[&statement]))
                        .await
                        .unwrap()
                        .into_inner()
                        .results;
                    assert_eq!(r.len(), 1);
                    assert_eq!(r[0].text, statement, "answer mixed up between callers");
                    assert_ne!(r[0].stance, 0);
                }
                seen.push(marker);
            }
            seen
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        let seen = tokio::time::timeout(Duration::from_secs(240), t)
            .await
            .expect("load finished in time")
            .unwrap();
        assert_eq!(seen.len(), REQUESTS);
        for m in seen {
            assert!(all.insert(m), "an answer came twice");
        }
    }
    assert_eq!(all.len(), CLIENTS * REQUESTS);
    eprintln!(
        "{} requests in {:.1}s",
        CLIENTS * REQUESTS,
        started.elapsed().as_secs_f32()
    );

    // The server counted the same: nothing lost, nothing failed.
    let ok = server.metric("detente_requests_total{code=\"OK\"").await;
    assert_eq!(ok as usize, CLIENTS * REQUESTS);
    assert_eq!(server.metric("detente_requests_in_flight").await, 0.0);
    assert!(server.metric("detente_batch_statements_count").await > 0.0);
    // Concurrent callers shared forward passes.
    let batches = server.metric("detente_batch_statements_count").await;
    assert!(
        batches < (CLIENTS * REQUESTS) as f64,
        "no batching: {batches} passes"
    );
}
