//! OAuth2 client credentials and signed bearer tokens.
//!
//! `POST /oauth/token` exchanges the client id and secret for a bearer token. A token is
//! `ost1.<payload>.<mac>`: the payload (base64url) holds its expiry in Unix milliseconds and
//! 16 random bytes, the MAC is HMAC-SHA256 over `ost1.<payload>` with the token key. Nothing
//! about tokens is stored: any server holding the same key accepts them, across restarts,
//! until they expire. The key and generated credentials are kept in a JSON file beside the
//! store (`<db>.credentials`, mode 0600), or the key is given on the command line. A server on
//! a PostgreSQL store has no file to keep them beside, and shares its store with other servers
//! that must accept the same client and each other's tokens: there, the credentials and the
//! key are always given ([`given`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

const TOKEN_PREFIX: &str = "ost1.";
const PAYLOAD_LEN: usize = 8 + 16;
/// Shortest token key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 32;

/// A client id and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The OAuth2 client id.
    pub client_id: String,
    /// The OAuth2 client secret.
    pub client_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// What the credentials file beside the store holds; every field is optional so that a file
/// written with credentials given on the command line keeps only the token key.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CredentialsFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    /// The token key, standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_key: Option<String>,
}

/// The path of the credentials file of the store at `db`: `<db>.credentials`.
///
/// # Examples
///
/// ```
/// let path = orgstore_server::auth::credentials_path("data/orgs.redb".as_ref());
/// assert_eq!(path, std::path::Path::new("data/orgs.redb.credentials"));
/// ```
pub fn credentials_path(db: &Path) -> PathBuf {
    let mut name = OsString::from(db.as_os_str());
    name.push(".credentials");
    PathBuf::from(name)
}

/// How the server's credentials were settled at start.
#[derive(Debug)]
pub struct Settled {
    /// The verifier of client credentials and tokens.
    pub auth: Auth,
    /// The credentials in force.
    pub credentials: Credentials,
    /// Whether the client credentials were generated now (then they are worth printing).
    pub generated: bool,
    /// The credentials file; `None` when everything was given ([`given`]).
    pub path: Option<PathBuf>,
}

/// Why the credentials could not be settled.
#[derive(Debug)]
pub struct CredentialsError(pub String);

impl std::fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CredentialsError {}

