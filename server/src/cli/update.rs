//! `orgstore update`.

use clap::{ArgGroup, Args};
use orgstore::{OrganizationUpdate, Readable as _};

use super::common::{
    parse_pair, parse_setting, print_json, repeated, CliError, CliResult, StoreArgs, Violation,
};
use super::get::Key;

/// Examples shown by `orgstore update --help`.
pub const EXAMPLES: &str = "Examples:
  orgstore update --db orgs.redb org_01JD8Z3V7W8Q2M4N6P8R0T2V4X --display-name \"Acme Inc\"
  orgstore update --external-id acme-1 --set-external-id acme-2 --clear-logo-url
  orgstore update --external-id acme-1 --metadata plan=enterprise --remove-metadata trial
  orgstore update --external-id acme-1 --setting sso=false --remove-setting beta";

/// The flags of `orgstore update`: one key, and at least one change.
///
/// Fields not named are left as they are. `--metadata` merges pairs into the map;
/// `--clear-metadata` empties it first (with `--metadata`, the map is replaced).
/// `--setting` changes a toggle in place or appends a new one.
#[derive(Debug, Args)]
#[command(
    override_usage = "orgstore update [--db PATH] <ID|--external-id EXTERNAL_ID> <CHANGE>..."
)]
#[command(group(ArgGroup::new("key").required(true).args(["id", "external_id"])))]
#[command(group(
    ArgGroup::new("change")
        .required(true)
        .multiple(true)
        .args([
            "display_name", "set_external_id", "clear_external_id", "slug", "clear_slug",
            "logo_url", "clear_logo_url", "clear_metadata", "metadata", "remove_metadata",
            "settings", "remove_settings",
        ])
))]
// Each `--clear-…` is a switch of its own, as on the command line.
#[allow(clippy::struct_excessive_bools)]
pub struct UpdateArgs {
    /// The store file and how to open it.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The organization id (`org_…`).
    pub id: Option<String>,
    /// Address the organization by external id instead (see --set-external-id to change it).
    #[arg(long)]
    pub external_id: Option<String>,
    /// A new display name.
    #[arg(long)]
    pub display_name: Option<String>,
    /// A new external id.
    #[arg(long, value_name = "EXTERNAL_ID", conflicts_with = "clear_external_id")]
    pub set_external_id: Option<String>,
    /// Remove the external id.
    #[arg(long)]
    pub clear_external_id: bool,
    /// A new slug.
    #[arg(long, conflicts_with = "clear_slug")]
    pub slug: Option<String>,
    /// Remove the slug.
    #[arg(long)]
    pub clear_slug: bool,
    /// A new logo URL.
    #[arg(long, conflicts_with = "clear_logo_url")]
    pub logo_url: Option<String>,
    /// Remove the logo URL.
    #[arg(long)]
    pub clear_logo_url: bool,
    /// Empty the metadata map (then add the --metadata pairs, if any).
    #[arg(long)]
    pub clear_metadata: bool,
    /// Set one metadata pair, keeping the others; repeatable.
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub metadata: Vec<(String, String)>,
    /// Remove one metadata key; repeatable.
    #[arg(long = "remove-metadata", value_name = "KEY")]
    pub remove_metadata: Vec<String>,
    /// Turn one feature toggle on or off (added if new); repeatable.
    #[arg(long = "setting", value_name = "NAME=true|false", value_parser = parse_setting)]
    pub settings: Vec<(String, bool)>,
    /// Remove one feature toggle; repeatable.
    #[arg(long = "remove-setting", value_name = "NAME")]
    pub remove_settings: Vec<String>,
}

impl UpdateArgs {
    /// The library's update for these flags.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGUMENT` when a metadata key or a setting name is named twice (set twice, or
    /// set and removed): which one would win is not obvious, so neither does.
    pub fn update(&self) -> Result<OrganizationUpdate, CliError> {
        let mut violations: Vec<Violation> = repeated(
            "metadata",
            self.metadata
                .iter()
                .map(|(k, _)| k.as_str())
                .chain(self.remove_metadata.iter().map(String::as_str)),
        );
        violations.extend(repeated(
            "settings",
            self.settings
                .iter()
                .map(|(n, _)| n.as_str())
                .chain(self.remove_settings.iter().map(String::as_str)),
        ));
        if !violations.is_empty() {
            return Err(CliError::invalid(violations));
        }
        let mut update = OrganizationUpdate::new();
        if let Some(name) = &self.display_name {
            update = update.display_name(name);
        }
        if let Some(e) = &self.set_external_id {
            update = update.external_id(e);
        }
        if self.clear_external_id {
            update = update.clear_external_id();
        }
        if let Some(s) = &self.slug {
            update = update.slug(s);
        }
        if self.clear_slug {
            update = update.clear_slug();
        }
        if let Some(l) = &self.logo_url {
            update = update.logo_url(l);
        }
        if self.clear_logo_url {
            update = update.clear_logo_url();
        }
        if self.clear_metadata {
            update = update.clear_metadata();
        }
        for (k, v) in &self.metadata {
            update = update.set_metadata(k, v);
        }
        for k in &self.remove_metadata {
            update = update.remove_metadata(k);
        }
        for (name, enabled) in &self.settings {
            update = update.setting(name, *enabled);
        }
        for name in &self.remove_settings {
            update = update.remove_setting(name);
        }
        Ok(update)
    }
}

/// Runs `orgstore update`: prints the organization as it is after the update.
///
/// # Errors
///
/// `NOT_FOUND`, `INVALID_ARGUMENT`, `ALREADY_EXISTS`, and the errors of opening the store.
pub fn run(args: &UpdateArgs) -> CliResult {
    let key = Key::of(args.id.as_ref(), args.external_id.as_ref(), None)?;
    let update = args.update()?;
    let store = args.store.open_existing()?;
    let org = match &key {
        Key::Id(id) => store.update(id, update)?,
        Key::ExternalId(e) => store.update_by_external_id(e, update)?,
        Key::Slug(slug) => store.transaction(|txn| {
            let org = txn.get_by_slug(slug)?.ok_or_else(|| key.not_found())?;
            Ok::<_, CliError>(txn.update(&org.id, update)?)
        })?,
    };
    print_json(&org)
}
