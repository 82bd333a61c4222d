//! check, compact, backup, stats.

use orgstore::{NewOrganization, Region};

use crate::support::{run, Store};

fn fill(s: &Store, us: u32, eu: u32) {
    let store = s.open();
    store
        .transaction(|t| {
            for n in 0..us + eu {
                let region = if n < us { Region::Us } else { Region::Eu };
                t.create(
                    NewOrganization::new(format!("Marker {n:05}"))
                        .external_id(format!("ext-{n}"))
                        .region(region),
                )?;
            }
            Ok::<_, orgstore::Error>(())
        })
        .unwrap();
}

#[test]
fn stats_counts_per_region_and_sizes() {
    let s = Store::new();
    fill(&s, 7, 4);
    let stats = s.cli("stats", &[]).json();
    assert_eq!(stats["organizations"]["total"], 11);
    assert_eq!(stats["organizations"]["by_region"]["US"], 7);
    assert_eq!(stats["organizations"]["by_region"]["EU"], 4);
    assert_eq!(
        stats["file_size"],
        std::fs::metadata(&s.db).unwrap().len(),
        "measured as the file rests, closed"
    );
    assert!(stats["filesystem_available"].as_u64().unwrap() > 0);
    let missing = s.path("missing.redb");
    run(&["stats", "--db", missing.to_str().unwrap()]).error(6);
}

#[test]
fn check_reports_a_sound_store_and_a_damaged_one() {
    let s = Store::new();
    fill(&s, 150, 50);
    let report = s.cli("check", &[]).json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["integrity"], "intact");
    assert_eq!(report["indexes"], "consistent");
    assert_eq!(report["organizations"], 200);
    assert_eq!(report["problems"], serde_json::json!([]));

    // One bit flipped inside a stored record: the checksums catch it.
    let damaged = s.path("damaged.redb");
    let mut bytes = std::fs::read(&s.db).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w == b"Marker 00123")
        .expect("the record is in the file");
    bytes[at + 7] ^= 0x01;
    std::fs::write(&damaged, &bytes).unwrap();
    let out = run(&["check", "--db", damaged.to_str().unwrap()]);
    let err = out.error(10);
    assert_eq!(err["code"], "DATA_LOSS");
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["integrity"], "damaged");
    assert!(!report["problems"].as_array().unwrap().is_empty());
    // Other commands refuse the damaged file too, with the same code.
    let err = run(&[
        "get",
        "--db",
        damaged.to_str().unwrap(),
        "--external-id",
        "ext-1",
    ])
    .error(10);
    assert!(err["message"].as_str().unwrap().contains("corrupted"));
}

#[test]
fn compact_reclaims_space_and_keeps_every_record() {
    let s = Store::new();
    fill(&s, 300, 0);
    let store = s.open();
    for n in 0..290 {
        store.delete_by_external_id(&format!("ext-{n}")).unwrap();
    }
    drop(store);
    let before = s.cli("export", &[]).stdout;
    let size = std::fs::metadata(&s.db).unwrap().len();
    let report = s.cli("compact", &[]).json();
    assert_eq!(report["size_before"], size);
    let after = std::fs::metadata(&s.db).unwrap().len();
    assert_eq!(report["size_after"], after);
    assert!(after < size, "{report}");
    assert_eq!(report["reclaimed_bytes"], size - after);
    assert!(report["passes"].as_u64().unwrap() >= 1);
    assert_eq!(s.cli("export", &[]).stdout, before);
    assert_eq!(s.cli("check", &[]).json()["organizations"], 10);
}

#[test]
fn backup_writes_a_verified_copy_once() {
    let s = Store::new();
    fill(&s, 5, 3);
    let dest = s.path("copy.redb");
    let report = s.cli("backup", &[dest.to_str().unwrap()]).json();
    assert_eq!(report["organizations"], 8);
    assert_eq!(report["size"], std::fs::metadata(&dest).unwrap().len());
    let copy = orgstore::OrgStore::open(&dest).unwrap();
    assert_eq!(copy.count(None).unwrap(), 8);
    assert_eq!(copy.count(Some(Region::Eu)).unwrap(), 3);
    drop(copy);
    // The destination must not exist.
    let err = s.cli("backup", &[dest.to_str().unwrap()]).error(6);
    assert_eq!(err["code"], "FAILED_PRECONDITION");
    assert!(err["message"].as_str().unwrap().contains("already exists"));
}
