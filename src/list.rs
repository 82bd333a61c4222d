//! Listing requests, pages and page tokens. No I/O: engines fetch rows, this decides which.
//!
//! A token is `base64url(payload ‖ fnv1a32(payload))` with
//!
//! ```text
//! payload = [version=1][direction][order][region][filter: 0 | 1 + fnv1a64(external_id)]
//!           [id suffix length][id suffix bytes]
//! ```
//!
//! `direction` says whether the token continues after its id (next page) or before it (previous
//! page), in the listing's order. A token is never trusted: length, checksum, version, every
//! field and the binding to region, order and filter are checked before anything is read.

use crate::error::{Error, Result};
use crate::id::{OrgId, Region, MAX_SUFFIX};
use crate::model::Organization;

/// Default page size (used for `page_size` 0).
///
/// # Examples
///
/// ```
/// # let store = orgstore::OrgStore::in_memory()?;
/// for i in 0..12 {
///     store.create(orgstore::NewOrganization::new(format!("Org {i}")))?;
/// }
/// let page = store.list(&orgstore::ListRequest::new().page_size(0))?;
/// assert_eq!(page.organizations.len(), orgstore::DEFAULT_PAGE_SIZE as usize);
/// # Ok::<(), orgstore::Error>(())
/// ```
pub const DEFAULT_PAGE_SIZE: u32 = 10;

/// Largest page size; larger requests are served this many.
///
/// # Examples
///
/// ```
/// let request = orgstore::ListRequest::new().page_size(orgstore::MAX_PAGE_SIZE);
/// # let _ = request;
/// ```
pub const MAX_PAGE_SIZE: u32 = 100;

/// Longest page token accepted, in bytes; tokens the store makes are far shorter.
///
/// # Examples
///
/// ```
/// # let store = orgstore::OrgStore::in_memory()?;
/// # for i in 0..3 { store.create(orgstore::NewOrganization::new(format!("Org {i}")))?; }
/// let page = store.list(&orgstore::ListRequest::new().page_size(1))?;
/// assert!(page.next_page_token.len() <= orgstore::MAX_TOKEN_LEN);
/// # Ok::<(), orgstore::Error>(())
/// ```
pub const MAX_TOKEN_LEN: usize = 128;

const TOKEN_VERSION: u8 = 1;

/// The order of a listing: by id, which for ids the store assigns is creation order.
///
/// # Examples
///
/// ```
/// assert_eq!(orgstore::Order::default(), orgstore::Order::NewestFirst);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Order {
    /// Highest id first (the default, as Scalekit lists).
    #[default]
    NewestFirst,
    /// Lowest id first.
    OldestFirst,
}

/// What to list: region, page size, order, token and optional external-id filter.
///
/// # Examples
///
/// ```
/// use orgstore::{ListRequest, NewOrganization, Order, OrgStore, Region};
///
/// let store = OrgStore::in_memory()?;
/// for i in 0..25 {
///     store.create(NewOrganization::new(format!("Org {i}")).region(Region::Eu))?;
/// }
/// let mut request = ListRequest::new().region(Region::Eu).page_size(10).order(Order::OldestFirst);
/// let mut seen = 0;
/// loop {
///     let page = store.list(&request)?;
///     seen += page.organizations.len();
///     if page.next_page_token.is_empty() {
///         break;
///     }
///     request = request.page_token(&page.next_page_token);
/// }
/// assert_eq!(seen, 25);
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct ListRequest {
    pub(crate) region: Option<Region>,
    pub(crate) page_size: u32,
    pub(crate) page_token: String,
    pub(crate) order: Order,
    pub(crate) external_id: Option<String>,
}

