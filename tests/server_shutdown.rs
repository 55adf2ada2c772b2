//! SIGTERM while requests are in flight: health turns NOT_SERVING at once,
//! every in-flight request is still answered in full, and the process exits
//! cleanly within the drain deadline.
#![cfg(unix)]
mod common;

use std::time::{Duration, Instant};

use common::server::ServingStatus;
use detente::proto::{self, detente_client::DetenteClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests() {
    let mut server =
        common::server::start_metered(&["--shutdown-delay-seconds", "1", "--drain-seconds", "60"])
            .await;
    let channel = server.channel().await.unwrap();

    // Enough work to still be running when the signal lands.
    let mut calls = Vec::new();
    for c in 0..8 {
        let mut client = DetenteClient::new(channel.clone());
        let statements: Vec<String> = (0..64)
            .map(|i| format!("Caller {c} statement {i}: we will not be intimidated by threats."))
            .collect();
        calls.push(tokio::spawn(async move {
            let r = client
                .classify_statements(proto::ClassifyStatementsRequest {
                    statements: statements.clone(),
                })
                .await?
                .into_inner();
            Ok::<_, tonic::Status>((statements, r))
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.metric("detente_requests_in_flight").await < 1.0 {
        assert!(Instant::now() < deadline, "requests never got in flight");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());

    // During the shutdown delay the listener still accepts, and health says
    // NOT_SERVING so a load balancer stops sending new work.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status =
        common::server::health(server.channel().await.unwrap(), common::server::DETENTE).await;
    assert_eq!(status, Some(ServingStatus::NotServing));

    for call in calls {
        let (sent, r) = call.await.unwrap().expect("in-flight request answered");
        assert_eq!(r.results.len(), sent.len());
        for (s, got) in sent.iter().zip(&r.results) {
            assert_eq!(&got.text, s);
        }
    }

    let waited = Instant::now();
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "server did not exit after draining"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    // Gone for good: new connections are refused.
    assert!(common::server::channel(&server.url).await.is_err());
}
