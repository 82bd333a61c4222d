//! TLS on the one port: gRPC over h2 (ALPN) with a tonic client, the token call over
//! HTTP/1.1, against a CA and certificate made at run time.

use std::sync::Arc;

use orgstore_server::proto::scalekit::v1::organizations::organization_service_client::OrganizationServiceClient;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use crate::common::{self, Bearer, CLIENT_ID, CLIENT_SECRET};

struct Pki {
    ca_pem: String,
}

fn make_pki(dir: &std::path::Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let leaf = leaf_params
        .signed_by(&leaf_key, &Issuer::new(ca_params, ca_key))
        .unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).unwrap();
    Pki { ca_pem: ca.pem() }
}

async fn https_token(addr: std::net::SocketAddr, ca_pem: &str) -> (String, Vec<u8>) {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let alpn = tls.get_ref().1.alpn_protocol().unwrap().to_vec();
    let body = format!(
        "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
    );
    let request = format!(
        "POST /oauth/token HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let _ = tls.read_to_end(&mut reply).await; // a peer closing without close_notify is fine here
    (String::from_utf8_lossy(&reply).into_owned(), alpn)
}

#[tokio::test]
async fn grpc_over_h2_and_the_token_over_http1_with_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let mut config = common::config(&dir);
    config.tls = Some((dir.path().join("cert.pem"), dir.path().join("key.pem")));
    let server = orgstore_server::Server::start(config).await.unwrap();
    let addr = server.local_addr();

    let (reply, alpn) = https_token(addr, &pki.ca_pem).await;
    assert_eq!(alpn, b"http/1.1");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let json = &reply[reply.find("\r\n\r\n").unwrap() + 4..];
    let token: serde_json::Value = serde_json::from_str(json).unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();

    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    let channel = Channel::from_shared(format!("https://localhost:{}", addr.port()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = OrganizationServiceClient::with_interceptor(
        channel,
        Bearer(Some(format!("Bearer {token}").parse().unwrap())),
    );
    let org = c
        .create_organization(crate::grpc::create_request("Secure", Some("tls-1")))
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(org.display_name, "Secure");
    // Cleartext HTTP to the TLS port gets no answer.
    assert!(reqwest::get(format!("http://{addr}/health")).await.is_err());
    server.stop().await.unwrap();
}
