//! A tour of OrgStore on an embedded store file.
//!
//! ```text
//! cargo run --example quickstart [PATH]
//! ```
//!
//! Creates a new store at PATH (default: a new folder in the temp directory, named in the
//! output; nothing existing is touched: a PATH that exists is refused), adds organizations in
//! both regions, looks them up by id, external id and slug, updates one, pages through them,
//! and prints what it did.

use std::error::Error;

use orgstore::{ListRequest, NewOrganization, Order, OrgStore, OrganizationUpdate, Region};

fn main() -> Result<(), Box<dyn Error>> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => std::path::PathBuf::from(p),
        None => new_folder()?.join("orgs.redb"),
    };
    if path.exists() {
        return Err(format!(
            "{} exists; the tour creates its own organizations in a new store",
            path.display()
        )
        .into());
    }
    let store = OrgStore::open(&path)?;
    println!("store: {}", path.display());

    // Create organizations in both regions, atomically.
    let tenants = [
        ("Acme", "acme-1", "acme", Region::Us),
        ("Globex", "globex-1", "globex", Region::Us),
        ("Initech", "initech-1", "initech", Region::Us),
        ("Umbrella GmbH", "umbrella-1", "umbrella", Region::Eu),
        (
            "Société Générale de Test",
            "sgt-1",
            "sgt.example.eu",
            Region::Eu,
        ),
    ];
    let created = store.transaction(|txn| {
        tenants
            .iter()
            .map(|(name, ext, slug, region)| {
                txn.create(
                    NewOrganization::new(*name)
                        .external_id(*ext)
                        .slug(*slug)
                        .region(*region)
                        .metadata("plan", "trial")
                        .setting("sso", *region == Region::Eu),
                )
            })
            .collect::<orgstore::Result<Vec<_>>>()
    })?;
    for org in &created {
        println!(
            "created {} {:<26} region {}",
            org.id, org.display_name, org.region_code
        );
    }

    // Look them up without knowing the region.
    let acme = &created[0];
    let by_id = store.get(&acme.id)?.ok_or("acme missing by id")?;
    let by_ext = store
        .get_by_external_id("umbrella-1")?
        .ok_or("umbrella missing")?;
    let by_slug = store.get_by_slug("sgt.example.eu")?.ok_or("sgt missing")?;
    println!("get {}            -> {}", acme.id, by_id.display_name);
    println!(
        "get_by_external_id umbrella-1 -> {} ({})",
        by_ext.display_name, by_ext.region_code
    );
    println!("get_by_slug sgt.example.eu    -> {}", by_slug.display_name);

    // A partial update.
    let acme = store.update(
        &acme.id,
        OrganizationUpdate::new()
            .display_name("Acme Inc")
            .set_metadata("plan", "pro"),
    )?;
    println!(
        "updated {} -> {:?}, plan {}",
        acme.id, acme.display_name, acme.metadata["plan"]
    );

    // Page through each region, oldest first, two per page.
    for region in Region::ALL {
        let request = ListRequest::new()
            .region(region)
            .order(Order::OldestFirst)
            .page_size(2);
        for (i, page) in store.pages(request).enumerate() {
            let page = page?;
            let names: Vec<&str> = page
                .organizations
                .iter()
                .map(|o| o.display_name.as_str())
                .collect();
            println!(
                "{region} page {} ({} in the region): {names:?}",
                i + 1,
                page.total_size
            );
        }
    }
    println!(
        "count: US {}, EU {}, all {}",
        store.count(Some(Region::Us))?,
        store.count(Some(Region::Eu))?,
        store.count(None)?
    );
    println!("json: {}", serde_json::to_string(&by_ext)?);
    Ok(())
}

/// A folder of our own in the temp directory, so no existing file is ever touched.
fn new_folder() -> std::io::Result<std::path::PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "orgstore-quickstart-{}-{stamp}",
        std::process::id()
    ));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}
