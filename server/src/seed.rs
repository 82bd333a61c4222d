//! `--seed FILE.jsonl`: organizations with pinned ids, imported at start.
//!
//! Each line is one organization in the library's JSON form (`id` and `display_name`
//! required; `create_time` and `update_time` default to now, `region_code` to `"US"`). Blank
//! lines are skipped. Only ids never seeded before are imported, and only when absent from
//! the store: the ids applied are recorded in a file (one per line; for a store file, beside it
//! as `<db>.seeded`), so a restart with the same seed changes nothing, and an organization the
//! application deleted or edited is left as the application left it. The whole seed is one
//! transaction: a bad line or a clash (say, an external id the application already uses) fails
//! the start and writes nothing.
//!
//! A PostgreSQL store has no file to keep the record beside: `serve --postgres` takes it from
//! `--seed-record FILE`. Servers sharing one store should share that record (or only one of
//! them should seed): a server with a record of its own would bring back an organization the
//! application deleted through another. Servers seeding the same store at once may conflict;
//! the seed is then run again (it reads the store anew), a bounded number of times.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use orgstore::{OrgStore, Organization, Readable as _};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// What a seed run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Organizations imported now.
    pub imported: usize,
    /// Lines whose id was seeded before or is already in the store.
    pub skipped: usize,
}

/// Why a seed could not be applied.
#[derive(Debug)]
pub struct SeedError(pub String);

impl std::fmt::Display for SeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SeedError {}

/// The record of seeded ids of the store at `db`: `<db>.seeded`.
pub fn record_path(db: &Path) -> PathBuf {
    let mut name = OsString::from(db.as_os_str());
    name.push(".seeded");
    PathBuf::from(name)
}

/// How many times a seed that conflicts with a concurrent writer is run.
const ATTEMPTS: u32 = 5;

/// Applies the seed file at `seed` to `store`, recording the ids applied in the file at
/// `record` (for a store file, [`record_path`] of it).
///
/// # Errors
///
/// An unreadable file, a line that is not an organization, an id twice in the file, or a
/// record the store refuses; nothing is written then.
///
/// # Examples
///
/// ```
/// use orgstore::OrgStore;
/// use orgstore_server::seed;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = dir.path().join("orgs.redb");
/// let file = dir.path().join("seed.jsonl");
/// std::fs::write(&file, "{\"id\": \"org_1\", \"display_name\": \"Acme\"}\n").unwrap();
/// let store = OrgStore::open(&db)?;
/// let record = seed::record_path(&db);
/// assert_eq!(seed::apply(&store, &file, &record).unwrap().imported, 1);
/// store.delete("org_1")?;
/// // The application deleted it: the seed does not bring it back.
/// assert_eq!(seed::apply(&store, &file, &record).unwrap().imported, 0);
/// assert_eq!(store.get("org_1")?, None);
/// # Ok::<(), orgstore::Error>(())
/// ```
pub fn apply(store: &OrgStore, seed: &Path, record: &Path) -> Result<SeedReport, SeedError> {
    let text = std::fs::read_to_string(seed)
        .map_err(|e| SeedError(format!("seed file {}: {e}", seed.display())))?;
    let mut applied: HashSet<String> = match std::fs::read_to_string(record) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
        Err(e) => return Err(SeedError(format!("seed record {}: {e}", record.display()))),
    };
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .map_err(|e| SeedError(e.to_string()))?;
    let mut lines = Vec::new();
    let mut ids = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let org = parse_line(line, &now)
            .map_err(|e| SeedError(format!("seed file {} line {n}: {e}", seed.display())))?;
        if !ids.insert(org.id.as_str().to_owned()) {
            return Err(SeedError(format!(
                "seed file {} line {n}: id {} appears twice",
                seed.display(),
                org.id
            )));
        }
        lines.push((n, org));
    }
    let mut attempt = 0;
    let (report, newly) = loop {
        attempt += 1;
        match write(store, seed, &lines, &applied) {
            Err(Attempt::Conflict(_)) if attempt < ATTEMPTS => {
                std::thread::sleep(std::time::Duration::from_millis(20 << attempt));
            }
            Err(Attempt::Conflict(err)) => {
                return Err(SeedError(format!(
                    "seed file {}: {err} (after {ATTEMPTS} attempts)",
                    seed.display()
                )))
            }
            Err(Attempt::Failed(err)) => return Err(err),
            Ok(done) => break done,
        }
    };
    if !newly.is_empty() {
        applied.extend(newly);
        let mut ids: Vec<&String> = applied.iter().collect();
        ids.sort();
        let mut out = String::new();
        for id in ids {
            out.push_str(id);
            out.push('\n');
        }
        let mut tmp = OsString::from(record.as_os_str());
        tmp.push(".tmp");
        std::fs::write(&tmp, out)
            .and_then(|()| std::fs::rename(&tmp, record))
            .map_err(|e| SeedError(format!("{}: {e}", record.display())))?;
    }
    Ok(report)
}

