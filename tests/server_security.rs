//! API keys and TLS on the real server: wrong and missing keys are refused
//! with UNAUTHENTICATED, health stays open for probes, and a TLS handshake
//! with a certificate made here succeeds where plaintext fails.
mod common;

use common::server::ServingStatus;
use detente::proto::{self, detente_client::DetenteClient};

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
    let keys = common::server::write_file(&dir, "keys", "# fleet keys\nkey-one\n\nkey-two\n");
    let server = common::server::start_metered(&["--api-key-file", &keys]).await;
    let channel = server.channel().await.unwrap();
    let mut client = DetenteClient::new(channel.clone());

    common::server::refused(
        client.get_info(info()).await,
        tonic::Code::Unauthenticated,
        "--api-key-file",
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
    assert_eq!(
        common::server::health(channel, common::server::DETENTE).await,
        Some(ServingStatus::Serving)
    );

    let refused = server
        .metric("detente_requests_total{code=\"UNAUTHENTICATED\"")
        .await;
    assert_eq!(refused, 7.0);

    // The CLI takes its key from --api-key, or from DETENTE_API_KEY; the
    // flag wins over the environment.
    let info_cli = |args: &[&str], env_key: Option<&str>| {
        let mut cmd = common::server::detente();
        cmd.args(["info", "--server", &server.url]).args(args);
        cmd.env_remove("DETENTE_API_KEY");
        if let Some(k) = env_key {
            cmd.env("DETENTE_API_KEY", k);
        }
        cmd.output().unwrap()
    };
    common::server::stdout(&info_cli(&["--api-key", "key-one"], None));
    common::server::stdout(&info_cli(&["--api-key", "key-two"], Some("wrong")));
    common::server::stdout(&info_cli(&[], Some("key-one")));
    for (args, env_key) in [
        (&["--api-key", "wrong"][..], None),
        (&[][..], Some("wrong")),
        (&[][..], None),
    ] {
        let out = info_cli(args, env_key);
        assert!(!out.status.success(), "{args:?} {env_key:?}");
        assert!(
            common::server::stderr(&out).contains("Unauthenticated"),
            "{}",
            common::server::stderr(&out)
        );
    }
}

#[test]
fn client_flags_have_environment_fallbacks_and_hide_the_key() {
    for sub in [
        "analyze",
        "classify",
        "extract",
        "info",
        "eval",
        "bench-load",
    ] {
        let out = common::server::detente()
            .args([sub, "--help"])
            .env("DETENTE_API_KEY", "secret-key-value")
            .env("DETENTE_TLS_CA", "/some/ca.pem")
            .output()
            .unwrap();
        // Words only: the help wraps at the terminal's width.
        let help = common::server::stdout(&out)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for needle in [
            "--server",
            "--api-key <KEY>",
            "[env: DETENTE_API_KEY]",
            "--tls-ca <PEM_FILE>",
            "DETENTE_TLS_CA",
        ] {
            assert!(
                help.contains(needle),
                "{sub} --help lacks {needle}:\n{help}"
            );
        }
        assert!(
            !help.contains("secret-key-value"),
            "{sub} --help shows the API key"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_with_a_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = test_certificate();
    let cert_path = common::server::write_file(&dir, "cert.pem", &cert);
    let key_path = common::server::write_file(&dir, "key.pem", &key);
    let keys = common::server::write_file(&dir, "keys", "tls-key-1\n");
    let server = common::server::start_tls(
        &[
            "--tls-cert",
            &cert_path,
            "--tls-key",
            &key_path,
            "--api-key-file",
            &keys,
        ],
        cert.as_bytes(),
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

    // The CLI over TLS, with the CA and the key as flags, then from
    // DETENTE_TLS_CA and DETENTE_API_KEY. The certificate names localhost,
    // so the CLI is pointed at that name (without a scheme: --tls-ca makes
    // it https).
    let port = server.url.rsplit(':').next().unwrap();
    let localhost = format!("localhost:{port}");
    let cli = || {
        let mut cmd = common::server::detente();
        cmd.args(["info", "--server", &localhost])
            .env_remove("DETENTE_TLS_CA")
            .env_remove("DETENTE_API_KEY");
        cmd
    };
    common::server::stdout(
        &cli()
            .args(["--tls-ca", &cert_path, "--api-key", "tls-key-1"])
            .output()
            .unwrap(),
    );
    common::server::stdout(
        &cli()
            .env("DETENTE_TLS_CA", &cert_path)
            .env("DETENTE_API_KEY", "tls-key-1")
            .output()
            .unwrap(),
    );
    // Without the CA the CLI speaks plaintext to the TLS port and fails.
    let out = cli().args(["--api-key", "tls-key-1"]).output().unwrap();
    assert!(!out.status.success());
}
