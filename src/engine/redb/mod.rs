//! The redb engine: the embedded default, and the only module that names redb. It owns the
//! schema ([`schema`]), the mapping of redb errors ([`error`]), the
//! reads ([`read`]) and writes ([`writer`]) behind the engine traits, opening files
//! ([`file`]) and backups ([`backup`]).
//!
//! Every key and value is `&[u8]`, so a damaged byte can only ever surface as
//! [`Error::Corrupted`](crate::Error::Corrupted), not as a panic inside redb's UTF-8 decoding.

mod backup;
pub(crate) mod error;
mod file;
mod read;
pub(crate) mod schema;
mod writer;

use std::path::Path;

use redb::ReadableDatabase;

use self::error::StorageResultExt;
use crate::error::{Error, Result};
use crate::permit::StoreKey;

pub(crate) use self::schema::FORMAT_VERSION;
pub(crate) use self::writer::Writer;

/// How to open the database.
pub(crate) struct OpenOptions {
    pub cache_size: usize,
    pub verify_on_open: bool,
    pub multi_process: bool,
}

/// An open redb database holding an OrgStore.
pub(crate) struct Engine {
    db: redb::Database,
    /// Which store this is, for the write permit (the file, or this handle alone).
    key: StoreKey,
}

impl Engine {
    pub(crate) fn open(path: &Path, options: &OpenOptions) -> Result<Engine> {
        let opened = file::open(path, options.multi_process)?;
        let identity = StoreKey::of_file(&opened.file);
        let backend = redb::backends::FileBackend::new(opened.file).storage()?;
        let db = builder(options).create_with_backend(backend).storage()?;
        let engine = Engine::init(db, identity)?;
        if opened.created {
            file::sync_parent(path)?;
        }
        Ok(engine)
    }

    pub(crate) fn with_backend(
        backend: impl crate::backend::StorageBackend,
        options: &OpenOptions,
    ) -> Result<Engine> {
        if file::unfinished_creation(&backend).storage()? {
            backend.set_len(0).storage()?;
            backend.sync_data().storage()?;
        }
        let db = builder(options)
            .create_with_backend(Backend(backend))
            .storage()?;
        Engine::init(db, StoreKey::fresh())
    }

    pub(crate) fn in_memory(options: &OpenOptions) -> Result<Engine> {
        let db = builder(options)
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .storage()?;
        Engine::init(db, StoreKey::fresh())
    }

    /// Checks the format version, creating every table on a new file.
    fn init(db: redb::Database, key: StoreKey) -> Result<Engine> {
        schema::init(&db)?;
        Ok(Engine { db, key })
    }

    /// Which store this is, for the write permit.
    pub(crate) fn key(&self) -> StoreKey {
        self.key
    }

    pub(crate) fn begin_read(&self) -> Result<redb::ReadTransaction> {
        self.db.begin_read().storage()
    }

    pub(crate) fn begin_write(&self, durable: bool) -> Result<Writer> {
        let mut w = self.db.begin_write().storage()?;
        if !durable {
            w.set_durability(redb::Durability::None)
                .map_err(|e| Error::precondition(e.to_string()))?;
        }
        Ok(Writer::new(w))
    }

    /// Verifies every checksum, repairing what redb can; `Ok(true)` when the file was intact.
    pub(crate) fn check_integrity(&mut self) -> Result<bool> {
        self.db.check_integrity().storage()
    }

    /// Compacts the file; `Ok(true)` if anything was reclaimed.
    pub(crate) fn compact(&mut self) -> Result<bool> {
        self.db.compact().storage()
    }
}

/// Adapts our [`StorageBackend`](crate::backend::StorageBackend) to redb's.
#[derive(Debug)]
struct Backend<B>(B);

impl<B: crate::backend::StorageBackend> redb::StorageBackend for Backend<B> {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
}

fn builder(options: &OpenOptions) -> redb::Builder {
    let mut b = redb::Builder::new();
    b.set_cache_size(options.cache_size);
    b.set_check_integrity_on_open(options.verify_on_open);
    if options.multi_process {
        b.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
    }
    b
}
