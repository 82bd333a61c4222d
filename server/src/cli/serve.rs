//! `orgstore serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::auth::Credentials;
use crate::limits::Limits;
use crate::postgres::PostgresConfig;
use crate::server::{serve_until, shutdown_signal, ServeConfig, Server};

/// Examples shown by `orgstore serve --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore serve --db orgs.redb --listen 127.0.0.1:8080
  orgstore serve --db orgs.redb --multi-process --seed fixtures.jsonl

  # On PostgreSQL: every server given the same URL and schema shares one store, and must be
  # given the same client and token key (the URL and secrets from the environment, not argv).
  export ORGSTORE_POSTGRES='postgres://app:PASSWORD@db1,db2/tenants?target_session_attrs=read-write&sslmode=verify-full'
  export ORGSTORE_CLIENT_ID=skc_app ORGSTORE_CLIENT_SECRET=... ORGSTORE_TOKEN_KEY=...
  orgstore serve --postgres-schema tenants --listen 0.0.0.0:8080 --commit-deadline 5s";

/// The flags of `orgstore serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store file; created if missing. Not with --postgres.
    #[arg(long, default_value = "./orgstore.redb")]
    pub db: PathBuf,
    /// A PostgreSQL store instead of a file: a libpq connection URL, e.g.
    /// `postgres://app:PASSWORD@db1,db2/tenants?target_session_attrs=read-write&sslmode=verify-full`
    /// (or `host=… user=… …`). Every server given the same URL and schema serves one shared
    /// store. With it, --client-id, --client-secret and --token-key are required (every server
    /// of the store must accept the same client and each other's tokens, and there is no store
    /// file to keep generated ones beside), --seed needs --seed-record, and --multi-process
    /// is refused. A write whose commit cannot be confirmed answers OUTCOME_UNKNOWN (HTTP 500,
    /// gRPC 2) naming the organization; one that lost a race answers ABORTED (409, gRPC 10).
    #[arg(
        long,
        env = "ORGSTORE_POSTGRES",
        hide_env_values = true,
        value_name = "URL",
        conflicts_with = "db"
    )]
    pub postgres: Option<String>,
    /// The PostgreSQL schema holding the store's tables, created on first use (default:
    /// orgstore). Several stores can share a database in different schemas.
    #[arg(long, value_name = "NAME", requires = "postgres")]
    pub postgres_schema: Option<String>,
    /// Connections to PostgreSQL kept at most (default: --max-concurrent, so that a store call
    /// never waits for a connection).
    #[arg(
        long,
        value_name = "N",
        requires = "postgres",
        value_parser = clap::value_parser!(u32).range(1..=10_000)
    )]
    pub pool_size: Option<u32>,
    /// Longest wait for a free PostgreSQL connection before a call fails (default: 5s).
    #[arg(long, value_name = "DURATION", requires = "postgres", value_parser = parse_duration)]
    pub pool_timeout: Option<Duration>,
    /// Longest a commit on PostgreSQL may take, e.g. waiting for a synchronous standby; past it
    /// the commit is cut short and the request answers OUTCOME_UNKNOWN (default: 10s).
    #[arg(long, value_name = "DURATION", requires = "postgres", value_parser = parse_duration)]
    pub commit_deadline: Option<Duration>,
    /// The address to listen on (HTTP/1.1 and HTTP/2 on one port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The OAuth2 client id; without it, the id of `<db>.credentials` (generated at first).
    /// Required with --postgres.
    #[arg(long, env = "ORGSTORE_CLIENT_ID", requires = "client_secret")]
    pub client_id: Option<String>,
    /// The OAuth2 client secret (with --client-id).
    #[arg(
        long,
        env = "ORGSTORE_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    pub client_secret: Option<String>,
    /// TLS certificate chain (PEM); serves https with ALPN h2 and http/1.1.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM), with --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A JSON Lines file of organizations with pinned ids, imported at start when absent.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Where the ids already seeded are recorded, so that a restart does not bring back what
    /// the application deleted (default: `<db>.seeded`). Required for --seed with --postgres:
    /// keep it where every server of the store sees it, or seed from one server only.
    #[arg(long, value_name = "FILE", requires = "seed")]
    pub seed_record: Option<PathBuf>,
    /// Let other processes (the CLI, other servers) use the store file at the same time.
    /// Store files only: a PostgreSQL store is always shared.
    #[arg(long)]
    pub multi_process: bool,
    /// How long an access token lives, e.g. 24h, 30m, 90s.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub token_ttl: Duration,
    /// The key that signs tokens (at least 32 bytes); without it, the key of
    /// `<db>.credentials` (generated at first). Servers sharing it accept each other's tokens.
    /// Required with --postgres.
    #[arg(long, env = "ORGSTORE_TOKEN_KEY", hide_env_values = true)]
    pub token_key: Option<String>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Store calls running at once.
    #[arg(long, default_value_t = 32)]
    pub max_concurrent: usize,
    /// Requests that may wait for a store slot; beyond, 429 / RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 1024)]
    pub max_queued: usize,
    /// Longest wait for a store slot.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub queue_timeout: Duration,
    /// How long shutdown waits for open connections.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
}

