//! Entry points into private code for the fuzz targets (`fuzz/`), their corpus replay and the
//! comparison benchmark (`bench-compare/`). Only built with the `internals` feature; not part
//! of the supported API.

use crate::error::Result;
use crate::id::{OrgId, Region};
use crate::list::{self, ListRequest, Order};
use crate::model::Organization;

/// Decodes stored record bytes as the store would (id and region come from the key and table).
pub fn decode_record(bytes: &[u8]) -> Result<Organization> {
    let id = OrgId::from_ulid(ulid::Ulid::nil());
    crate::codec::decode(id, Region::Eu, bytes)
}

/// Encodes a record as the store would.
pub fn encode_record(org: &Organization) -> Vec<u8> {
    crate::codec::encode(org)
}

/// Parses and checks `token` against a request with these parameters; `Ok(None)` for `""`.
/// Returns the id the token continues from.
pub fn decode_page_token(
    token: &str,
    region: Option<Region>,
    order: Order,
    external_id: Option<&str>,
) -> Result<Option<OrgId>> {
    let mut request = ListRequest::new().order(order).page_token(token);
    if let Some(r) = region {
        request = request.region(r);
    }
    if let Some(e) = external_id {
        request = request.external_id(e);
    }
    Ok(list::decode_token(&request)?.map(|c| c.id))
}
