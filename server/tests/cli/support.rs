//! Running the binary and reading what it printed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_orgstore");

/// What one run printed, and how it ended.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Stdout as one JSON value; the run must have succeeded.
    #[track_caller]
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        assert!(
            self.stdout.ends_with('\n') && self.stdout.trim_end().lines().count() == 1,
            "one line of JSON: {self:#?}"
        );
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:#?}"))
    }

    /// The JSON error on the last line of stderr; the run must have exited with `code`.
    #[track_caller]
    pub fn error(&self, code: i32) -> Value {
        assert_eq!(self.code, code, "exit code: {self:#?}");
        assert!(
            self.stdout.is_empty() || code == 10,
            "nothing on stdout: {self:#?}"
        );
        let last = self.stderr.trim_end().lines().last().unwrap_or("");
        let err: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {self:#?}"));
        assert!(err["message"].is_string(), "{err}");
        assert!(err["violations"].is_array(), "{err}");
        err
    }

    /// The lines of stderr that are JSON objects.
    pub fn stderr_json(&self) -> Vec<Value> {
        self.stderr
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Runs `orgstore ARGS` with `stdin` as its input (and no store named by the environment).
pub fn run_with(args: &[&str], stdin: &[u8]) -> Out {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("ORGSTORE_POSTGRES")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // Written from a thread: a child that stops reading must not block the test.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs `orgstore ARGS` with nothing on stdin.
pub fn run(args: &[&str]) -> Out {
    run_with(args, b"")
}

/// A store file in a temporary folder.
pub struct Store {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

impl Store {
    pub fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("orgs.redb");
        Store { dir, db }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db(&self) -> &str {
        self.db.to_str().unwrap()
    }

    /// `orgstore COMMAND --db <this store> ARGS`.
    pub fn cli(&self, command: &str, args: &[&str]) -> Out {
        self.cli_with(command, args, b"")
    }

    /// As [`cli`](Self::cli), with `stdin` as input.
    pub fn cli_with(&self, command: &str, args: &[&str], stdin: &[u8]) -> Out {
        let mut all = vec![command, "--db", self.db()];
        all.extend_from_slice(args);
        run_with(&all, stdin)
    }

    /// Creates an organization through the CLI; returns it.
    #[track_caller]
    pub fn create(&self, args: &[&str]) -> Value {
        self.cli("create", args).json()
    }

    /// The store opened by the library (no CLI may run meanwhile).
    pub fn open(&self) -> orgstore::OrgStore {
        orgstore::OrgStore::open(&self.db).unwrap()
    }
}

/// Writes `lines` (each followed by a newline) to `path`.
pub fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// One organization with pinned id and times, in the JSON Lines form.
pub fn record(n: u32, region: &str) -> String {
    serde_json::json!({
        "id": format!("org_{n}"),
        "create_time": "2025-02-15T06:23:44.560000Z",
        "update_time": "2025-02-16T07:00:00.000001Z",
        "display_name": format!("Tenant {n}"),
        "region_code": region,
        "external_id": format!("ext-{n}"),
        "metadata": {"plan": "pro", "seats": n.to_string()},
    })
    .to_string()
}

/// The PostgreSQL database the suite runs against, if any (`ORGSTORE_TEST_POSTGRES`).
pub fn postgres_url() -> Option<String> {
    std::env::var("ORGSTORE_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A PostgreSQL store on a schema no other test of this run uses.
pub struct PgStore {
    pub url: String,
    pub schema: String,
}

impl PgStore {
    pub fn new(url: &str) -> PgStore {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        PgStore {
            url: url.to_owned(),
            schema: format!("cli{stamp}_{}_{n}", std::process::id()),
        }
    }

    /// `--postgres URL --postgres-schema SCHEMA`.
    pub fn flags(&self) -> [&str; 4] {
        ["--postgres", &self.url, "--postgres-schema", &self.schema]
    }

    /// `orgstore COMMAND --postgres … ARGS`.
    pub fn cli(&self, command: &str, args: &[&str]) -> Out {
        self.cli_with(command, args, b"")
    }

    /// As [`cli`](Self::cli), with `stdin` as input.
    pub fn cli_with(&self, command: &str, args: &[&str], stdin: &[u8]) -> Out {
        let mut all = vec![command];
        all.extend_from_slice(&self.flags());
        all.extend_from_slice(args);
        run_with(&all, stdin)
    }
}
