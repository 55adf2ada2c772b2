//! Oversized and hostile inputs: each gets a clear error naming its limit, or
//! an answer, quickly; the server stays up and answers the next caller.
mod common;

use std::time::{Duration, Instant};

use detente::proto::{self, detente_client::DetenteClient};

/// AnalyzeArticleRequest as a hostile client might encode it: the text as raw
/// bytes (so it can be invalid UTF-8) and fields the schema does not have.
#[derive(Clone, PartialEq, prost::Message)]
struct RawArticle {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(bytes = "vec", tag = "3")]
    text: Vec<u8>,
    #[prost(uint64, tag = "99")]
    unknown: u64,
}

/// Field 3 (`text`) sent as a varint instead of a string: wrong wire type.
#[derive(Clone, PartialEq, prost::Message)]
struct WrongWireType {
    #[prost(uint64, tag = "3")]
    text: u64,
}

async fn raw_call<M: prost::Message + Send + Sync + 'static>(
    channel: tonic::transport::Channel,
    msg: M,
) -> Result<proto::ArticleAnalysis, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path =
        tonic::codegen::http::uri::PathAndQuery::from_static("/detente.v1.Detente/AnalyzeArticle");
    grpc.unary(
        tonic::Request::new(msg),
        path,
        tonic_prost::ProstCodec::<M, proto::ArticleAnalysis>::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

fn analyze(text: String) -> proto::AnalyzeArticleRequest {
    proto::AnalyzeArticleRequest {
        id: "x".into(),
        title: String::new(),
        text,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_get_clear_errors_or_answers() {
    let server = common::server::start(&[]).await;
    let channel = server.channel().await.unwrap();
    let mut client = DetenteClient::new(channel.clone())
        .max_encoding_message_size(usize::MAX)
        .max_decoding_message_size(64 << 20);

    // 10 MB article: over the gRPC message limit (4 MiB by default).
    common::server::refused(
        client
            .analyze_article(analyze("a".repeat(10_000_000)))
            .await,
        tonic::Code::ResourceExhausted,
        "--max-message-bytes",
    );

    // Between the article limit (1 MiB) and the message limit: the article limit.
    common::server::refused(
        client.analyze_article(analyze("b".repeat(2 << 20))).await,
        tonic::Code::InvalidArgument,
        "--max-article-bytes",
    );
    common::server::refused(
        client
            .extract_quotes(proto::ExtractQuotesRequest {
                text: "c".repeat(2 << 20),
            })
            .await,
        tonic::Code::InvalidArgument,
        "--max-article-bytes",
    );

    // 100,000 quotation marks, in several arrangements: answered in bounded time.
    let walls = [
        "\"".repeat(100_000),
        "\"a\" ".repeat(25_000),
        "\u{201c}".repeat(50_000) + &"\u{201d}".repeat(50_000),
        "«\"‘'".repeat(25_000),
    ];
    for text in walls {
        let started = Instant::now();
        match client.analyze_article(analyze(text)).await {
            Ok(a) => assert!(a.into_inner().quotes.len() <= 2000),
            Err(e) => {
                common::server::refused(
                    Err::<(), _>(e),
                    tonic::Code::InvalidArgument,
                    "--max-quotes",
                );
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "quote wall took {:?}",
            started.elapsed()
        );
    }

    // Many short quotations: over --max-quotes (2000), named in the error.
    let many = "He said \"no\" and she said \"yes, indeed we will\". ".repeat(1500);
    common::server::refused(
        client
            .extract_quotes(proto::ExtractQuotesRequest { text: many })
            .await,
        tonic::Code::InvalidArgument,
        "--max-quotes",
    );

    // ClassifyStatements limits.
    let too_many = vec!["Fine.".to_string(); 1025];
    common::server::refused(
        client
            .classify_statements(proto::ClassifyStatementsRequest {
                statements: too_many,
            })
            .await,
        tonic::Code::InvalidArgument,
        "--max-statements",
    );
    common::server::refused(
        client
            .classify_statements(proto::ClassifyStatementsRequest {
                statements: vec!["long ".repeat(20_000)],
            })
            .await,
        tonic::Code::InvalidArgument,
        "--max-statement-bytes",
    );
    // Long but within the byte limit: truncated to the window, and said so.
    let r = client
        .classify_statements(proto::ClassifyStatementsRequest {
            statements: vec!["We will talk. ".repeat(500), "\u{0}\u{1}\u{7}".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(r[0].truncated);
    assert!(!r[1].truncated);

    // Unknown fields are ignored, as protobuf wants.
    let a = raw_call(
        channel.clone(),
        RawArticle {
            id: "raw".into(),
            text: b"\"We will win,\" he said.".to_vec(),
            unknown: 7,
        },
    )
    .await
    .unwrap();
    assert_eq!(a.id, "raw");
    assert_eq!(a.quotes.len(), 1);
    // Invalid UTF-8 in a string field and a wrong wire type: refused at decoding
    // (INTERNAL, as the gRPC status-code guide prescribes for parse errors).
    let invalid_utf8 = raw_call(
        channel.clone(),
        RawArticle {
            id: "bad".into(),
            text: vec![b'"', 0xff, 0xfe, 0xc3, b'"'],
            unknown: 0,
        },
    )
    .await;
    let wrong_wire_type = raw_call(channel.clone(), WrongWireType { text: 42 }).await;
    for r in [invalid_utf8, wrong_wire_type] {
        let err = r.unwrap_err();
        assert!(
            matches!(
                err.code(),
                tonic::Code::Internal | tonic::Code::InvalidArgument
            ),
            "{err:?}"
        );
    }

    // A method that does not exist.
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let err = grpc
        .unary(
            tonic::Request::new(proto::GetInfoRequest {}),
            tonic::codegen::http::uri::PathAndQuery::from_static("/detente.v1.Detente/Nope"),
            tonic_prost::ProstCodec::<proto::GetInfoRequest, proto::Info>::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);

    // Still healthy and answering after all that.
    common::server::answers_one_statement(&mut client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_follow_their_flags() {
    let server = common::server::start(&[
        "--max-article-bytes",
        "100",
        "--max-statements",
        "2",
        "--max-quotes",
        "1",
    ])
    .await;
    let mut client = server.client().await;
    common::server::refused(
        client.analyze_article(analyze("d".repeat(101))).await,
        tonic::Code::InvalidArgument,
        "limit of 100",
    );
    common::server::refused(
        client
            .classify_statements(common::server::statements(&["One.", "Two.", "Three."]))
            .await,
        tonic::Code::InvalidArgument,
        "limit of 2",
    );
    common::server::refused(
        client
            .analyze_article(analyze(
                "\"First thing,\" he said. \"Second thing,\" she said.".into(),
            ))
            .await,
        tonic::Code::InvalidArgument,
        "--max-quotes",
    );
}