impl ListRequest {
    /// All regions, 10 per page, newest first, from the start.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let page = store.list(&orgstore::ListRequest::new())?;
    /// assert!(page.organizations.is_empty());
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Lists only `region` (only that region's tables are read).
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{ListRequest, NewOrganization, Region};
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// store.create(NewOrganization::new("Acme").region(Region::Us))?;
    /// let page = store.list(&ListRequest::new().region(Region::Eu))?;
    /// assert_eq!(page.total_size, 0);
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Items per page: 0 means 10, values above 100 are served as 100.
    ///
    /// # Examples
    ///
    /// ```
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let page = store.list(&orgstore::ListRequest::new().page_size(1_000))?;
    /// # let _ = page;
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    /// Continues from a token of an earlier page (`""` starts at the beginning).
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{Error, ListRequest};
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// let err = store.list(&ListRequest::new().page_token("garbage")).unwrap_err();
    /// assert!(matches!(err, Error::InvalidPageToken { .. }));
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.page_token = token.into();
        self
    }

    /// Sets the order (default newest first).
    ///
    /// # Examples
    ///
    /// ```
    /// let request = orgstore::ListRequest::new().order(orgstore::Order::OldestFirst);
    /// # let _ = request;
    /// ```
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Lists only the organization with this external id (0 or 1 result).
    ///
    /// # Examples
    ///
    /// ```
    /// use orgstore::{ListRequest, NewOrganization};
    /// # let store = orgstore::OrgStore::in_memory()?;
    /// store.create(NewOrganization::new("Acme").external_id("acme-1"))?;
    /// store.create(NewOrganization::new("Other"))?;
    /// let page = store.list(&ListRequest::new().external_id("acme-1"))?;
    /// assert_eq!(page.total_size, 1);
    /// assert_eq!(page.organizations[0].display_name, "Acme");
    /// # Ok::<(), orgstore::Error>(())
    /// ```
    pub fn external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    /// The page size actually served.
    pub(crate) fn effective_page_size(&self) -> usize {
        match self.page_size {
            0 => DEFAULT_PAGE_SIZE as usize,
            n => n.min(MAX_PAGE_SIZE) as usize,
        }
    }
}

/// One page of a listing.
///
/// # Examples
///
/// ```
/// use orgstore::{ListRequest, NewOrganization};
/// # let store = orgstore::OrgStore::in_memory()?;
/// store.create(NewOrganization::new("Acme"))?;
/// let page = store.list(&ListRequest::new())?;
/// assert_eq!(page.organizations.len(), 1);
/// assert_eq!(page.total_size, 1);
/// assert_eq!(page.next_page_token, "");
/// assert_eq!(page.prev_page_token, "");
/// # Ok::<(), orgstore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    /// The organizations of this page, in the requested order.
    pub organizations: Vec<Organization>,
    /// Token of the next page; `""` on the last page.
    pub next_page_token: String,
    /// Token of the previous page; `""` on the first page.
    pub prev_page_token: String,
    /// How many organizations match the request, all pages together.
    pub total_size: u64,
}

/// Which way a scan walks the id order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Increasing ids.
    Ascending,
    /// Decreasing ids.
    Descending,
}

/// Where a page starts, decoded from a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// `true`: the page lies after `id` in the listing order; `false`: before it.
    pub forward: bool,
    /// Whether the page may include `id` itself (only tokens of empty pages do).
    pub inclusive: bool,
    pub id: OrgId,
}

impl Order {
    /// The scan direction that walks this order forwards (`forward`) or backwards.
    pub(crate) fn scan(self, forward: bool) -> Scan {
        match (self, forward) {
            (Order::OldestFirst, true) | (Order::NewestFirst, false) => Scan::Ascending,
            (Order::NewestFirst, true) | (Order::OldestFirst, false) => Scan::Descending,
        }
    }

    fn code(self) -> u8 {
        match self {
            Order::NewestFirst => 0,
            Order::OldestFirst => 1,
        }
    }
}

fn region_code(region: Option<Region>) -> u8 {
    match region {
        None => 0,
        Some(Region::Us) => 1,
        Some(Region::Eu) => 2,
    }
}