/// Why one run of the seed's transaction failed.
enum Attempt {
    /// A concurrent writer conflicted ([`orgstore::Error::Aborted`]): nothing was written, and
    /// running the seed again is safe.
    Conflict(orgstore::Error),
    /// Anything else: the seed fails.
    Failed(SeedError),
}

impl From<orgstore::Error> for Attempt {
    fn from(err: orgstore::Error) -> Self {
        match err {
            orgstore::Error::Aborted { .. } => Attempt::Conflict(err),
            err => Attempt::Failed(SeedError(err.to_string())),
        }
    }
}

/// One run of the seed's transaction: imports the lines whose ids are neither recorded nor
/// stored; returns the report and the ids newly applied.
fn write(
    store: &OrgStore,
    seed: &Path,
    lines: &[(usize, Organization)],
    applied: &HashSet<String>,
) -> Result<(SeedReport, Vec<String>), Attempt> {
    let mut report = SeedReport::default();
    let mut newly = Vec::new();
    store.transaction(|txn| {
        for (n, org) in lines {
            let id = org.id.as_str().to_owned();
            if applied.contains(&id) {
                report.skipped += 1;
                continue;
            }
            let present = txn.get(&org.id).map_err(|e| line_error(seed, *n, e))?;
            if present.is_some() {
                report.skipped += 1;
            } else {
                txn.import(org.clone())
                    .map_err(|e| line_error(seed, *n, e))?;
                report.imported += 1;
            }
            newly.push(id);
        }
        Ok::<_, Attempt>(())
    })?;
    Ok((report, newly))
}

fn line_error(seed: &Path, n: usize, err: orgstore::Error) -> Attempt {
    match err {
        orgstore::Error::Aborted { .. } => Attempt::Conflict(err),
        err => Attempt::Failed(SeedError(format!(
            "seed file {} line {n}: {err}",
            seed.display()
        ))),
    }
}

fn parse_line(line: &str, now: &str) -> Result<Organization, String> {
    let mut value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| "not a JSON object".to_owned())?;
    for field in ["create_time", "update_time"] {
        object
            .entry(field)
            .or_insert_with(|| serde_json::Value::String(now.to_owned()));
    }
    object
        .entry("region_code")
        .or_insert_with(|| serde_json::Value::String("US".to_owned()));
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_name_their_number_and_write_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("orgs.redb");
        let store = OrgStore::open(&db).expect("open");
        let file = dir.path().join("seed.jsonl");
        std::fs::write(
            &file,
            "{\"id\":\"org_1\",\"display_name\":\"A\"}\n\n{\"id\":\"nope\",\"display_name\":\"B\"}\n",
        )
        .expect("write");
        let err = apply(&store, &file, &record_path(&db)).expect_err("must fail");
        assert!(err.0.contains("line 3"), "{err}");
        assert_eq!(store.count(None).expect("count"), 0);
        std::fs::write(
            &file,
            "{\"id\":\"org_1\",\"display_name\":\"A\",\"external_id\":\"x\"}\n{\"id\":\"org_2\",\"display_name\":\"B\",\"external_id\":\"x\"}\n",
        )
        .expect("write");
        let err = apply(&store, &file, &record_path(&db)).expect_err("must fail");
        assert!(err.0.contains("line 2"), "{err}");
        assert_eq!(store.count(None).expect("count"), 0, "one transaction");
        assert!(!record_path(&db).exists());
    }

    #[test]
    fn restart_keeps_the_applications_edits() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("orgs.redb");
        let store = OrgStore::open(&db).expect("open");
        let file = dir.path().join("seed.jsonl");
        std::fs::write(
            &file,
            "{\"id\":\"org_1\",\"display_name\":\"A\",\"region_code\":\"EU\"}\n{\"id\":\"org_2\",\"display_name\":\"B\"}\n",
        )
        .expect("write");
        assert_eq!(
            apply(&store, &file, &record_path(&db)).expect("seed"),
            SeedReport {
                imported: 2,
                skipped: 0
            }
        );
        store
            .update(
                "org_1",
                orgstore::OrganizationUpdate::new().display_name("Edited"),
            )
            .expect("edit");
        assert_eq!(
            apply(&store, &file, &record_path(&db)).expect("again"),
            SeedReport {
                imported: 0,
                skipped: 2
            }
        );
        let org = store.get("org_1").expect("get").expect("present");
        assert_eq!(org.display_name, "Edited");
        assert_eq!(org.region_code, orgstore::Region::Eu);
    }
}
