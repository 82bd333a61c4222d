//! `orgstore serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::auth::Credentials;
use crate::limits::Limits;
use crate::server::{serve_until, shutdown_signal, ServeConfig, Server};

/// The flags of `orgstore serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store file; created if missing.
    #[arg(long, default_value = "./orgstore.redb")]
    pub db: PathBuf,
    /// The address to listen on (HTTP/1.1 and HTTP/2 on one port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The OAuth2 client id; without it, the id of `<db>.credentials` (generated at first).
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
    /// Let other processes (the CLI, other servers) use the store file at the same time.
    #[arg(long)]
    pub multi_process: bool,
    /// How long an access token lives, e.g. 24h, 30m, 90s.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub token_ttl: Duration,
    /// The key that signs tokens (at least 32 bytes); without it, the key of
    /// `<db>.credentials` (generated at first). Servers sharing it accept each other's tokens.
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

fn banner(server: &Server, tls: bool) {
    let scheme = if tls { "https" } else { "http" };
    println!("orgstore serving {scheme}://{}", server.local_addr());
    let creds = server.credentials();
    if server.generated_credentials() {
        println!(
            "generated client credentials (kept in {}):",
            server.credentials_path().display()
        );
        println!("  client_id:     {}", creds.client_id);
        println!("  client_secret: {}", creds.client_secret);
    } else {
        println!("client_id: {}", creds.client_id);
    }
    if let Some(report) = server.seed_report() {
        println!(
            "seed: {} imported, {} already applied or present",
            report.imported, report.skipped
        );
    }
}

/// Runs `orgstore serve` until SIGINT or SIGTERM.
pub fn run(args: &ServeArgs) -> ExitCode {
    let _log = crate::logging::init();
    let config = args.config();
    let tls = config.tls.is_some();
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
        banner(server, tls);
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
}