impl ServeArgs {
    /// The server configuration these flags describe.
    pub fn config(&self) -> ServeConfig {
        let mut config = ServeConfig::new(&self.db);
        if let Some(url) = &self.postgres {
            let mut pg = PostgresConfig::new(url.clone());
            if let Some(schema) = &self.postgres_schema {
                pg.schema.clone_from(schema);
            }
            pg.pool_size = Some(self.pool_size.map_or(self.max_concurrent, |n| n as usize));
            pg.pool_timeout = self.pool_timeout;
            pg.commit_deadline = self.commit_deadline;
            config.postgres = Some(pg);
        }
        config.listen = self.listen;
        config.credentials = match (&self.client_id, &self.client_secret) {
            (Some(id), Some(secret)) => Some(Credentials {
                client_id: id.clone(),
                client_secret: secret.clone(),
            }),
            _ => None,
        };
        config.token_key = self.token_key.as_ref().map(|k| k.as_bytes().to_vec());
        config.token_ttl = self.token_ttl;
        config.tls = self.tls_cert.clone().zip(self.tls_key.clone());
        config.seed.clone_from(&self.seed);
        config.seed_record.clone_from(&self.seed_record);
        config.multi_process = self.multi_process;
        config.limits = Limits {
            max_body_bytes: self.max_body_bytes,
            max_concurrent: self.max_concurrent,
            max_queued: self.max_queued,
            queue_timeout: self.queue_timeout,
            ..Limits::default()
        };
        config.shutdown_grace = self.shutdown_grace;
        config
    }
}

/// Parses a duration: a whole number and a unit, `ms`, `s`, `m`, `h` or `d` (e.g. `24h`).
///
/// # Errors
///
/// Text that is not such a duration.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use orgstore_server::cli::serve::parse_duration;
///
/// assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 24h, 30m, 90s or 500ms"))?;
    let millis = match unit {
        "ms" => Some(n),
        "s" | "" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m, h or d)"
            ))
        }
    };
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// Prints where the server listens, its client and the store. A closed stdout is ignored: the
/// server goes on serving (a reader that took the first lines and left must not stop it).
fn banner(server: &Server, tls: bool, store: &str) {
    use std::io::Write as _;
    let scheme = if tls { "https" } else { "http" };
    let mut lines = vec![format!(
        "orgstore serving {scheme}://{}",
        server.local_addr()
    )];
    let creds = server.credentials();
    if server.generated_credentials() {
        let kept = server
            .credentials_path()
            .map_or_else(String::new, |p| format!(" (kept in {})", p.display()));
        lines.push(format!("generated client credentials{kept}:"));
        lines.push(format!("  client_id:     {}", creds.client_id));
        lines.push(format!("  client_secret: {}", creds.client_secret));
    } else {
        lines.push(format!("client_id: {}", creds.client_id));
    }
    if let Some(report) = server.seed_report() {
        lines.push(format!(
            "seed: {} imported, {} already applied or present",
            report.imported, report.skipped
        ));
    }
    lines.push(format!("store: {store}"));
    let mut text = lines.join("\n");
    text.push('\n');
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Runs `orgstore serve` until SIGINT or SIGTERM.
pub fn run(args: &ServeArgs) -> ExitCode {
    let _log = crate::logging::init();
    let config = args.config();
    let tls = config.tls.is_some();
    let store = config.store_name();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("orgstore serve: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(serve_until(config, shutdown_signal(), |server| {
        banner(server, tls, &store);
    }));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("orgstore serve: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn flags() {
        let cli = crate::cli::Cli::try_parse_from([
            "orgstore",
            "serve",
            "--db",
            "x.redb",
            "--listen",
            "127.0.0.1:0",
            "--token-ttl",
            "1h",
            "--client-id",
            "a",
            "--client-secret",
            "b",
        ])
        .expect("parse");
        let crate::cli::Command::Serve(args) = cli.command else {
            panic!("not serve: {:?}", cli.command);
        };
        let config = args.config();
        assert_eq!(config.token_ttl, Duration::from_secs(3600));
        assert_eq!(config.credentials.map(|c| c.client_id), Some("a".into()));
        assert!(
            crate::cli::Cli::try_parse_from(["orgstore", "serve", "--tls-cert", "c.pem"]).is_err()
        );
    }

    fn serve(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let mut all = vec!["orgstore", "serve"];
        all.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(all)?;
        match cli.command {
            crate::cli::Command::Serve(args) => Ok(args),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn postgres_flags() {
        let args = serve(&[
            "--postgres",
            "postgres://app:pw@db/t",
            "--postgres-schema",
            "tenants",
            "--commit-deadline",
            "2s",
            "--max-concurrent",
            "12",
            "--seed",
            "s.jsonl",
            "--seed-record",
            "shared/s.seeded",
        ])
        .expect("parse");
        let config = args.config();
        let pg = config.postgres.as_ref().expect("a PostgreSQL store");
        assert_eq!(pg.url, "postgres://app:pw@db/t");
        assert_eq!(pg.schema, "tenants");
        assert_eq!(pg.commit_deadline, Some(Duration::from_secs(2)));
        assert_eq!(pg.pool_timeout, None);
        assert_eq!(pg.pool_size, Some(12), "as many connections as store calls");
        assert_eq!(config.seed_record, Some("shared/s.seeded".into()));
        assert_eq!(
            config.store_name(),
            "postgres://app:***@db/t (schema tenants)"
        );
        let config = serve(&["--postgres", "host=db", "--pool-size", "3"])
            .expect("parse")
            .config();
        let pg = config.postgres.expect("a PostgreSQL store");
        assert_eq!((pg.schema.as_str(), pg.pool_size), ("orgstore", Some(3)));
        // Without --postgres, a file as before, and the PostgreSQL flags are refused.
        assert_eq!(serve(&[]).expect("parse").config().postgres, None);
        for bad in [
            &["--postgres", "host=db", "--db", "x.redb"][..],
            &["--postgres-schema", "tenants"],
            &["--pool-size", "3"],
            &["--commit-deadline", "1s"],
            &["--postgres", "host=db", "--pool-size", "0"],
            &["--seed-record", "x.seeded"],
        ] {
            assert!(serve(bad).is_err(), "{bad:?}");
        }
    }
}
