//! API keys and TLS on the real server: wrong and missing keys are refused
//! with UNAUTHENTICATED, health stays open for probes, and a TLS handshake
//! with a certificate made here succeeds where plaintext fails.
mod common;

use detente::proto::{self, detente_client::DetenteClient};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

fn with_key<T>(msg: T, key: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("authorization", key.parse().unwrap());
    req
}

fn info() -> proto::GetInfoRequest {
    proto::GetInfoRequest {}
}

/// A self-signed certificate for `localhost` and 127.0.0.1: (cert PEM, key PEM).
fn test_certificate() -> (String, String) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_guard_the_service_but_not_health() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "# fleet keys\nkey-one\n\nkey-two\n").unwrap();
    let server = common::server::start_with(
        &[
            "--api-key-file",
            keys.to_str().unwrap(),
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        &[],
        None,
    )
    .await;
    let channel = server.channel().await.unwrap();
    let mut client = DetenteClient::new(channel.clone());

    let err = client.get_info(info()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(
        err.message().contains("--api-key-file"),
        "{}",
        err.message()
    );
    for bad in [
        "Bearer key-three",
        "Bearer key-on",
        "Bearer ",
        "key-one",
        "Basic a2V5",
    ] {
        let err = client.get_info(with_key(info(), bad)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{bad}");
    }
    // A stream is refused before anything is read.
    let err = client
        .analyze_articles(tokio_stream::iter(
            Vec::<proto::AnalyzeArticleRequest>::new(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);

    for good in ["Bearer key-one", "Bearer key-two"] {
        let i = client.get_info(with_key(info(), good)).await.unwrap();
        assert_eq!(i.into_inner().embedding_size, 384);
    }
    let r = client
        .classify_statements(with_key(
            proto::ClassifyStatementsRequest {
                statements: vec!["We will talk.".into()],
            },
            "Bearer key-two",
        ))
        .await
        .unwrap();
    assert_eq!(r.into_inner().results.len(), 1);

    // Health needs no key: load balancers and kubelets probe it.
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "detente.v1.Detente".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, 1);

    let refused = server
        .metric("detente_requests_total{code=\"UNAUTHENTICATED\"")
        .await;
    assert_eq!(refused, 7.0);

    // The CLI takes its key from DETENTE_API_KEY.
    let out = common::server::detente()
        .args(["info", "--server", &server.url])
        .env("DETENTE_API_KEY", "key-one")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = common::server::detente()
        .args(["info", "--server", &server.url])
        .env("DETENTE_API_KEY", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unauthenticated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_with_a_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = test_certificate();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "tls-key-1\n").unwrap();
    let server = common::server::start_with(
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
            "--api-key-file",
            keys.to_str().unwrap(),
        ],
        &[],
        Some(cert.as_bytes()),
    )
    .await;
    assert!(server.url.starts_with("https://"));

    let mut client = DetenteClient::new(server.channel().await.unwrap());
    let i = client
        .get_info(with_key(info(), "Bearer tls-key-1"))
        .await
        .unwrap();
    assert_eq!(i.into_inner().embedding_size, 384);

    // Plaintext to a TLS port fails; so does TLS trusting another CA.
    let plain_url = server.url.replace("https://", "http://");
    let plain = async {
        let ch = common::server::channel(&plain_url).await?;
        DetenteClient::new(ch)
            .get_info(with_key(info(), "Bearer tls-key-1"))
            .await
            .map_err(|e| e.into())
    };
    let r: Result<_, Box<dyn std::error::Error>> = plain.await;
    assert!(r.is_err(), "plaintext got through to a TLS server");
    let (other_ca, _) = test_certificate();
    let wrong_trust = common::server::tls_channel(&server.url, other_ca.as_bytes()).await;
    let r = match wrong_trust {
        Ok(ch) => DetenteClient::new(ch)
            .get_info(with_key(info(), "Bearer tls-key-1"))
            .await
            .map(|_| ()),
        Err(e) => Err(tonic::Status::unavailable(e.to_string())),
    };
    assert!(
        r.is_err(),
        "a certificate from an untrusted CA was accepted"
    );

    // The CLI over TLS: CA from DETENTE_TLS_CA, key from DETENTE_API_KEY. The
    // certificate names localhost, so the CLI is pointed at that name.
    let port = server.url.rsplit(':').next().unwrap();
    let out = common::server::detente()
        .args(["info", "--server", &format!("https://localhost:{port}")])
        .env("DETENTE_TLS_CA", &cert_path)
        .env("DETENTE_API_KEY", "tls-key-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