/// Settles credentials and the token key for the store at `db`.
///
/// Credentials given (`given`) win; else those of the credentials file; else a pair is
/// generated and written to the file. The same for the token key (`given_key`, at least
/// [`MIN_KEY_LEN`] bytes). The file is written only when something was generated.
///
/// # Errors
///
/// A key shorter than [`MIN_KEY_LEN`], a credentials file that cannot be read, parsed or
/// written.
pub fn settle(
    db: &Path,
    given: Option<Credentials>,
    given_key: Option<&[u8]>,
    ttl: Duration,
) -> Result<Settled, CredentialsError> {
    let path = credentials_path(db);
    let mut file = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<CredentialsFile>(&bytes)
            .map_err(|e| CredentialsError(format!("credentials file {}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CredentialsFile::default(),
        Err(e) => {
            return Err(CredentialsError(format!(
                "credentials file {}: {e}",
                path.display()
            )))
        }
    };
    let rng = SystemRandom::new();
    let mut changed = false;
    let mut generated = false;
    let credentials = match (given, &file.client_id, &file.client_secret) {
        (Some(c), _, _) => c,
        (None, Some(id), Some(secret)) => Credentials {
            client_id: id.clone(),
            client_secret: secret.clone(),
        },
        (None, _, _) => {
            let c = Credentials {
                client_id: format!("skc_{}", hex(&random::<10>(&rng)?)),
                client_secret: URL_SAFE_NO_PAD.encode(random::<32>(&rng)?),
            };
            file.client_id = Some(c.client_id.clone());
            file.client_secret = Some(c.client_secret.clone());
            changed = true;
            generated = true;
            c
        }
    };
    let key = match (given_key, &file.token_key) {
        (Some(k), _) => k.to_vec(),
        (None, Some(text)) => STANDARD.decode(text).map_err(|e| {
            CredentialsError(format!(
                "credentials file {}: token_key: {e}",
                path.display()
            ))
        })?,
        (None, None) => {
            let k = random::<32>(&rng)?.to_vec();
            file.token_key = Some(STANDARD.encode(&k));
            changed = true;
            k
        }
    };
    check_key(&key)?;
    if changed {
        write_private(&path, &file)?;
    }
    let auth = Auth::new(&credentials, &key, ttl)?;
    Ok(Settled {
        auth,
        credentials,
        generated,
        path: Some(path),
    })
}

/// Settles credentials and the token key that were all given, reading and writing no file
/// (a server on a PostgreSQL store).
///
/// # Errors
///
/// A key shorter than [`MIN_KEY_LEN`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use orgstore_server::auth::{given, Credentials};
///
/// let creds = Credentials { client_id: "skc_1".into(), client_secret: "s3cret".into() };
/// let settled = given(creds, &[7; 32], Duration::from_secs(60)).unwrap();
/// assert!(!settled.generated);
/// assert_eq!(settled.path, None);
/// assert!(settled.auth.client_matches("skc_1", "s3cret"));
/// ```
pub fn given(
    credentials: Credentials,
    key: &[u8],
    ttl: Duration,
) -> Result<Settled, CredentialsError> {
    check_key(key)?;
    let auth = Auth::new(&credentials, key, ttl)?;
    Ok(Settled {
        auth,
        credentials,
        generated: false,
        path: None,
    })
}

fn check_key(key: &[u8]) -> Result<(), CredentialsError> {
    if key.len() < MIN_KEY_LEN {
        return Err(CredentialsError(format!(
            "the token key must be at least {MIN_KEY_LEN} bytes, got {}",
            key.len()
        )));
    }
    Ok(())
}

fn random<const N: usize>(rng: &SystemRandom) -> Result<[u8; N], CredentialsError> {
    let mut bytes = [0u8; N];
    rng.fill(&mut bytes)
        .map_err(|_| CredentialsError("no system randomness".into()))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Writes the file readable by its owner only, replacing any old one in one rename.
fn write_private(path: &Path, file: &CredentialsFile) -> Result<(), CredentialsError> {
    let fail = |e: std::io::Error| CredentialsError(format!("writing {}: {e}", path.display()));
    let mut json = serde_json::to_vec_pretty(file)
        .map_err(|e| CredentialsError(format!("encoding credentials: {e}")))?;
    json.push(b'\n');
    let mut tmp = OsString::from(path.as_os_str());
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut out = options.open(&tmp).map_err(fail)?;
        out.write_all(&json).map_err(fail)?;
        out.sync_all().map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Checks client credentials and issues and verifies bearer tokens.
pub struct Auth {
    client_id: String,
    /// The secret is compared through its MAC under a per-process key, in constant time.
    secret_key: hmac::Key,
    secret_tag: hmac::Tag,
    token_key: hmac::Key,
    ttl: Duration,
    rng: SystemRandom,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("client_id", &self.client_id)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// A verifier for `credentials`, signing tokens with `key`, valid for `ttl`.
    ///
    /// # Errors
    ///
    /// Only when the system has no randomness.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use orgstore_server::auth::{Auth, Credentials};
    ///
    /// let creds = Credentials { client_id: "skc_1".into(), client_secret: "s3cret".into() };
    /// let auth = Auth::new(&creds, &[7; 32], Duration::from_secs(60))?;
    /// assert!(auth.client_matches("skc_1", "s3cret"));
    /// assert!(!auth.client_matches("skc_1", "wrong"));
    /// let (token, expires_in) = auth.issue()?;
    /// assert_eq!(expires_in, 60);
    /// assert!(auth.verify(&token).is_ok());
    /// assert!(auth.verify("ost1.forged.token").is_err());
    /// # Ok::<(), orgstore_server::auth::CredentialsError>(())
    /// ```
    pub fn new(
        credentials: &Credentials,
        key: &[u8],
        ttl: Duration,
    ) -> Result<Self, CredentialsError> {
        let rng = SystemRandom::new();
        let secret_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| CredentialsError("no system randomness".into()))?;
        let secret_tag = hmac::sign(&secret_key, credentials.client_secret.as_bytes());
        Ok(Auth {
            client_id: credentials.client_id.clone(),
            secret_key,
            secret_tag,
            token_key: hmac::Key::new(hmac::HMAC_SHA256, key),
            ttl,
            rng,
        })
    }

    /// Whether `client_id` and `client_secret` are the server's.
    pub fn client_matches(&self, client_id: &str, client_secret: &str) -> bool {
        let secret_ok = hmac::verify(
            &self.secret_key,
            client_secret.as_bytes(),
            self.secret_tag.as_ref(),
        )
        .is_ok();
        secret_ok && client_id == self.client_id
    }

    /// A new token and its lifetime in whole seconds.
    ///
    /// # Errors
    ///
    /// Only when the system has no randomness.
    pub fn issue(&self) -> Result<(String, u64), CredentialsError> {
        let expiry =
            now_millis().saturating_add(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX));
        let nonce = random::<16>(&self.rng)?;
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..8].copy_from_slice(&expiry.to_be_bytes());
        payload[8..].copy_from_slice(&nonce);
        let mut token = String::with_capacity(96);
        token.push_str(TOKEN_PREFIX);
        token.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let tag = hmac::sign(&self.token_key, token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(tag.as_ref()));
        Ok((token, self.ttl.as_secs()))
    }

    /// Checks a token's MAC (in constant time) and expiry.
    ///
    /// # Errors
    ///
    /// A short reason: malformed, bad signature, expired.
    pub fn verify(&self, token: &str) -> Result<(), &'static str> {
        // Tokens this server makes are 81 bytes; refuse anything far off before decoding.
        if token.len() > 128 || !token.starts_with(TOKEN_PREFIX) {
            return Err("malformed token");
        }
        let Some((signed, mac)) = token.rsplit_once('.') else {
            return Err("malformed token");
        };
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| "malformed token")?;
        hmac::verify(&self.token_key, signed.as_bytes(), &mac).map_err(|_| "invalid token")?;
        let payload = URL_SAFE_NO_PAD
            .decode(&signed[TOKEN_PREFIX.len()..])
            .map_err(|_| "malformed token")?;
        let expiry = payload
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .ok_or("malformed token")?;
        if now_millis() >= expiry {
            return Err("token expired");
        }
        Ok(())
    }

    /// Checks an `Authorization` header value: `Bearer <live token>`.
    ///
    /// # Errors
    ///
    /// UNAUTHENTICATED, saying why.
    pub fn check_header(&self, value: Option<&[u8]>) -> Result<(), ApiError> {
        let Some(value) = value else {
            return Err(ApiError::unauthenticated(
                "missing Authorization: Bearer token (get one at POST /oauth/token)",
            ));
        };
        let value = std::str::from_utf8(value)
            .map_err(|_| ApiError::unauthenticated("malformed Authorization header"))?;
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| ApiError::unauthenticated("Authorization must be a Bearer token"))?;
        self.verify(token).map_err(ApiError::unauthenticated)
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
}

