//! A PostgreSQL store for `serve --postgres URL` and the admin commands' `--postgres URL`: its
//! settings, how they are shown without the password, and the one place that connects.
//!
//! A PostgreSQL store is shared: several servers (and admin commands) on several hosts use the
//! same one at once. What a store file keeps beside itself (generated credentials, the record
//! of seeded ids) has no file to sit beside here; see [`crate::server::ServeConfig`] for where
//! `serve` takes them from instead. The settings that belong to the file engine (multi-process
//! mode, checksum verification at open, compaction, backups, the file's integrity check) do not
//! apply and are refused.
//!
//! Built without the `postgres` feature, [`connect`] refuses with `FAILED_PRECONDITION`.

use std::time::Duration;

use orgstore::{Error, OrgStore};

/// The schema used when none is named (the library's default).
pub const DEFAULT_SCHEMA: &str = "orgstore";

/// How to reach a PostgreSQL store and use it.
///
/// `Debug` shows the URL without its password.
///
/// # Examples
///
/// ```
/// use orgstore_server::postgres::PostgresConfig;
///
/// let config = PostgresConfig::new("postgres://app:s3cret@db1/tenants");
/// assert_eq!(config.schema, "orgstore");
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// A libpq connection string: `postgres://user:password@host:port/db?sslmode=…`, or
    /// `host=… port=… …`; several hosts with `target_session_attrs=read-write` reach the
    /// primary.
    pub url: String,
    /// The schema holding the store's tables (created on first use).
    pub schema: String,
    /// Connections kept at most; `None`: the library's default.
    pub pool_size: Option<usize>,
    /// Longest wait for a free connection; `None`: the library's default (5 s).
    pub pool_timeout: Option<Duration>,
    /// Longest a commit may take before it is cut short and reported as `OUTCOME_UNKNOWN`;
    /// `None`: the library's default (10 s).
    pub commit_deadline: Option<Duration>,
}

impl PostgresConfig {
    /// The store at `url` in the default schema, with the library's pool and deadlines.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresConfig {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            pool_size: None,
            pool_timeout: None,
            commit_deadline: None,
        }
    }

    /// The store's address for people and logs: the URL without its password, and the schema.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = orgstore_server::postgres::PostgresConfig::new("postgres://app:pw@db/t");
    /// assert_eq!(config.describe(), "postgres://app:***@db/t (schema orgstore)");
    /// ```
    pub fn describe(&self) -> String {
        format!("{} (schema {})", redact(&self.url), self.schema)
    }
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &redact(&self.url))
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("pool_timeout", &self.pool_timeout)
            .field("commit_deadline", &self.commit_deadline)
            .finish()
    }
}

/// A connection string with its password replaced by `***`: in the user part of a URL
/// (`postgres://user:password@host`), in a `password=` query parameter, and in a `password=`
/// pair of the key-value form (quoted or not).
///
/// # Examples
///
/// ```
/// use orgstore_server::postgres::redact;
///
/// assert_eq!(redact("postgresql://u:p%40ss@h:5432/db"), "postgresql://u:***@h:5432/db");
/// assert_eq!(redact("postgres://u@h/db?password=x&sslmode=require"), "postgres://u@h/db?password=***&sslmode=require");
/// assert_eq!(redact("host=h password='a b' user=u"), "host=h password=*** user=u");
/// assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
/// ```
pub fn redact(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    if let Some(scheme) = ["postgres://", "postgresql://"]
        .into_iter()
        .find(|s| lower.starts_with(s))
    {
        let rest = &url[scheme.len()..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let authority = match authority.rfind('@') {
            Some(at) => {
                let (user, hosts) = authority.split_at(at);
                match user.split_once(':') {
                    Some((name, _)) => format!("{name}:***{hosts}"),
                    None => authority.to_owned(),
                }
            }
            None => authority.to_owned(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let pairs: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                            format!("{key}=***")
                        }
                        _ => pair.to_owned(),
                    })
                    .collect();
                format!("{path}?{}", pairs.join("&"))
            }
            None => tail.to_owned(),
        };
        return format!("{}{authority}{tail}", &url[..scheme.len()]);
    }
    redact_pairs(url)
}

/// The key-value form: `key=value` pairs separated by spaces, values optionally in single
/// quotes with `\` escapes.
fn redact_pairs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            out.push(c);
            chars.next();
            continue;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            out.push_str(&key);
            continue;
        }
        chars.next();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            value.push('\'');
            chars.next();
            while let Some(c) = chars.next() {
                value.push(c);
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else if c == '\'' {
                    break;
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push_str(&key);
        out.push('=');
        if key.eq_ignore_ascii_case("password") {
            out.push_str("***");
        } else {
            out.push_str(&value);
        }
    }
    out
}

/// Connects to the store `config` describes (creating its schema on first use).
///
/// # Errors
///
/// The library's: `FAILED_PRECONDITION` for a bad connection string or schema name, a schema of
/// a newer OrgStore; `INTERNAL` (a storage error) when the server cannot be reached. Built
/// without the `postgres` feature: `FAILED_PRECONDITION`.
#[cfg(feature = "postgres")]
pub fn connect(config: &PostgresConfig) -> Result<OrgStore, Error> {
    let mut builder = OrgStore::builder().postgres_schema(config.schema.clone());
    if let Some(size) = config.pool_size {
        builder = builder.pool_size(size);
    }
    if let Some(wait) = config.pool_timeout {
        builder = builder.pool_timeout(wait);
    }
    if let Some(deadline) = config.commit_deadline {
        builder = builder.commit_deadline(deadline);
    }
    builder.postgres(&config.url)
}

/// Connects to the store `config` describes: not in this build.
///
/// # Errors
///
/// Always `FAILED_PRECONDITION`: this build has no PostgreSQL engine.
#[cfg(not(feature = "postgres"))]
pub fn connect(config: &PostgresConfig) -> Result<OrgStore, Error> {
    let _ = config;
    Err(Error::FailedPrecondition {
        message: "this orgstore was built without the `postgres` feature: PostgreSQL stores \
                  are not available (rebuild with `--features postgres`)"
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            (
                "postgres://app:secret@db1,db2/t?target_session_attrs=read-write",
                "postgres://app:***@db1,db2/t?target_session_attrs=read-write",
            ),
            ("postgres://app:se:cr@et@db/t", "postgres://app:***@db/t"),
            ("POSTGRES://app:secret@db", "POSTGRES://app:***@db"),
            (
                "postgres://db/t?sslmode=require&PASSWORD=secret",
                "postgres://db/t?sslmode=require&PASSWORD=***",
            ),
            ("postgres://app@db/t", "postgres://app@db/t"),
            (
                "host=db user=app password=secret dbname=t",
                "host=db user=app password=*** dbname=t",
            ),
            (
                "host=db password = 'it\\'s secret' dbname=t",
                "host=db password=*** dbname=t",
            ),
            ("host=db", "host=db"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            assert!(!redact(url).contains("secret"), "{url}");
        }
        let mut config = PostgresConfig::new("host=db password=secret");
        config.schema = "tenants".into();
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("tenants"), "{debug}");
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn without_the_feature_a_connection_is_refused() {
        let err = connect(&PostgresConfig::new("postgres://db/t")).expect_err("refused");
        assert_eq!(err.code(), orgstore::ErrorCode::FailedPrecondition);
        assert!(err.to_string().contains("postgres` feature"), "{err}");
    }
}
