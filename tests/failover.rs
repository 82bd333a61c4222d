//! Failover on a real replicated PostgreSQL cluster (the `postgres` engine).
//!
//! A primary and two synchronous standbys on loopback (`synchronous_commit = on`,
//! `synchronous_standby_names = 'ANY 1 (s1, s2)'`), each in a temporary folder, started with
//! `.ci/postgres`. Then:
//!
//! 1. **Primary crash.** Several writer threads create and update organizations through one
//!    store connected with a multi-host URL (`target_session_attrs=read-write`), each recording
//!    every write it sent and how it ended. The primary is killed mid-load (SIGKILL of all its
//!    processes at once); the test plays the failover manager: it promotes the standby that
//!    received the most WAL, sets the new primary's `synchronous_standby_names` (before the
//!    promotion, so that no write is acknowledged on it without a standby), creates the other
//!    standby's slot on it and points that standby at it. The writers go on through the same
//!    store. Afterwards every acknowledged write must be stored with the content it was
//!    acknowledged with, a write that failed with a definite error must not be, each "outcome
//!    unknown" write is looked up and counted as applied or not, and the indexes, counts and
//!    pages must agree with the records.
//! 2. **Both standbys crash.** A third node joins as a standby, so the new primary again has two;
//!    both are killed. A one-shot create, a one-shot update and an explicit transaction then,
//!    one after the other, wait for replication that cannot come: each must end within the
//!    store's commit deadline (PostgreSQL's `statement_timeout` does not bound that wait) as
//!    `Error::OutcomeUnknown`, never `Ok`. What they left on the primary is read back
//!    (PostgreSQL commits locally before it waits, so they are normally there), all or nothing
//!    per transaction. A standby that comes back lets writes succeed again.
//!
//! Three more tests freeze a server (SIGSTOP) instead of killing it: the kernel still accepts
//! and acknowledges its TCP traffic, but nothing answers, so neither TCP keepalives nor
//! `tcp_user_timeout` ever end a wait. A commit to a hung primary must still end by the commit
//! deadline (plus a short grace) as `OutcomeUnknown`, also when the cancel request itself hangs
//! (with TLS offered, it waits for the server's answer to its SSL request); and a hung first
//! host of a multi-host URL must not hold up opening the store past `connect_timeout`.
//!
//! `cargo test --release --features postgres --test failover -- --nocapture` prints the figures.
//! `ORGSTORE_FAILOVER_SECONDS` (default 2) is the load before the kill, and again after the first
//! write the new primary acknowledged; `ORGSTORE_FAILOVER_WRITERS` (default 4) the writer
//! threads; `ORGSTORE_SEED` replays the operations' choices and the kill moment (the timing of
//! the servers is not replayable).
//!
//! `ORGSTORE_FAILOVER_DURABILITY=none` is the negative control: the store then commits without
//! waiting for the standbys (`Durability::None`, `synchronous_commit = off` on its sessions),
//! and the test must fail, reporting the acknowledged writes the crash lost (and part 2's
//! commits acknowledged without a standby).
//!
//! The tests run when `ORGSTORE_FAILOVER=run` (CI sets it, after `.ci/postgres install`);
//! otherwise they pass saying they were skipped, so that the workspace's test command works on a
//! machine with nothing but Rust. With `ORGSTORE_FAILOVER=run`, PostgreSQL's server binaries are
//! required: without them the tests fail and say so, because a failover test that passes
//! without running proves nothing.
//! Every server the test started is stopped by its PID when it ends, failed or not.

#![allow(clippy::pedantic, clippy::unwrap_used)] // test code: plain over pedantic

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::Rng;
use orgstore::{
    Durability, Error, ListRequest, NewOrganization, OrgId, OrgStore, Organization,
    OrganizationUpdate, Region,
};

/// The store's commit deadline, in both parts.
const COMMIT_DEADLINE: Duration = Duration::from_secs(2);
/// How much later than the deadline a cut-short commit may end (the cancel's round trip, a
/// busy machine).
const DEADLINE_SLACK: Duration = Duration::from_millis(1500);
/// How long the failover manager "takes to notice" the crash before it acts.
const DETECTION_DELAY: Duration = Duration::from_millis(300);
/// Longer than any wait of the test is allowed to be: past it, something hangs.
const HANG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The cluster

fn script_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/postgres")
}

