//! The real binary and the real gRPC server on a loopback port, with the real
//! model: every RPC, health, reflection, and the CLI's two faces agreeing.
mod common;

use common::server::{ServingStatus, detente, health, refused, stdout};
use detente::proto::{self, detente_client::DetenteClient};
use tokio_stream::StreamExt;

fn example() -> String {
    std::fs::read_to_string(common::repo_path("examples/strait-talks.txt")).unwrap()
}

/// The seed article when ../shared is present, else the project's example.
fn article() -> (String, Option<usize>) {
    match common::shared_fixtures() {
        Some(dir) => (
            std::fs::read_to_string(dir.join("seed-article.txt")).unwrap(),
            Some(17),
        ),
        None => (example(), None),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_against_the_real_server() {
    let server = common::server::start(&["--max-article-bytes", "200000"]).await;
    let mut client = DetenteClient::connect(server.url.clone()).await.unwrap();
    let (text, gold_count) = article();

    // GetInfo
    let info = client
        .get_info(proto::GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.model_id, "sentence-transformers/all-MiniLM-L6-v2");
    assert_eq!(
        info.labels,
        ["optimistic", "threatening", "conciliatory", "neutral"]
    );
    assert_eq!(info.embedding_size, 384);
    assert!(
        info.head_metrics
            .iter()
            .any(|m| m.split == "test" && m.macro_f1 > 0.5)
    );
    // The committed head says how much its lexical model counts.
    let head = detente::model::StanceHead::load(&common::repo_path("models/stance-head")).unwrap();
    let weight = head.config().lexical.as_ref().map_or(0.0, |l| l.weight);
    assert_eq!(info.lexical_weight, weight);

    // ExtractQuotes
    let quotes = client
        .extract_quotes(proto::ExtractQuotesRequest { text: text.clone() })
        .await
        .unwrap()
        .into_inner()
        .quotes;
    let statements = quotes
        .iter()
        .filter(|q| q.kind != proto::QuoteKind::Term as i32)
        .count();
    if let Some(n) = gold_count {
        assert_eq!(statements, n);
    }
    for q in &quotes {
        for s in &q.spans {
            assert!(text.get(s.start as usize..s.end as usize).is_some());
        }
    }

    // AnalyzeArticle
    let a = client
        .analyze_article(proto::AnalyzeArticleRequest {
            id: "seed".into(),
            title: "t".into(),
            text: text.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.id, "seed");
    assert_eq!(a.quotes.len(), quotes.len());
    let tension = a.tension.unwrap();
    assert!(tension.has_score);
    assert!((0.0..=100.0).contains(&tension.score));
    assert_eq!(tension.statements as usize, statements);
    assert!(!tension.explanation.is_empty());
    for q in a.quotes.iter().filter(|q| q.stance != 0) {
        let s = q.scores.unwrap();
        let sum = s.optimistic + s.threatening + s.conciliatory + s.neutral;
        assert!((sum - 1.0).abs() < 1e-3);
    }

    // ClassifyStatements keeps order and labels obvious cases.
    let r = client
        .classify_statements(common::server::statements(&[
            "If they attack us, we will strike back with overwhelming force.",
            "We are ready to resume negotiations without preconditions.",
        ]))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].stance, proto::Stance::Threatening as i32);
    assert_eq!(r[1].stance, proto::Stance::Conciliatory as i32);

    // Bad input: INVALID_ARGUMENT naming the limit's flag.
    refused(
        client
            .analyze_article(proto::AnalyzeArticleRequest {
                id: "big".into(),
                title: String::new(),
                text: "x".repeat(300_000),
            })
            .await,
        tonic::Code::InvalidArgument,
        "--max-article-bytes",
    );
    refused(
        client
            .classify_statements(common::server::statements(&["  "]))
            .await,
        tonic::Code::InvalidArgument,
        "empty",
    );

    // AnalyzeArticles: one answer per request, ids kept, a bad article
    // answered with an error entry and the stream going on.
    let requests = vec![
        proto::AnalyzeArticleRequest {
            id: "a".into(),
            title: String::new(),
            text: example(),
        },
        proto::AnalyzeArticleRequest {
            id: "too-big".into(),
            title: String::new(),
            text: "y".repeat(300_000),
        },
        proto::AnalyzeArticleRequest {
            id: "empty".into(),
            title: String::new(),
            text: String::new(),
        },
        proto::AnalyzeArticleRequest {
            id: "b".into(),
            title: String::new(),
            text: "\"We will never give up,\" the general said.".into(),
        },
    ];
    let mut stream = client
        .analyze_articles(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let mut answers = Vec::new();
    while let Some(item) = stream.next().await {
        answers.push(item.unwrap());
    }
    let ids: Vec<&str> = answers.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a", "too-big", "empty", "b"]);
    assert!(answers[0].error.is_none() && !answers[0].quotes.is_empty());
    assert_eq!(
        answers[1].error.as_ref().unwrap().code,
        tonic::Code::InvalidArgument as i32
    );
    let empty = answers[2].tension.as_ref().unwrap();
    assert!(answers[2].error.is_none() && !empty.has_score);
    assert_eq!(answers[3].quotes.len(), 1);

    // Health and reflection.
    let status = health(common::server::channel(&server.url).await.unwrap(), "").await;
    assert_eq!(status, Some(ServingStatus::Serving));
    let services = list_services(&server.url).await;
    assert!(
        services.contains(&"detente.v1.Detente".to_string()),
        "{services:?}"
    );
    assert!(
        services.contains(&"grpc.health.v1.Health".to_string()),
        "{services:?}"
    );

    // The CLI's two faces print the same JSON.
    let path = common::repo_path("examples/strait-talks.txt");
    let local = stdout(
        &detente()
            .args(["analyze", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap(),
    );
    let remote = stdout(
        &detente()
            .args(["analyze", "--format", "json", "--server", &server.url])
            .arg(&path)
            .output()
            .unwrap(),
    );
    assert_eq!(local, remote);
    let v: serde_json::Value = serde_json::from_str(&local).unwrap();
    let q = &v["quotes"][0];
    for key in ["text", "speaker", "spans", "cue", "label", "scores"] {
        assert!(q.get(key).is_some(), "missing {key} in {q}");
    }
    assert!(v["tension"]["score"].is_number());

    // classify over the server matches in-process too.
    let args = [
        "classify",
        "--format",
        "jsonl",
        "We hope the talks succeed.",
        "Nothing has been decided yet.",
    ];
    let local = stdout(&detente().args(args).output().unwrap());
    let remote = stdout(
        &detente()
            .args(args)
            .args(["--server", &server.url])
            .output()
            .unwrap(),
    );
    assert_eq!(local, remote);
}

async fn list_services(url: &str) -> Vec<String> {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut client = ServerReflectionClient::new(common::server::channel(url).await.unwrap());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = client
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let mut names = Vec::new();
    if let Some(Ok(r)) = resp.next().await
        && let Some(MessageResponse::ListServicesResponse(list)) = r.message_response
    {
        names = list.service.into_iter().map(|s| s.name).collect();
    }
    names
}