/// FNV-1a, 64-bit: a fixed, dependency-free hash for binding tokens to a filter.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Encodes a token for `request` continuing at `cursor`.
pub(crate) fn encode_token(request: &ListRequest, cursor: &Cursor) -> String {
    let suffix = cursor.id.suffix().as_bytes();
    let mut p = Vec::with_capacity(48);
    p.push(TOKEN_VERSION);
    p.push(u8::from(cursor.forward) | (u8::from(cursor.inclusive) << 1));
    p.push(request.order.code());
    p.push(region_code(request.region));
    match &request.external_id {
        None => p.push(0),
        Some(e) => {
            p.push(1);
            p.extend_from_slice(&fnv1a64(e.as_bytes()).to_le_bytes());
        }
    }
    p.push(suffix.len() as u8);
    p.extend_from_slice(suffix);
    let sum = fnv1a32(&p);
    p.extend_from_slice(&sum.to_le_bytes());
    base64url::encode(&p)
}

/// Decodes and checks the token of `request`; `None` for the first page.
pub(crate) fn decode_token(request: &ListRequest) -> Result<Option<Cursor>> {
    let token = request.page_token.as_str();
    if token.is_empty() {
        return Ok(None);
    }
    let bad = |reason| Error::InvalidPageToken { reason };
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad("token is too long"));
    }
    let bytes = base64url::decode(token).ok_or(bad("token is not base64url"))?;
    let (payload, sum) = bytes
        .split_last_chunk::<4>()
        .ok_or(bad("token is too short"))?;
    if fnv1a32(payload) != u32::from_le_bytes(*sum) {
        return Err(bad("token is damaged"));
    }
    let mut r = Reader(payload);
    if r.byte()? != TOKEN_VERSION {
        return Err(bad("token version is unknown"));
    }
    let direction = r.byte()?;
    if direction > 3 {
        return Err(bad("token direction is unknown"));
    }
    let (forward, inclusive) = (direction & 1 == 1, direction & 2 == 2);
    if r.byte()? != request.order.code() {
        return Err(bad("token was made for another order"));
    }
    if r.byte()? != region_code(request.region) {
        return Err(bad("token was made for another region"));
    }
    let filter = match r.byte()? {
        0 => None,
        1 => Some(u64::from_le_bytes(r.array()?)),
        _ => return Err(bad("token filter is unknown")),
    };
    if filter
        != request
            .external_id
            .as_deref()
            .map(|e| fnv1a64(e.as_bytes()))
    {
        return Err(bad("token was made for another filter"));
    }
    let len = usize::from(r.byte()?);
    if len == 0 || len > MAX_SUFFIX {
        return Err(bad("token id is malformed"));
    }
    let suffix = r.take(len)?;
    if !r.0.is_empty() {
        return Err(bad("token has trailing bytes"));
    }
    let suffix = std::str::from_utf8(suffix).map_err(|_| bad("token id is malformed"))?;
    let id = OrgId::from_suffix(suffix).map_err(|_| bad("token id is malformed"))?;
    Ok(Some(Cursor {
        forward,
        inclusive,
        id,
    }))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::InvalidPageToken {
                reason: "token is truncated",
            });
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

/// Rows fetched by an engine for one page: up to `limit` rows strictly beyond the cursor in
/// the scan direction, plus whether more rows lie beyond them and whether any lie behind the
/// cursor.
pub(crate) struct Fetched {
    pub rows: Vec<Organization>,
    pub more_ahead: bool,
    pub any_behind: bool,
}

/// Turns fetched rows into a page with its tokens.
pub(crate) fn assemble(
    request: &ListRequest,
    cursor: Option<&Cursor>,
    fetched: Fetched,
    total_size: u64,
) -> Page {
    let forward = cursor.is_none_or(|c| c.forward);
    let mut rows = fetched.rows;
    if !forward {
        // Fetched walking backwards; show in the listing's order.
        rows.reverse();
    }
    // In listing order: is there anything after the last row, and before the first?
    let (after, before) = if forward {
        (fetched.more_ahead, fetched.any_behind)
    } else {
        (fetched.any_behind, fetched.more_ahead)
    };
    let token = |forward: bool, inclusive: bool, id: &OrgId| {
        encode_token(
            request,
            &Cursor {
                forward,
                inclusive,
                id: id.clone(),
            },
        )
    };
    let (next_page_token, prev_page_token) = match (rows.first(), rows.last(), cursor) {
        (Some(first), Some(last), _) => (
            if after {
                token(true, false, &last.id)
            } else {
                String::new()
            },
            if before {
                token(false, false, &first.id)
            } else {
                String::new()
            },
        ),
        // An empty page continues from the cursor itself: the neighbours on either side are
        // reached with the opposite inclusivity (the cursor's own id belongs to the side the
        // cursor did not cover).
        (_, _, Some(c)) => (
            if after {
                token(true, !c.inclusive, &c.id)
            } else {
                String::new()
            },
            if before {
                token(false, !c.inclusive, &c.id)
            } else {
                String::new()
            },
        ),
        _ => (String::new(), String::new()),
    };
    Page {
        organizations: rows,
        next_page_token,
        prev_page_token,
        total_size,
    }
}

