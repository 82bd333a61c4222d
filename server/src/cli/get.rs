//! `orgstore get`.

use clap::{ArgGroup, Args};
use orgstore::{ErrorCode, OrgStore, Organization, Readable as _};

use super::common::{print_json, CliError, CliResult, StoreArgs};

/// Examples shown by `orgstore get --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore get --db orgs.redb org_01JD8Z3V7W8Q2M4N6P8R0T2V4X
  orgstore get --external-id acme-1
  orgstore get --slug acme";

/// The flags of `orgstore get`: exactly one key.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("key").required(true).args(["id", "external_id", "slug"])))]
pub struct GetArgs {
    /// The store file and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The organization id (`org_…`).
    pub id: Option<String>,
    /// Look the organization up by external id instead.
    #[arg(long)]
    pub external_id: Option<String>,
    /// Look the organization up by slug instead.
    #[arg(long)]
    pub slug: Option<String>,
}

/// How an organization is addressed on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// By id.
    Id(String),
    /// By external id.
    ExternalId(String),
    /// By slug.
    Slug(String),
}

impl Key {
    /// The key of a positional id, an `--external-id` or a `--slug` (clap makes sure
    /// exactly one is given).
    ///
    /// # Errors
    ///
    /// `INVALID_ARGUMENT` when none is given (not reachable through clap's groups).
    pub fn of(
        id: Option<&String>,
        external_id: Option<&String>,
        slug: Option<&String>,
    ) -> Result<Key, CliError> {
        match (id, external_id, slug) {
            (Some(id), _, _) => Ok(Key::Id(id.clone())),
            (None, Some(e), _) => Ok(Key::ExternalId(e.clone())),
            (None, None, Some(s)) => Ok(Key::Slug(s.clone())),
            (None, None, None) => Err(CliError::new(
                ErrorCode::InvalidArgument,
                "an id, --external-id or --slug is needed",
            )),
        }
    }

    /// The error of finding nothing under this key, worded as the library words it.
    pub fn not_found(&self) -> CliError {
        CliError::new(
            ErrorCode::NotFound,
            format!("organization not found: {self}"),
        )
    }

    /// The organization under this key in `store`.
    ///
    /// # Errors
    ///
    /// `NOT_FOUND` when there is none; `INVALID_ARGUMENT` for a malformed key.
    pub fn get(&self, store: &OrgStore) -> Result<Organization, CliError> {
        let snap = store.begin_read()?;
        let found = match self {
            Key::Id(id) => snap.get(id)?,
            Key::ExternalId(e) => snap.get_by_external_id(e)?,
            Key::Slug(s) => snap.get_by_slug(s)?,
        };
        found.ok_or_else(|| self.not_found())
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Id(id) => write!(f, "id {id}"),
            Key::ExternalId(e) => write!(f, "external_id {e:?}"),
            Key::Slug(s) => write!(f, "slug {s:?}"),
        }
    }
}

/// Runs `orgstore get`: prints the organization.
///
/// # Errors
///
/// `NOT_FOUND`, `INVALID_ARGUMENT` for a malformed key, and the errors of opening the store.
pub fn run(args: &GetArgs) -> CliResult {
    let key = Key::of(
        args.id.as_ref(),
        args.external_id.as_ref(),
        args.slug.as_ref(),
    )?;
    let store = args.store.open_existing()?;
    print_json(&key.get(&store)?)
}