#[derive(Serialize)]
struct OAuthError {
    error: &'static str,
    error_description: &'static str,
}

fn oauth_error(status: StatusCode, error: &'static str, description: &'static str) -> Response {
    let mut response = (
        status,
        axum::Json(OAuthError {
            error,
            error_description: description,
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /oauth/token`: the client credentials grant, with the credentials in the form body
/// (`client_id`, `client_secret`) or in HTTP Basic authentication.
pub async fn token_endpoint(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("grant_type") {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            )
        }
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            )
        }
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    let (id, secret) = match (field("client_id"), field("client_secret"), &basic) {
        (Some(id), Some(secret), _) => (id.to_owned(), secret.to_owned()),
        (_, _, Some((id, secret))) => (id.clone(), secret.clone()),
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client_id and client_secret are required",
            )
        }
    };
    if !auth.client_matches(&id, &secret) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    match auth.issue() {
        Ok((token, expires_in)) => {
            let mut response = axum::Json(TokenResponse {
                access_token: &token,
                token_type: "Bearer",
                expires_in,
            })
            .into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot issue a token");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "cannot issue a token",
            )
        }
    }
}

/// `id:secret` of an `Authorization: Basic …` header.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(ttl: Duration) -> Auth {
        let creds = Credentials {
            client_id: "skc_test".into(),
            client_secret: "secret".into(),
        };
        Auth::new(&creds, &[1; 32], ttl).expect("auth")
    }

    #[test]
    fn tokens_verify_only_with_their_key_and_until_expiry() {
        let a = auth(Duration::from_secs(60));
        let (token, _) = a.issue().expect("token");
        assert_eq!(a.verify(&token), Ok(()));
        let other = Auth::new(
            &Credentials {
                client_id: "x".into(),
                client_secret: "y".into(),
            },
            &[2; 32],
            Duration::from_secs(60),
        )
        .expect("auth");
        assert_eq!(other.verify(&token), Err("invalid token"));
        // One flipped character of the payload breaks the MAC.
        let mut bytes = token.clone().into_bytes();
        bytes[6] = if bytes[6] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).expect("ascii");
        assert_eq!(a.verify(&tampered), Err("invalid token"));
        let expired = auth(Duration::ZERO);
        let (token, expires_in) = expired.issue().expect("token");
        assert_eq!(expires_in, 0);
        assert_eq!(expired.verify(&token), Err("token expired"));
    }

    #[test]
    fn headers() {
        let a = auth(Duration::from_secs(60));
        let (token, _) = a.issue().expect("token");
        assert!(a
            .check_header(Some(format!("Bearer {token}").as_bytes()))
            .is_ok());
        assert!(a
            .check_header(Some(format!("bearer {token}").as_bytes()))
            .is_ok());
        assert!(a.check_header(Some(token.as_bytes())).is_err());
        assert!(a.check_header(Some(b"Basic abc")).is_err());
        assert!(a.check_header(None).is_err());
        assert!(a.check_header(Some(b"Bearer \xff")).is_err());
    }

    #[test]
    fn settle_generates_once_then_reuses() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("orgs.redb");
        let first = settle(&db, None, None, Duration::from_secs(60)).expect("first");
        assert!(first.generated);
        let (token, _) = first.auth.issue().expect("token");
        let second = settle(&db, None, None, Duration::from_secs(60)).expect("second");
        assert!(!second.generated);
        assert_eq!(first.credentials, second.credentials);
        assert_eq!(
            second.auth.verify(&token),
            Ok(()),
            "same key after a restart"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(first.path.as_ref().expect("a file"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let given = Credentials {
            client_id: "mine".into(),
            client_secret: "pw".into(),
        };
        let third = settle(&db, Some(given.clone()), None, Duration::from_secs(60)).expect("3");
        assert!(!third.generated);
        assert_eq!(third.credentials, given);
        assert_eq!(third.auth.verify(&token), Ok(()));
        assert!(settle(&db, None, Some(b"short"), Duration::from_secs(1)).is_err());
    }

    #[test]
    fn given_credentials_and_key() {
        let creds = Credentials {
            client_id: "mine".into(),
            client_secret: "pw".into(),
        };
        let key = [9u8; MIN_KEY_LEN];
        let a = given(creds.clone(), &key, Duration::from_secs(60)).expect("given");
        let b = given(creds.clone(), &key, Duration::from_secs(60)).expect("again");
        // Servers sharing the key accept each other's tokens.
        let (token, _) = a.auth.issue().expect("token");
        assert_eq!(b.auth.verify(&token), Ok(()));
        assert!(!a.generated && a.path.is_none());
        let err =
            given(creds, &key[..MIN_KEY_LEN - 1], Duration::from_secs(60)).expect_err("short key");
        assert!(err.0.contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn basic_header() {
        let v = format!("Basic {}", STANDARD.encode("id:se:cret"));
        assert_eq!(basic_credentials(&v), Some(("id".into(), "se:cret".into())));
        assert_eq!(basic_credentials("Bearer x"), None);
    }
}
