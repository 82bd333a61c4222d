//! TLS to the server, with libpq's `sslmode` meanings: `disable` (plain), `prefer` (the default:
//! TLS when the server offers it, certificate not checked), `require` (TLS, certificate not
//! checked unless `sslrootcert` names a CA file, which makes it `verify-ca`), `verify-ca` (the
//! chain must lead to a trusted CA: `sslrootcert`, else the public web roots) and `verify-full`
//! (also the host name). rustls on the ring provider: no system TLS library.

use std::sync::Arc;

use postgres::config::SslMode;
use postgres::tls::NoTls;
use postgres::{CancelToken, Client};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// How connections are made.
#[derive(Clone)]
pub(crate) enum Tls {
    Plain,
    Rustls(MakeRustlsConnect),
}

impl Tls {
    pub(crate) fn connect(
        &self,
        config: &postgres::Config,
    ) -> std::result::Result<Client, postgres::Error> {
        match self {
            Tls::Plain => config.connect(NoTls),
            Tls::Rustls(tls) => config.connect(tls.clone()),
        }
    }

    /// Asks the server to cancel what `token`'s connection is running.
    pub(crate) fn cancel(&self, token: &CancelToken) {
        // Best effort: the statement then ends on its own, or the connection breaks.
        let _ = match self {
            Tls::Plain => token.cancel_query(NoTls),
            Tls::Rustls(tls) => token.cancel_query(tls.clone()),
        };
    }
}

/// What `sslmode` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Parses a connection string (a `postgres://` URL or `key=value` pairs), taking out the TLS
/// settings the client library does not know (`sslmode=verify-ca|verify-full`, `sslrootcert`).
pub(crate) fn configure(url: &str) -> Result<(postgres::Config, Tls)> {
    let (rest, mode, root) = take_tls_params(url)?;
    let mut config: postgres::Config = rest
        .parse()
        .map_err(|e| Error::precondition(format!("bad PostgreSQL connection string: {e}")))?;
    let mode = match (mode, &root) {
        (Mode::Require, Some(_)) => Mode::VerifyCa,
        (m, _) => m,
    };
    let tls = match mode {
        Mode::Disable => {
            config.ssl_mode(SslMode::Disable);
            return Ok((config, Tls::Plain));
        }
        Mode::Prefer => {
            config.ssl_mode(SslMode::Prefer);
            client_config(Verify::Nothing)?
        }
        Mode::Require => {
            config.ssl_mode(SslMode::Require);
            client_config(Verify::Nothing)?
        }
        Mode::VerifyCa | Mode::VerifyFull => {
            config.ssl_mode(SslMode::Require);
            let roots = roots(root.as_deref())?;
            client_config(if mode == Mode::VerifyFull {
                Verify::Full(roots)
            } else {
                Verify::Chain(roots)
            })?
        }
    };
    Ok((config, Tls::Rustls(MakeRustlsConnect::new(tls))))
}

/// Splits the TLS settings off a connection string.
fn take_tls_params(url: &str) -> Result<(String, Mode, Option<String>)> {
    let mut mode = Mode::Prefer;
    let mut root = None;
    let mut take = |key: &str, value: &str| -> Result<bool> {
        match key {
            "sslmode" => {
                mode = match value {
                    "disable" => Mode::Disable,
                    "allow" | "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(Error::precondition(format!(
                            "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
                        )))
                    }
                };
                Ok(true)
            }
            "sslrootcert" => {
                root = Some(value.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(k, &percent_decode(v))? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for token in url.split_whitespace() {
            let (k, v) = token.split_once('=').unwrap_or((token, ""));
            if !take(k.trim(), v.trim_matches('\'').trim())? {
                kept.push(token);
            }
        }
        kept.join(" ")
    };
    Ok((rest, mode, root))
}

/// `%XX` escapes of a URL query value, decoded (anything malformed is kept as it is).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push(((hex(h).unwrap_or(0) << 4) | hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The CAs to trust: the PEM file `path`, or the public web roots.
fn roots(path: Option<&str>) -> Result<Arc<RootCertStore>> {
    let mut store = RootCertStore::empty();
    match path {
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let bad =
                |e: &dyn std::fmt::Display| Error::precondition(format!("sslrootcert {path}: {e}"));
            let pem = std::fs::read(path).map_err(|e| bad(&e))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                store.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
            }
            if store.is_empty() {
                return Err(bad(&"no certificate in the file"));
            }
        }
    }
    Ok(Arc::new(store))
}

/// How much of the server's certificate is checked.
enum Verify {
    /// Nothing (`prefer`, `require`): encryption only, as libpq does.
    Nothing,
    /// The chain, not the name (`verify-ca`).
    Chain(Arc<RootCertStore>),
    /// The chain and the host name (`verify-full`).
    Full(Arc<RootCertStore>),
}

fn client_config(verify: Verify) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::precondition(format!("TLS set-up: {e}")))?;
    let webpki = |roots: Arc<RootCertStore>| {
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
            .build()
            .map_err(|e| Error::precondition(format!("TLS set-up: {e}")))
    };
    let config = match verify {
        Verify::Full(roots) => builder
            .with_webpki_verifier(webpki(roots)?)
            .with_no_client_auth(),
        Verify::Chain(roots) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(webpki(roots)?)))
            .with_no_client_auth(),
        Verify::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// `verify-ca`: the chain is checked, a certificate for another name is accepted.
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require`: any certificate, as libpq accepts there (the handshake's own
/// signatures are still checked).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_come_out_of_the_connection_string() {
        let (rest, mode, root) = take_tls_params(
            "postgres://u@h:5432/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x",
        )
        .expect("parse");
        assert_eq!(rest, "postgres://u@h:5432/db?application_name=x");
        assert_eq!(mode, Mode::VerifyFull);
        assert_eq!(root.as_deref(), Some("/tmp/ca.pem"));
        let (rest, mode, _) =
            take_tls_params("host=h port=5 sslmode=disable user=u").expect("parse");
        assert_eq!(rest, "host=h port=5 user=u");
        assert_eq!(mode, Mode::Disable);
        let (_, mode, _) = take_tls_params("postgres://h/db").expect("parse");
        assert_eq!(mode, Mode::Prefer, "libpq's default");
        assert!(take_tls_params("postgres://h/db?sslmode=sometimes").is_err());
    }
}
