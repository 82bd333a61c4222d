//! A consistent copy of a live store in a new file.
//!
//! The copy reads one snapshot (a read transaction), so readers and writers of the store go on
//! meanwhile and none of their later commits is in it. It is written under a temporary name
//! beside the destination, made durable, verified by reopening it with every checksum checked
//! and every index audited, and only then given its name, so the destination is either absent
//! or a complete, checked store.

use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::error::StorageResultExt;
use super::{builder, file, read, schema, Engine, OpenOptions};
use crate::error::{Error, Result};

/// Rows copied per write transaction (the last one is the only durable commit).
const BATCH: usize = 20_000;

impl Engine {
    /// Copies the store as of now into a new store file at `dest`; returns how many
    /// organizations it holds.
    pub(crate) fn backup_to(&self, dest: &Path) -> Result<u64> {
        if dest.exists() {
            return Err(Error::precondition(format!(
                "{} already exists; a backup is written to a new file",
                dest.display()
            )));
        }
        let partial = partial_name(dest)?;
        // Refused while another backup writes it; under our lock, whatever is there is what a
        // failed backup left, and is started afresh.
        let opened = file::open(&partial, false)?;
        let written = opened
            .file
            .set_len(0)
            .map_err(file::io_error)
            .and_then(|()| self.write_copy(opened.file))
            .and_then(|records| publish(&partial, dest).map(|()| records));
        // Gone once published (the copy has its own name); after a failure, nothing
        // half-written stays behind.
        let _ = std::fs::remove_file(&partial);
        let records = written?;
        if let Err(e) = verify(dest, records) {
            let _ = std::fs::remove_file(dest);
            return Err(e);
        }
        Ok(records)
    }

    /// Writes the snapshot's tables into `file` (empty and locked); the number of records.
    fn write_copy(&self, file: std::fs::File) -> Result<u64> {
        let snapshot = self.db.begin_read().storage()?;
        let options = OpenOptions {
            cache_size: crate::DEFAULT_CACHE_SIZE,
            verify_on_open: false,
            multi_process: false,
        };
        let backend = redb::backends::FileBackend::new(file).storage()?;
        let copy = Engine::init(
            builder(&options).create_with_backend(backend).storage()?,
            crate::permit::StoreKey::fresh(),
        )?;
        let mut records = 0;
        let mut txn = batch(&copy)?;
        let mut in_batch = 0;
        for tab in schema::all() {
            let source = snapshot.open_table(tab.def).storage()?;
            if schema::ORGS.iter().any(|t| t.slot == tab.slot) {
                records += source.len().storage()?;
            }
            let mut rows = source.iter().storage()?;
            loop {
                let mut exhausted = false;
                {
                    let mut target = txn.open_table(tab.def).storage()?;
                    while in_batch < BATCH {
                        let Some(row) = rows.next() else {
                            exhausted = true;
                            break;
                        };
                        let (k, v) = row.storage()?;
                        target.insert(k.value(), v.value()).storage()?;
                        in_batch += 1;
                    }
                }
                if in_batch == BATCH {
                    txn.commit().storage()?;
                    txn = batch(&copy)?;
                    in_batch = 0;
                }
                if exhausted {
                    break;
                }
            }
        }
        // The last commit is durable, and with it every earlier one.
        let mut last = txn;
        last.set_durability(redb::Durability::Immediate)
            .map_err(|e| Error::precondition(e.to_string()))?;
        last.commit().storage()?;
        drop(copy);
        Ok(records)
    }
}

/// A write transaction of the copy whose commit need not be durable on its own.
fn batch(copy: &Engine) -> Result<redb::WriteTransaction> {
    let mut txn = copy.db.begin_write().storage()?;
    txn.set_durability(redb::Durability::None)
        .map_err(|e| Error::precondition(e.to_string()))?;
    Ok(txn)
}

/// `.<name>.partial` beside `dest`.
fn partial_name(dest: &Path) -> Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| Error::precondition("the backup path names no file"))?;
    let mut partial = std::ffi::OsString::from(".");
    partial.push(name);
    partial.push(".partial");
    Ok(dest.with_file_name(partial))
}

/// Gives the finished copy its name without ever replacing a file that appeared there
/// meanwhile, and makes the name durable.
fn publish(partial: &Path, dest: &Path) -> Result<()> {
    match std::fs::hard_link(partial, dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::precondition(format!(
                "{} appeared while the backup was written",
                dest.display()
            )))
        }
        // No hard links here: the existence check at the start has to do.
        Err(_) => std::fs::rename(partial, dest).map_err(file::io_error)?,
    }
    file::sync_parent(dest)
}

/// Reopens the copy with every checksum verified, and checks its records and indexes.
fn verify(path: &Path, expected: u64) -> Result<()> {
    let options = OpenOptions {
        cache_size: crate::DEFAULT_CACHE_SIZE,
        verify_on_open: true,
        multi_process: false,
    };
    let copy = Engine::open(path, &options)?;
    let found = read::check_indexes(&copy.begin_read()?)?;
    if found != expected {
        return Err(Error::corrupted(format!(
            "the backup holds {found} organizations, the snapshot {expected}"
        )));
    }
    Ok(())
}
