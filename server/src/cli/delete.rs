//! `orgstore delete`.

use clap::{ArgGroup, Args};

use orgstore::Readable as _;

use super::common::{print_json, CliError, CliResult, StoreArgs};
use super::get::Key;

/// Examples shown by `orgstore delete --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore delete --db orgs.redb org_01JD8Z3V7W8Q2M4N6P8R0T2V4X
  orgstore delete --external-id acme-1
  orgstore delete --slug acme";

/// The flags of `orgstore delete`: exactly one key.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("key").required(true).args(["id", "external_id", "slug"])))]
pub struct DeleteArgs {
    /// The store file and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The organization id (`org_…`).
    pub id: Option<String>,
    /// Address the organization by external id instead.
    #[arg(long)]
    pub external_id: Option<String>,
    /// Address the organization by slug instead.
    #[arg(long)]
    pub slug: Option<String>,
}

/// Runs `orgstore delete`: prints the organization as it was before it was removed.
///
/// # Errors
///
/// `NOT_FOUND`, `INVALID_ARGUMENT` for a malformed key, and the errors of opening the store.
pub fn run(args: &DeleteArgs) -> CliResult {
    let key = Key::of(
        args.id.as_ref(),
        args.external_id.as_ref(),
        args.slug.as_ref(),
    )?;
    let store = args.store.open_existing()?;
    let removed = match &key {
        Key::Id(id) => store.delete(id)?,
        Key::ExternalId(e) => store.delete_by_external_id(e)?,
        // Looked up and removed in one transaction: nothing can take the slug in between.
        Key::Slug(slug) => store.transaction(|txn| {
            let org = txn.get_by_slug(slug)?.ok_or_else(|| key.not_found())?;
            Ok::<_, CliError>(txn.delete(&org.id)?)
        })?,
    };
    print_json(&removed)
}
