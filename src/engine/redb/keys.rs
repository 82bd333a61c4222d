//! Id keys: `[suffix length: u8][suffix bytes]`, the suffix being the id without `org_`.
//! Bytewise order of id keys is the order of [`OrgId`] (length, then bytes).

use crate::error::{Error, Result};
use crate::id::{OrgId, MAX_SUFFIX};

/// An id key, kept on the stack (reads make one per lookup).
pub(crate) struct IdKey {
    bytes: [u8; 1 + MAX_SUFFIX],
    len: usize,
}

impl IdKey {
    /// The key of `id`.
    pub(crate) fn of(id: &OrgId) -> IdKey {
        let s = id.suffix().as_bytes();
        // Every `OrgId` has a suffix of 1 to MAX_SUFFIX bytes (checked wherever one is made).
        let n = s.len().min(MAX_SUFFIX);
        let mut bytes = [0u8; 1 + MAX_SUFFIX];
        bytes[0] = n as u8;
        bytes[1..=n].copy_from_slice(&s[..n]);
        IdKey { bytes, len: 1 + n }
    }

    /// A copy of a key read from a table; one too long to be an id key is corrupt.
    pub(crate) fn stored(key: &[u8]) -> Result<IdKey> {
        let mut bytes = [0u8; 1 + MAX_SUFFIX];
        bytes
            .get_mut(..key.len())
            .ok_or_else(|| Error::corrupted(format!("malformed id key {key:02x?}")))?
            .copy_from_slice(key);
        Ok(IdKey {
            bytes,
            len: key.len(),
        })
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::ops::Deref for IdKey {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// The id an id key stands for; anything malformed is corrupt.
pub(crate) fn decode(key: &[u8]) -> Result<OrgId> {
    let bad = || Error::corrupted(format!("malformed id key {key:02x?}"));
    let (&len, suffix) = key.split_first().ok_or_else(bad)?;
    if usize::from(len) != suffix.len() {
        return Err(bad());
    }
    let text = std::str::from_utf8(suffix).map_err(|_| bad())?;
    OrgId::from_suffix(text).map_err(|_| bad())
}
