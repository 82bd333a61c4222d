//! `orgstore list`.

use clap::Args;
use orgstore::ListRequest;

use super::common::{print_json, CliResult, OrderArg, RegionArg, StoreArgs};

/// Examples shown by `orgstore list --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore list --db orgs.redb --page-size 50
  orgstore list --region EU --order oldest
  orgstore list --page-token \"$(orgstore list | jq -r .next_page_token)\"";

/// The flags of `orgstore list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The store file and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only organizations of this region.
    #[arg(long, value_enum)]
    pub region: Option<RegionArg>,
    /// Organizations per page: 0 for the default (10), at most 100 (more is 100).
    #[arg(long, default_value_t = 0)]
    pub page_size: u32,
    /// A `next_page_token` or `prev_page_token` of an earlier page of the same listing.
    #[arg(long, default_value = "")]
    pub page_token: String,
    /// The order of the listing.
    #[arg(long, value_enum, default_value_t = OrderArg::Newest)]
    pub order: OrderArg,
    /// Only the organization holding this external id.
    #[arg(long)]
    pub external_id: Option<String>,
}

impl ListArgs {
    /// The library's request for these flags.
    pub fn request(&self) -> ListRequest {
        let mut request = ListRequest::new()
            .page_size(self.page_size)
            .page_token(&self.page_token)
            .order(self.order.into());
        if let Some(region) = self.region {
            request = request.region(region.into());
        }
        if let Some(e) = &self.external_id {
            request = request.external_id(e);
        }
        request
    }
}

/// Runs `orgstore list`: prints one page as the library serializes it
/// (`organizations`, `next_page_token`, `prev_page_token`, `total_size`).
///
/// # Errors
///
/// `INVALID_ARGUMENT` for a bad page token or external id, and the errors of opening the
/// store.
pub fn run(args: &ListArgs) -> CliResult {
    let store = args.store.open_existing()?;
    print_json(&store.list(&args.request())?)
}