/// Runs `.ci/postgres ARGS…`: its standard output, or what it printed on failure.
fn script(args: &[&str]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script_path())
        .args(args)
        .output()
        .map_err(|e| format!(".ci/postgres {args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            ".ci/postgres {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port(taken: &mut BTreeSet<u16>) -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if taken.insert(port) {
            return port;
        }
    }
}

struct Node {
    /// The standby name (application_name and slot), or "primary" for the first primary.
    name: String,
    dir: PathBuf,
    port: u16,
    /// The postmaster's PID while the test believes it runs.
    pid: Option<u32>,
    /// Stopped with SIGSTOP (`.ci/postgres freeze`).
    frozen: bool,
}

/// The servers of one test, stopped by their PIDs when dropped (also when the test fails).
struct Cluster {
    nodes: Vec<Node>,
    ports: BTreeSet<u16>,
    // Dropped after `drop` has stopped the servers.
    root: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Cluster {
        let root = tempfile::Builder::new()
            .prefix("orgstore-failover-")
            .tempdir()
            .unwrap();
        // As root, the servers run as an unprivileged user, who must reach their folders.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Cluster {
            nodes: Vec::new(),
            ports: BTreeSet::new(),
            root,
        }
    }

    fn add(&mut self, name: &str, run: impl FnOnce(&str, &str) -> Result<String, String>) -> usize {
        let port = free_port(&mut self.ports);
        let dir = self
            .root
            .path()
            .join(format!("n{}-{name}", self.nodes.len()));
        self.nodes.push(Node {
            name: name.to_owned(),
            dir: dir.clone(),
            port,
            pid: None,
            frozen: false,
        });
        let i = self.nodes.len() - 1;
        let ran = run(dir.to_str().unwrap(), &port.to_string());
        // Whatever happened, a server that started is stopped at the end.
        self.nodes[i].pid = script(&["pid", dir.to_str().unwrap()])
            .ok()
            .and_then(|p| p.parse().ok());
        ran.unwrap_or_else(|e| panic!("starting {name}: {e}"));
        assert!(self.nodes[i].pid.is_some(), "{name} has no postmaster PID");
        i
    }

    fn start_primary(&mut self) -> usize {
        self.add("primary", |dir, port| {
            script(&["start", dir, port, "-c", "synchronous_commit=on"])
        })
    }

    fn add_standby(&mut self, primary: usize, name: &str) -> usize {
        let primary_port = self.nodes[primary].port.to_string();
        self.add(name, |dir, port| {
            script(&["standby", &primary_port, dir, port, name])
        })
    }

    fn dir(&self, i: usize) -> &str {
        self.nodes[i].dir.to_str().unwrap()
    }

    fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// SIGKILL of the server's every process at once, as a crash of its host would (a kill of
    /// the postmaster alone leaves its backends committing until they notice).
    fn crash(&mut self, i: usize) {
        script(&["crash", self.dir(i)]).unwrap();
        self.nodes[i].pid = None;
    }

    /// Starts a stopped or killed node again (a standby stays a standby).
    fn restart(&mut self, i: usize) {
        let (dir, port) = (self.dir(i).to_owned(), self.port(i).to_string());
        script(&["start", &dir, &port]).unwrap();
        self.nodes[i].pid = script(&["pid", &dir]).ok().and_then(|p| p.parse().ok());
    }

    /// SIGSTOP of all its processes: the server hangs, as behind a network partition.
    fn freeze(&mut self, i: usize) {
        script(&["freeze", self.dir(i)]).unwrap();
        self.nodes[i].frozen = true;
    }

    fn thaw(&mut self, i: usize) {
        script(&["thaw", self.dir(i)]).unwrap();
        self.nodes[i].frozen = false;
    }

    fn promote(&self, i: usize) {
        script(&["promote", self.dir(i)]).unwrap();
    }

    /// Runs statements on node `i` (a plain SQL session, for the failover manager's work).
    fn sql(&self, i: usize, statements: &[&str]) -> String {
        let port = self.port(i).to_string();
        let mut args = vec!["sql", port.as_str()];
        args.extend_from_slice(statements);
        script(&args).unwrap_or_else(|e| panic!("on {}: {e}", self.name(i)))
    }

    /// Waits until `primary` streams to each of `standbys` as a synchronous (quorum) standby.
    fn wait_streaming(&self, primary: usize, standbys: &[&str]) -> Duration {
        let start = Instant::now();
        loop {
            let rows = self.sql(
                primary,
                &["SELECT application_name, state, sync_state FROM pg_stat_replication"],
            );
            let ready = standbys
                .iter()
                .all(|s| rows.lines().any(|l| l == format!("{s}|streaming|quorum")));
            if ready {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{} does not stream to {standbys:?} synchronously; pg_stat_replication:\n{rows}",
                self.name(primary)
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `primary` has no standby connected.
    fn wait_no_standby(&self, primary: usize) {
        let start = Instant::now();
        loop {
            let rows = self.sql(primary, &["SELECT count(*) FROM pg_stat_replication"]);
            if rows == "0" {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "standbys still connected to {}",
                self.name(primary)
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// How far a standby has received WAL (bytes).
    fn received(&self, i: usize) -> u64 {
        self.sql(
            i,
            &[
                "SELECT pg_wal_lsn_diff(greatest(pg_last_wal_receive_lsn(), \
               pg_last_wal_replay_lsn()), '0/0')::bigint",
            ],
        )
        .parse()
        .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if node.frozen {
                let _ = script(&["thaw", node.dir.to_str().unwrap()]);
            }
            if let Some(pid) = node.pid.take() {
                // `.ci/postgres stop` signals the PID of the node's postmaster.pid; make sure it
                // is still the server this test started.
                let now = script(&["pid", node.dir.to_str().unwrap()]).ok();
                if now.as_deref() == Some(pid.to_string().as_str()) {
                    let t = Instant::now();
                    if let Err(e) = script(&["stop", node.dir.to_str().unwrap()]) {
                        eprintln!("failover: stopping {} (PID {pid}): {e}", node.name);
                    }
                    eprintln!(
                        "failover: stopped {} (PID {pid}) in {}",
                        node.name,
                        ms(t.elapsed())
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The writers and what they saw

#[derive(Debug)]
enum Outcome {
    /// `Ok`, with what the store returned.
    Acked(Box<Organization>),
    /// `Error::OutcomeUnknown`.
    Unknown,
    /// Any other error: the write must not have taken effect.
    Failed(String),
}

#[derive(Debug)]
struct Attempt {
    /// The version the write sets (0 for the create).
    version: u64,
    outcome: Outcome,
    started: Instant,
    ended: Instant,
}

/// One organization of a writer: its create and every update sent after.
#[derive(Debug)]
struct Tracked {
    writer: usize,
    n: u64,
    /// Known once the create was acknowledged, or from its OutcomeUnknown error.
    id: Option<OrgId>,
    attempts: Vec<Attempt>,
}

impl Tracked {
    fn external_id(&self) -> String {
        format!("fo-{}-{}", self.writer, self.n)
    }
    fn region(&self) -> Region {
        if self.n.is_multiple_of(2) {
            Region::Us
        } else {
            Region::Eu
        }
    }
    fn display_name(&self, version: u64) -> String {
        format!("writer {} org {} v{version}", self.writer, self.n)
    }
    fn slug(&self, version: u64) -> String {
        format!("fo-{}-{}-v{version}", self.writer, self.n)
    }
    /// Whether `org` carries exactly what version `version`'s write put there.
    fn holds(&self, org: &Organization, version: u64) -> bool {
        org.display_name == self.display_name(version)
            && org.slug.as_deref() == Some(self.slug(version).as_str())
            && org.external_id.as_deref() == Some(self.external_id().as_str())
            && org.metadata.get("version").map(String::as_str) == Some(version.to_string().as_str())
            && org.region_code == self.region()
    }
}

#[derive(Default)]
struct WriterLog {
    orgs: Vec<Tracked>,
    /// Errors by kind, for the report.
    errors: BTreeMap<String, u64>,
}

/// An error with its chain of causes.
fn describe(e: &Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn error_kind(op: &str, e: &Error) -> String {
    let text = match e {
        Error::OutcomeUnknown { .. } => "outcome unknown".into(),
        Error::NotFound { .. } => "not found".into(),
        other => describe(other),
    };
    let text = format!("{op}: {text}");
    // The kind, not the details that vary (ids, addresses).
    let mut short: String = text.chars().take(160).collect();
    if let Some(cut) = short.find(" (") {
        short.truncate(cut);
    }
    short
}

/// Writes until `stop`: creates (one in three, or when it has nothing to update) and updates of
/// its own acknowledged organizations, each update changing the name, the slug (a unique key)
/// and a metadata version.
fn writer(store: OrgStore, w: usize, seed: u64, shared: Arc<Shared>) -> WriterLog {
    let mut rng = Rng::new(seed ^ (w as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut log = WriterLog::default();
    let mut updatable: Vec<usize> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let result;
        let op;
        if updatable.is_empty() || rng.chance(35) {
            op = "create";
            let mut t = Tracked {
                writer: w,
                n: log.orgs.len() as u64,
                id: None,
                attempts: Vec::new(),
            };
            let new = NewOrganization::new(t.display_name(0))
                .external_id(t.external_id())
                .slug(t.slug(0))
                .region(t.region())
                .metadata("version", "0")
                .setting("sso", w.is_multiple_of(2));
            result = store.create(new);
            let outcome = match &result {
                Ok(org) => {
                    t.id = Some(org.id.clone());
                    updatable.push(log.orgs.len());
                    Outcome::Acked(Box::new(org.clone()))
                }
                Err(Error::OutcomeUnknown { id, .. }) => {
                    t.id = id.clone();
                    Outcome::Unknown
                }
                Err(e) => Outcome::Failed(describe(e)),
            };
            t.attempts.push(Attempt {
                version: 0,
                outcome,
                started,
                ended: Instant::now(),
            });
            log.orgs.push(t);
        } else {
            op = "update";
            let t = &mut log.orgs[updatable[rng.below(updatable.len() as u64) as usize]];
            let version = t.attempts.last().unwrap().version + 1;
            let id = t.id.clone().unwrap();
            let update = OrganizationUpdate::new()
                .display_name(t.display_name(version))
                .slug(t.slug(version))
                .set_metadata("version", version.to_string());
            result = store.update(&id, update);
            let outcome = match &result {
                Ok(org) => Outcome::Acked(Box::new(org.clone())),
                Err(Error::OutcomeUnknown { .. }) => Outcome::Unknown,
                Err(e) => Outcome::Failed(describe(e)),
            };
            t.attempts.push(Attempt {
                version,
                outcome,
                started,
                ended: Instant::now(),
            });
        }
        match result {
            Ok(_) => shared.acknowledged(started),
            Err(e) => {
                *log.errors.entry(error_kind(op, &e)).or_default() += 1;
                // The next operation retries through the pool, which replaces broken
                // connections.
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
    log
}

/// What the writers and the test share.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// When the primary was killed.
    killed_at: Mutex<Option<Instant>>,
    /// Whether a write sent after the kill was acknowledged.
    acked_after_kill: AtomicBool,
}

impl Shared {
    fn acknowledged(&self, started: Instant) {
        let killed = *self.killed_at.lock().unwrap();
        if killed.is_some_and(|k| started > k) {
            self.acked_after_kill.store(true, Ordering::SeqCst);
        }
    }
}

/// Stops the writers when dropped, so they end even if the test fails half-way.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::SeqCst);
    }
}

/// What the check of one organization found.
#[derive(Default)]
struct Tally {
    acknowledged: u64,
    lost: u64,
    unknown_creates_present: u64,
    unknown_creates_absent: u64,
    unknown_updates_applied: u64,
    unknown_updates_not_applied: u64,
    /// Overwritten by a later write, or hidden by a later unknown one.
    unknown_updates_undetermined: u64,
    unknown_without_id: u64,
    failed: u64,
    failed_but_applied: u64,
    present: BTreeSet<OrgId>,
}

/// Checks one organization against the store; problems are pushed onto `problems`.
fn check_org(store: &OrgStore, t: &Tracked, tally: &mut Tally, problems: &mut Vec<String>) {
    let ext = t.external_id();
    let stored = store
        .get_by_external_id(&ext)
        .unwrap_or_else(|e| panic!("reading {ext}: {}", describe(&e)));
    for a in &t.attempts {
        match a.outcome {
            Outcome::Acked(_) => tally.acknowledged += 1,
            Outcome::Failed(_) => tally.failed += 1,
            Outcome::Unknown => {}
        }
    }
    let create = &t.attempts[0];
    let Some(org) = stored else {
        match &create.outcome {
            Outcome::Acked(org) => {
                tally.lost += 1;
                problems.push(format!(
                    "LOST: the acknowledged create of {ext} ({}) is not stored",
                    org.id
                ));
            }
            Outcome::Unknown => {
                tally.unknown_creates_absent += 1;
                if t.id.is_none() {
                    tally.unknown_without_id += 1;
                }
            }
            Outcome::Failed(_) => {}
        }
        return;
    };
    tally.present.insert(org.id.clone());
    match &create.outcome {
        Outcome::Acked(_) => {}
        Outcome::Unknown => {
            tally.unknown_creates_present += 1;
            match &t.id {
                None => tally.unknown_without_id += 1,
                Some(id) if *id != org.id => problems.push(format!(
                    "{ext}: the create's OutcomeUnknown named {id}, but {} is stored",
                    org.id
                )),
                Some(_) => {}
            }
        }
        Outcome::Failed(e) => {
            tally.failed_but_applied += 1;
            problems.push(format!(
                "{ext}: the create failed with a definite error ({e}) but is stored as {}",
                org.id
            ));
        }
    }

    // Which version is stored, and may it be?
    let Some(version) = org
        .metadata
        .get("version")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        problems.push(format!("{ext}: stored without its version: {org:?}"));
        return;
    };
    let Some(attempt) = t.attempts.iter().find(|a| a.version == version) else {
        problems.push(format!("{ext}: stores version {version}, never written"));
        return;
    };
    if !t.holds(&org, version) {
        problems.push(format!(
            "HALF-APPLIED: {ext} stores version {version} mixed with other content: {org:?}"
        ));
    }
    let last_acked = t
        .attempts
        .iter()
        .rposition(|a| matches!(a.outcome, Outcome::Acked(_)));
    let stored_at = t
        .attempts
        .iter()
        .position(|a| a.version == version)
        .unwrap();
    match (&attempt.outcome, last_acked) {
        (Outcome::Failed(e), _) => {
            tally.failed_but_applied += 1;
            problems.push(format!(
                "{ext}: version {version} failed with a definite error ({e}) but is stored"
            ));
        }
        (_, Some(last)) if stored_at < last => {
            tally.lost += 1;
            problems.push(format!(
                "LOST: {ext} stores version {version}, but version {} was acknowledged",
                t.attempts[last].version
            ));
        }
        // The last acknowledged version (an acknowledged one is the last, or lost above).
        (Outcome::Acked(acked), _) if **acked != org => problems.push(format!(
            "{ext}: stored content differs from the acknowledged one:\n  stored {org:?}\n  \
             acked  {acked:?}"
        )),
        _ => {} // as acknowledged, or an unknown write after the last acknowledged one
    }
    // The updates whose outcome was unknown, decided where the record tells.
    let after = last_acked.map_or(0, |l| l + 1);
    for (i, a) in t.attempts.iter().enumerate().skip(1) {
        if !matches!(a.outcome, Outcome::Unknown) {
            continue;
        }
        if i < after || i < stored_at {
            tally.unknown_updates_undetermined += 1;
        } else if i == stored_at {
            tally.unknown_updates_applied += 1;
        } else {
            tally.unknown_updates_not_applied += 1;
        }
    }
    // The indexes lead to the same record.
    let by_id = store.get(&org.id).unwrap();
    let by_slug = store.get_by_slug(org.slug.as_deref().unwrap()).unwrap();
    if by_id.as_ref() != Some(&org) || by_slug.as_ref() != Some(&org) {
        problems.push(format!(
            "{ext}: lookups disagree: by external id {org:?}, by id {by_id:?}, by slug {by_slug:?}"
        ));
    }
}

/// Runs `op` on a thread of its own and times it; a hang fails the test.
fn timed(
    what: &'static str,
    seed: u64,
    op: impl FnOnce() -> orgstore::Result<()> + Send + 'static,
) -> (&'static str, Duration, orgstore::Result<()>) {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        let result = op();
        let _ = tx.send((start.elapsed(), result));
    });
    match rx.recv_timeout(COMMIT_DEADLINE + HANG) {
        Ok((took, result)) => (what, took, result),
        Err(_) => panic!(
            "failover part 2: the {what} did not end within {:?} with both standbys down (the \
             commit deadline is {COMMIT_DEADLINE:?}): a hang; seed {seed}",
            COMMIT_DEADLINE + HANG
        ),
    }
}

/// The first problems (a run that loses writes may find thousands).
fn listing(problems: &[String]) -> String {
    const SHOWN: usize = 30;
    let mut text = problems[..problems.len().min(SHOWN)].join("\n");
    if problems.len() > SHOWN {
        text.push_str(&format!("\n… and {} more", problems.len() - SHOWN));
    }
    text
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------------
// The test

/// Whether to run: only when `ORGSTORE_FAILOVER=run`, and then a failure without the server
/// binaries.
fn wanted(test: &str) -> bool {
    if std::env::var("ORGSTORE_FAILOVER").as_deref() != Ok("run") {
        eprintln!(
            "{test}: skipped (set ORGSTORE_FAILOVER=run, with PostgreSQL's server binaries \
             installed by `.ci/postgres install`)"
        );
        return false;
    }
    if let Err(e) = script(&["bindir"]) {
        panic!(
            "{test}: PostgreSQL's server binaries are needed ({e}); install them with \
             `.ci/postgres install`, or unset ORGSTORE_FAILOVER to skip this test"
        );
    }
    true
}

#[test]
fn failover_keeps_every_acknowledged_write() {
    if !wanted("failover") {
        return;
    }
    let began = Instant::now();
    let seed = common::seed("failover");
    let seconds = common::size("ORGSTORE_FAILOVER_SECONDS", 2);
    let writers = common::size("ORGSTORE_FAILOVER_WRITERS", 4).max(1) as usize;
    let mut rng = Rng::new(seed);
    let load = Duration::from_millis(seconds * 1000 + rng.below(500));

    // A primary and two synchronous standbys.
    let mut cluster = Cluster::new();
    let primary = cluster.start_primary();
    let s1 = cluster.add_standby(primary, "s1");
    let s2 = cluster.add_standby(primary, "s2");
    cluster.sql(
        primary,
        &[
            "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (s1, s2)'",
            "SELECT pg_reload_conf()",
        ],
    );
    cluster.wait_streaming(primary, &["s1", "s2"]);
    assert_eq!(
        cluster.sql(primary, &["SHOW synchronous_commit"]),
        "on",
        "synchronous_commit"
    );

    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}/postgres?\
         target_session_attrs=read-write&sslmode=disable&connect_timeout=2",
        cluster.port(primary),
        cluster.port(s1),
        cluster.port(s2)
    );
    let durability = if std::env::var("ORGSTORE_FAILOVER_DURABILITY").as_deref() == Ok("none") {
        eprintln!("failover: negative control: Durability::None, this run must fail");
        Durability::None
    } else {
        Durability::Immediate
    };
    let store = OrgStore::builder()
        .durability(durability)
        .pool_size(writers + 2)
        .pool_timeout(Duration::from_secs(3))
        .commit_deadline(COMMIT_DEADLINE)
        .postgres_schema("failover")
        .postgres(&url)
        .expect("the store on the cluster");
    let cluster_up = began.elapsed();
    println!(
        "failover: cluster up (primary :{}, s1 :{}, s2 :{}), {writers} writers, {} of load before the kill",
        cluster.port(primary),
        cluster.port(s1),
        cluster.port(s2),
        ms(load)
    );

    // Part 1: the writers, and a kill -9 of the primary mid-load.
    let shared = Arc::new(Shared::default());
    let _stop_guard = StopOnDrop(Arc::clone(&shared));
    let (done_tx, done_rx) = mpsc::channel();
    for w in 0..writers {
        let (store, shared, done) = (store.clone(), Arc::clone(&shared), done_tx.clone());
        thread::Builder::new()
            .name(format!("writer-{w}"))
            .spawn(move || {
                let _ = done.send(writer(store, w, seed, shared));
            })
            .unwrap();
    }
    drop(done_tx);
    thread::sleep(load);
    cluster.crash(primary);
    let killed_at = Instant::now();
    *shared.killed_at.lock().unwrap() = Some(killed_at);

    // The failover manager: the standby that received the most WAL becomes the primary (with
    // ANY 1, an acknowledged commit is on at least one standby, not necessarily on s1).
    thread::sleep(DETECTION_DELAY);
    let (r1, r2) = (cluster.received(s1), cluster.received(s2));
    let (new_primary, other) = if r1 >= r2 { (s1, s2) } else { (s2, s1) };
    let other_name = cluster.name(other).to_owned();
    // Not replicated: the new primary needs its own, set before it accepts writes.
    cluster.sql(
        new_primary,
        &[
            &format!("ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 ({other_name})'"),
            "SELECT pg_reload_conf()",
        ],
    );
    let promoting = killed_at.elapsed();
    cluster.promote(new_primary);
    let promoted = killed_at.elapsed();
    cluster.sql(
        new_primary,
        &[&format!(
            "SELECT pg_create_physical_replication_slot('{other_name}')"
        )],
    );
    cluster.sql(
        other,
        &[
            &format!(
                "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port={} user=postgres \
                 application_name={other_name}'",
                cluster.port(new_primary)
            ),
            "SELECT pg_reload_conf()",
        ],
    );
    cluster.wait_streaming(new_primary, &[&other_name]);
    let replicating = killed_at.elapsed();
    println!(
        "failover: received WAL s1 {r1} B, s2 {r2} B: promoted {} {} after the kill; {other_name} \
         streams to it {} after the kill",
        cluster.name(new_primary),
        ms(promoted),
        ms(replicating)
    );

    // The writers go on for the same time again once the new primary acknowledges writes.
    let mut problems = Vec::new();
    let waited = Instant::now();
    while !shared.acked_after_kill.load(Ordering::SeqCst) {
        if waited.elapsed() > Duration::from_secs(30) {
            problems.push("no write was acknowledged within 30 s of the failover".to_owned());
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    if problems.is_empty() {
        thread::sleep(load);
    }
    shared.stop.store(true, Ordering::SeqCst);
    let mut logs = Vec::new();
    for _ in 0..writers {
        match done_rx.recv_timeout(HANG) {
            Ok(log) => logs.push(log),
            Err(_) => panic!(
                "failover: a writer did not end within {HANG:?} of being told to stop (a hang); \
                 seed {seed}"
            ),
        }
    }

    let writers_done = began.elapsed();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for log in &logs {
        for (k, n) in &log.errors {
            *errors.entry(k.clone()).or_default() += n;
        }
    }
    println!("  writers' errors by kind: {errors:?}");

    // What survived.
    let mut tally = Tally::default();
    let mut first_after_kill: Option<Duration> = None;
    let (mut acked_before, mut acked_after) = (0u64, 0u64);
    for log in &logs {
        for t in &log.orgs {
            check_org(&store, t, &mut tally, &mut problems);
            for a in &t.attempts {
                if matches!(a.outcome, Outcome::Acked(_)) {
                    if a.started > killed_at {
                        acked_after += 1;
                        let d = a.ended - killed_at;
                        first_after_kill = Some(first_after_kill.map_or(d, |f| f.min(d)));
                    } else {
                        acked_before += 1;
                    }
                }
            }
        }
    }
    let audited = store.check_indexes();
    match &audited {
        Ok(n) if *n == tally.present.len() as u64 => {}
        Ok(n) => problems.push(format!(
            "check_indexes counts {n} organizations, the writers' records find {}",
            tally.present.len()
        )),
        Err(e) => problems.push(format!("check_indexes: {e}")),
    }
    let counted = store.count(None).unwrap();
    if counted != tally.present.len() as u64 {
        problems.push(format!(
            "count(None) = {counted}, but {} are stored",
            tally.present.len()
        ));
    }
    let mut listed = BTreeSet::new();
    for page in store.pages(ListRequest::new().page_size(100)) {
        for org in page.unwrap().organizations {
            if !listed.insert(org.id.clone()) {
                problems.push(format!("{} listed twice", org.id));
            }
        }
    }
    if listed != tally.present {
        problems.push(format!(
            "the pages list {} organizations, {} of them not written by the writers; {} stored \
             ones are missing from the pages",
            listed.len(),
            listed.difference(&tally.present).count(),
            tally.present.difference(&listed).count()
        ));
    }
    if tally.unknown_without_id > 0 {
        problems.push(format!(
            "{} creates ended OutcomeUnknown without their id",
            tally.unknown_without_id
        ));
    }
    if let Some(first) = first_after_kill.filter(|f| *f < promoting) {
        problems.push(format!(
            "a write sent after the crash was acknowledged {} after it, before the promotion \
             began ({}): by no primary",
            ms(first),
            ms(promoting)
        ));
    }
    if acked_before == 0 {
        problems.push("no write was acknowledged before the kill".to_owned());
    }
    if acked_after == 0 {
        problems.push("no write was acknowledged after the kill".to_owned());
    }

    let checked = began.elapsed();
    println!("failover: part 1 (kill -9 of the primary mid-load, seed {seed})");
    println!(
        "  acknowledged writes: {} ({acked_before} sent before the kill, {acked_after} after)",
        tally.acknowledged
    );
    println!("  lost acknowledged writes: {}", tally.lost);
    println!(
        "  outcome unknown: creates {} present / {} absent; updates {} applied / {} not applied / {} overwritten since",
        tally.unknown_creates_present,
        tally.unknown_creates_absent,
        tally.unknown_updates_applied,
        tally.unknown_updates_not_applied,
        tally.unknown_updates_undetermined
    );
    println!(
        "  definite errors: {} (applied anyway: {})",
        tally.failed, tally.failed_but_applied
    );
    println!(
        "  stored: {} organizations; check_indexes: {audited:?}; cluster up at {}, writers \
         stopped at {}, checked at {} (since the start)",
        tally.present.len(),
        ms(cluster_up),
        ms(writers_done),
        ms(checked)
    );
    println!(
        "  kill -> promoted: {}; kill -> standby attached: {}; kill -> first acknowledged write: {}",
        ms(promoted),
        ms(replicating),
        first_after_kill.map_or("none".to_owned(), ms)
    );
    assert!(
        problems.is_empty(),
        "failover part 1 (seed {seed}) found {} problems:\n{}",
        problems.len(),
        listing(&problems)
    );

    // Part 2: a third node joins as a standby, then both standbys are killed.
    // pg_basebackup starts with a spread checkpoint, slow after a load: one now keeps it short.
    cluster.sql(new_primary, &["CHECKPOINT"]);
    let s3 = cluster.add_standby(new_primary, "s3");
    cluster.sql(
        new_primary,
        &[
            &format!("ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 ({other_name}, s3)'"),
            "SELECT pg_reload_conf()",
        ],
    );
    cluster.wait_streaming(new_primary, &[&other_name, "s3"]);
    let before = Instant::now();
    let witness = store
        .create(NewOrganization::new("replicated").external_id("both-standbys-up"))
        .expect("a create with both standbys up");
    let replicated_commit = before.elapsed();
    let victim = logs
        .iter()
        .flat_map(|l| &l.orgs)
        .find(|t| matches!(t.attempts[0].outcome, Outcome::Acked(_)))
        .and_then(|t| t.id.clone())
        .unwrap_or_else(|| witness.id.clone());
    let standbys_up = began.elapsed();
    cluster.crash(other);
    cluster.crash(s3);
    cluster.wait_no_standby(new_primary);
    let standbys_gone = began.elapsed();

    // Three commits that wait for a replication that cannot come, one after the other (at
    // once, they would queue behind each other's locks, which a waiting commit still holds).
    let cut = vec![
        timed("one-shot create", seed, {
            let store = store.clone();
            move || {
                store
                    .create(NewOrganization::new("cut short").external_id("cut-create"))
                    .map(|_| ())
            }
        }),
        timed("one-shot update", seed, {
            let (store, id) = (store.clone(), victim.clone());
            move || {
                store
                    .update(&id, OrganizationUpdate::new().slug("cut-update"))
                    .map(|_| ())
            }
        }),
        timed("explicit transaction", seed, {
            let store = store.clone();
            move || {
                let mut txn = store.begin_write()?;
                txn.create(NewOrganization::new("cut txn a").external_id("cut-txn-a"))?;
                txn.create(NewOrganization::new("cut txn b").external_id("cut-txn-b"))?;
                txn.commit()
            }
        }),
    ];
    println!(
        "failover: part 2 (kill -9 of both standbys; commit deadline {})",
        ms(COMMIT_DEADLINE)
    );
    println!(
        "  with both standbys up, a create committed in {}",
        ms(replicated_commit)
    );
    let mut bad = Vec::new();
    for (what, took, result) in &cut {
        println!("  {what}: {} -> {result:?}", ms(*took));
        match result {
            Err(Error::OutcomeUnknown { .. }) => {}
            other => bad.push(format!("{what} ended {other:?}, not OutcomeUnknown")),
        }
        if *took > COMMIT_DEADLINE + DEADLINE_SLACK {
            bad.push(format!(
                "{what} took {}, past the commit deadline {} (+{} slack)",
                ms(*took),
                ms(COMMIT_DEADLINE),
                ms(DEADLINE_SLACK)
            ));
        }
        // It ended because of the deadline, not before: the wait for replication was real.
        if *took < COMMIT_DEADLINE - Duration::from_millis(100) {
            bad.push(format!(
                "{what} ended after {}, before the commit deadline: it did not wait for replication",
                ms(*took)
            ));
        }
    }
    // What the cut-short commits left on the primary: all or nothing each.
    let created = store.get_by_external_id("cut-create").unwrap();
    let updated = store.get(&victim).unwrap().unwrap();
    let txn_a = store.get_by_external_id("cut-txn-a").unwrap();
    let txn_b = store.get_by_external_id("cut-txn-b").unwrap();
    println!(
        "  on the primary afterwards: create {}, update {}, transaction {}",
        if created.is_some() {
            "committed locally"
        } else {
            "absent"
        },
        if updated.slug.as_deref() == Some("cut-update") {
            "committed locally"
        } else {
            "absent"
        },
        match (&txn_a, &txn_b) {
            (Some(_), Some(_)) => "committed locally (both creates)",
            (None, None) => "absent (neither create)",
            _ => "HALF-APPLIED",
        }
    );
    if txn_a.is_some() != txn_b.is_some() {
        bad.push(format!(
            "the explicit transaction is half-applied: a {txn_a:?}, b {txn_b:?}"
        ));
    }
    match store.check_indexes() {
        Ok(n) => println!("  check_indexes: Ok({n})"),
        Err(e) => bad.push(format!("check_indexes after the cut-short commits: {e}")),
    }

    // A standby comes back: commits are acknowledged again.
    let restarting = began.elapsed();
    cluster.restart(other);
    cluster.wait_streaming(new_primary, &[&other_name]);
    println!(
        "  since the start: s3 joined and both standbys up at {}, both gone at {}, {other_name} \
         restarting at {}, streaming again at {}",
        ms(standbys_up),
        ms(standbys_gone),
        ms(restarting),
        ms(began.elapsed())
    );
    let before = Instant::now();
    match store.create(NewOrganization::new("back").external_id("standby-back")) {
        Ok(_) => println!(
            "  {other_name} restarted: a create is acknowledged again in {}",
            ms(before.elapsed())
        ),
        Err(e) => bad.push(format!("a create after {other_name} came back: {e}")),
    }
    println!("failover: done in {}", ms(began.elapsed()));
    assert!(
        bad.is_empty(),
        "failover part 2 (seed {seed}) found {} problems:\n{}",
        bad.len(),
        listing(&bad)
    );
}

// ---------------------------------------------------------------------------------------------
// A server that hangs instead of dying (SIGSTOP: the kernel still accepts and acknowledges its
// TCP traffic, nothing answers).

/// How a create sent to a hung server must end: `OutcomeUnknown` with its id, by the commit
/// deadline plus the grace and some slack, without blaming replication (nothing answered at all).
#[track_caller]
fn check_cut_short(what: &str, ended: &Result<(Duration, orgstore::Result<Organization>), String>) {
    match ended {
        Ok((took, Err(Error::OutcomeUnknown { id, message }))) => {
            println!("{what}: OutcomeUnknown after {}: {message}", ms(*took));
            assert!(id.is_some(), "{what}: OutcomeUnknown without the id");
            assert!(
                !message.contains("replication"),
                "{what}: the server did not answer at all, yet the error says {message:?}"
            );
            assert!(
                *took >= COMMIT_DEADLINE - Duration::from_millis(100),
                "{what}: ended after {}, before the commit deadline",
                ms(*took)
            );
        }
        Ok((took, other)) => panic!("{what} ended {other:?} after {}", ms(*took)),
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Runs a create on a thread of its own; its outcome comes on the channel.
fn create_within(
    store: &OrgStore,
    name: &str,
) -> mpsc::Receiver<(Duration, orgstore::Result<Organization>)> {
    let (tx, rx) = mpsc::channel();
    let (writer, name) = (store.clone(), name.to_owned());
    thread::spawn(move || {
        let start = Instant::now();
        let result = writer.create(NewOrganization::new(name));
        let _ = tx.send((start.elapsed(), result));
    });
    rx
}

/// Waits for a create started by [`create_within`] until `bound` after `begun`; `Err` says it
/// did not end by then.
fn wait_create(
    rx: &mpsc::Receiver<(Duration, orgstore::Result<Organization>)>,
    bound: Duration,
    begun: Instant,
) -> Result<(Duration, orgstore::Result<Organization>), String> {
    let left = bound.saturating_sub(begun.elapsed());
    rx.recv_timeout(left).map_err(|_| {
        format!(
            "did not end within {} (commit deadline {} + {} slack)",
            ms(bound),
            ms(COMMIT_DEADLINE),
            ms(DEADLINE_SLACK)
        )
    })
}

/// A primary alone, a store on it (a create done, so the insert is prepared), then the primary
/// hangs: a create must still end by the commit deadline, as `OutcomeUnknown`, and the cut
/// connection must not come back: once the server runs again, a create succeeds.
#[test]
fn regression_a_commit_to_a_hung_primary_ends_by_the_deadline() {
    if !wanted("hung primary") {
        return;
    }
    let mut cluster = Cluster::new();
    let primary = cluster.start_primary();
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable&connect_timeout=2",
        cluster.port(primary)
    );
    let store = OrgStore::builder()
        .commit_deadline(COMMIT_DEADLINE)
        .pool_timeout(Duration::from_secs(3))
        .postgres_schema("hung")
        .postgres(&url)
        .unwrap();
    store.create(NewOrganization::new("before")).unwrap();
    cluster.freeze(primary);
    let bound = COMMIT_DEADLINE + DEADLINE_SLACK;
    let begun = Instant::now();
    let rx = create_within(&store, "during");
    let ended = wait_create(&rx, bound, begun);
    let thawed = Instant::now();
    cluster.thaw(primary);
    let ended = ended.map_err(|e| {
        let after = rx.recv_timeout(HANG).ok();
        format!(
            "a create to a hung primary {e}; once the server ran again it ended {} later as {:?}",
            ms(thawed.elapsed()),
            after.map(|(_, r)| r)
        )
    });
    check_cut_short("hung primary", &ended);
    let again = Instant::now();
    let after = store.create(NewOrganization::new("after"));
    assert!(
        after.is_ok(),
        "a create once the primary runs again: {after:?} after {}",
        ms(again.elapsed())
    );
}

/// With TLS offered (`sslmode=prefer`), a cancel request begins with an SSL request and waits
/// for the server's answer, which a hung server never gives. Two creates on two connections of
/// one store, to a hung primary, must both end by the deadline: no cancel holds up the thread
/// that watches the store's deadlines.
#[test]
fn regression_a_hung_cancel_does_not_hold_up_other_deadlines() {
    if !wanted("hung cancel") {
        return;
    }
    let mut cluster = Cluster::new();
    let primary = cluster.start_primary();
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=prefer&connect_timeout=2",
        cluster.port(primary)
    );
    let store = OrgStore::builder()
        .commit_deadline(COMMIT_DEADLINE)
        .pool_size(2)
        .pool_timeout(Duration::from_secs(3))
        .postgres_schema("hung_cancel")
        .postgres(&url)
        .unwrap();
    // Two connections, each with the insert prepared (a statement is prepared before its
    // deadline is watched): the store's only connection creates, then a snapshot holds it while
    // a second connection creates.
    store.create(NewOrganization::new("warm a")).unwrap();
    let snapshot = store.begin_read().unwrap();
    store.create(NewOrganization::new("warm b")).unwrap();
    drop(snapshot);
    cluster.freeze(primary);
    let bound = COMMIT_DEADLINE + DEADLINE_SLACK;
    let begun = Instant::now();
    let first = create_within(&store, "during a");
    thread::sleep(Duration::from_millis(200));
    let second = create_within(&store, "during b");
    let ended = [
        wait_create(&first, bound, begun),
        wait_create(&second, bound + Duration::from_millis(200), begun),
    ];
    cluster.thaw(primary);
    for (i, e) in ended.iter().enumerate() {
        check_cut_short(&format!("hung cancel, create {i}"), e);
    }
}

/// Two primaries, the first of the URL hung: opening a store must end within `connect_timeout`
/// plus some slack (on the second host, as libpq's per-host timeout would), not wait for the
/// first host to answer; so must a second store, and a new connection of the first.
#[test]
fn regression_a_hung_first_host_does_not_hang_the_store() {
    if !wanted("hung first host") {
        return;
    }
    let mut cluster = Cluster::new();
    let hung = cluster.start_primary();
    let live = cluster.start_primary();
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?sslmode=disable&\
         target_session_attrs=read-write&connect_timeout=2",
        cluster.port(hung),
        cluster.port(live)
    );
    cluster.freeze(hung);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        let result = OrgStore::builder()
            .pool_size(2)
            .pool_timeout(Duration::from_secs(3))
            .commit_deadline(COMMIT_DEADLINE)
            .postgres(&url)
            .and_then(|store| {
                let org = store.create(NewOrganization::new("x"))?;
                // A second connection (the first is held by the snapshot) goes past the hung
                // host as well.
                let snapshot = store.begin_read()?;
                store.create(NewOrganization::new("y"))?;
                drop(snapshot);
                Ok(org)
            });
        let _ = tx.send((start.elapsed(), result.map(|org| org.id)));
    });
    let bound = Duration::from_secs(2) * 2 + Duration::from_secs(2);
    let ended = rx.recv_timeout(bound);
    let thawed = Instant::now();
    cluster.thaw(hung);
    let after_thaw = match &ended {
        Ok(_) => None,
        Err(_) => rx.recv_timeout(HANG).ok().map(|r| (thawed.elapsed(), r)),
    };
    println!(
        "hung first host: within {}: {ended:?}; after the thaw: {after_thaw:?}",
        ms(bound)
    );
    match ended {
        Ok((_, Ok(_))) => {}
        Ok((took, Err(e))) => panic!(
            "opening a store whose first host hangs failed after {}: {}",
            ms(took),
            describe(&e)
        ),
        Err(_) => panic!(
            "opening a store whose first host hangs did not end within {} (connect_timeout=2); \
             once that host ran again it ended {} later as {:?}",
            ms(bound),
            after_thaw.as_ref().map_or("never".into(), |(d, _)| ms(*d)),
            after_thaw.map(|(_, (_, r))| r)
        ),
    }
}
