//! `orgstore create`.

use clap::Args;
use orgstore::NewOrganization;

use super::common::{
    parse_pair, parse_setting, print_json, repeated, CliError, CliResult, RegionArg, StoreArgs,
    Violation,
};

/// Examples shown by `orgstore create --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore create --db orgs.redb --display-name Acme --external-id acme-1 --slug acme \\
      --region EU --metadata plan=pro --setting sso=true
  orgstore create --display-name \"Globex Corp\" | jq -r .id";

/// The flags of `orgstore create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The store file and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The name shown to people (1 to 200 characters).
    #[arg(long)]
    pub display_name: String,
    /// Your own unique key for the organization.
    #[arg(long)]
    pub external_id: Option<String>,
    /// A unique, URL-safe handle (lowercase letters, digits and hyphens).
    #[arg(long)]
    pub slug: Option<String>,
    /// An https:// URL of the organization's logo.
    #[arg(long)]
    pub logo_url: Option<String>,
    /// The region the organization's data lives in (default US).
    #[arg(long, value_enum)]
    pub region: Option<RegionArg>,
    /// A metadata pair; repeat for more (at most 10).
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub metadata: Vec<(String, String)>,
    /// A feature toggle; repeat for more, each name once.
    #[arg(long = "setting", value_name = "NAME=true|false", value_parser = parse_setting)]
    pub settings: Vec<(String, bool)>,
}

impl CreateArgs {
    /// The request these flags describe, or every broken rule (a key or name given twice,
    /// and whatever the library's validation finds).
    ///
    /// # Errors
    ///
    /// `INVALID_ARGUMENT` listing every violation.
    pub fn request(&self) -> Result<NewOrganization, CliError> {
        let mut new = NewOrganization::new(&self.display_name);
        if let Some(e) = &self.external_id {
            new = new.external_id(e);
        }
        if let Some(s) = &self.slug {
            new = new.slug(s);
        }
        if let Some(l) = &self.logo_url {
            new = new.logo_url(l);
        }
        if let Some(r) = self.region {
            new = new.region(r.into());
        }
        for (k, v) in &self.metadata {
            new = new.metadata(k, v);
        }
        for (name, enabled) in &self.settings {
            new = new.setting(name, *enabled);
        }
        let mut violations: Vec<Violation> =
            repeated("metadata", self.metadata.iter().map(|(k, _)| k.as_str()));
        violations.extend(repeated(
            "settings",
            self.settings.iter().map(|(n, _)| n.as_str()),
        ));
        if let Err(err) = new.validate() {
            violations.extend(CliError::from(err).violations);
        }
        if violations.is_empty() {
            Ok(new)
        } else {
            Err(CliError::invalid(violations))
        }
    }
}

/// Runs `orgstore create`: prints the new organization.
///
/// # Errors
///
/// `INVALID_ARGUMENT`, `ALREADY_EXISTS`, and the errors of opening the store.
pub fn run(args: &CreateArgs) -> CliResult {
    let new = args.request()?;
    let store = args.store.open_or_create()?;
    let org = store.create(new)?;
    print_json(&org)
}