/// Minimal unpadded base64url (RFC 4648 §5), so tokens need no extra dependency.
mod base64url {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                let idx = (n >> (18 - 6 * i)) & 63;
                out.push(char::from(ALPHABET[idx as usize]));
            }
        }
        out
    }

    fn value(c: u8) -> Option<u32> {
        ALPHABET.iter().position(|a| *a == c).map(|p| p as u32)
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let bytes = text.as_bytes();
        if bytes.len() % 4 == 1 {
            return None;
        }
        let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
        for chunk in bytes.chunks(4) {
            let mut n = 0u32;
            for (i, c) in chunk.iter().enumerate() {
                n |= value(*c)? << (18 - 6 * i);
            }
            let produced = chunk.len() - 1;
            for i in 0..produced {
                out.push((n >> (16 - 8 * i)) as u8);
            }
            // Reject non-canonical encodings (stray low bits in the last character).
            let used_bits = 8 * produced;
            let spare = 6 * chunk.len() - used_bits;
            if spare > 0 && n >> (24 - 6 * chunk.len()) & ((1 << spare) - 1) != 0 {
                return None;
            }
        }
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn round_trip() {
            for len in 0..40u8 {
                let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
                let text = super::encode(&data);
                assert_eq!(super::decode(&text), Some(data), "len {len}");
            }
            assert_eq!(super::encode(b"foob"), "Zm9vYg");
            assert_eq!(super::decode("Zm9vYh"), None, "non-canonical");
            assert_eq!(super::decode("a"), None);
            assert_eq!(super::decode("a+=="), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(forward: bool) -> Cursor {
        Cursor {
            forward,
            inclusive: !forward,
            id: OrgId::parse("org_01JD8Z3V7W8Q2M4N6P8R0T2V4X").expect("id"),
        }
    }

    #[test]
    fn tokens_round_trip_and_bind_to_the_request() {
        let req = ListRequest::new().region(Region::Eu).external_id("x");
        let t = encode_token(&req, &cursor(false));
        assert!(t.len() <= MAX_TOKEN_LEN);
        let decoded = decode_token(&req.clone().page_token(&t)).expect("decodes");
        assert_eq!(decoded, Some(cursor(false)));
        for other in [
            ListRequest::new().external_id("x"),
            ListRequest::new().region(Region::Us).external_id("x"),
            ListRequest::new().region(Region::Eu),
            ListRequest::new().region(Region::Eu).external_id("y"),
            ListRequest::new()
                .region(Region::Eu)
                .external_id("x")
                .order(Order::OldestFirst),
        ] {
            assert!(decode_token(&other.page_token(&t)).is_err());
        }
    }

    #[test]
    fn damaged_tokens_are_refused() {
        let req = ListRequest::new();
        let t = encode_token(&req, &cursor(true));
        for cut in 0..t.len() {
            let r = decode_token(&req.clone().page_token(&t[..cut]));
            assert!(cut == 0 || r.is_err(), "prefix of {cut} accepted");
        }
        let mut flipped = t.clone().into_bytes();
        flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert!(decode_token(&req.clone().page_token(flipped)).is_err());
        assert!(decode_token(&req.clone().page_token("A".repeat(129))).is_err());
    }
}
