//! Durability across reopen, the on-disk format, and damaged files.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use orgstore::{Error, ErrorCode, NewOrganization, OrgStore, Organization, Region};
use time::macros::datetime;

use crate::support::{all, create, expect_code, temp_path};

#[test]
fn data_survives_close_and_reopen() {
    if crate::support::redb_only("data_survives_close_and_reopen") {
        return;
    }
    let (_dir, path) = temp_path();
    let written = {
        let s = OrgStore::open(&path).expect("open");
        create(&s, NewOrganization::new("a").external_id("a").slug("a"));
        create(
            &s,
            NewOrganization::new("b")
                .region(Region::Eu)
                .metadata("plan", "pro"),
        );
        let gone = create(&s, NewOrganization::new("c"));
        s.delete(&gone.id).expect("delete");
        all(&s.begin_read().expect("read"))
    };
    let s = OrgStore::open(&path).expect("reopen");
    assert_eq!(all(&s.begin_read().expect("read")), written);
    assert_eq!(
        s.get_by_slug("a").expect("get").map(|o| o.display_name),
        Some("a".into())
    );
    assert_eq!(s.check_indexes().expect("indexes"), 2);
}

#[test]
fn a_second_open_of_a_locked_file_is_refused() {
    if crate::support::redb_only("a_second_open_of_a_locked_file_is_refused") {
        return;
    }
    let (_dir, path) = temp_path();
    let _s = OrgStore::open(&path).expect("open");
    expect_code(OrgStore::open(&path), ErrorCode::FailedPrecondition);
}

/// The records the committed fixture holds (written by `write_fixture` below).
fn fixture_records() -> Vec<Organization> {
    vec![
        Organization {
            id: "org_59615193906282635".parse().expect("id"),
            create_time: datetime!(2025-02-15 06:23:44.56 UTC),
            update_time: datetime!(2025-03-21 05:55:03.416772 UTC),
            display_name: "Megasoft".into(),
            region_code: Region::Us,
            external_id: Some("my_unique_id".into()),
            metadata: [("industry".to_string(), "technology".to_string())].into(),
            settings: vec![
                orgstore::FeatureToggle::new("sso", true),
                orgstore::FeatureToggle::new("dir_sync", false),
            ],
            slug: Some("megasoft".into()),
            logo_url: Some("https://cdn.example.com/megasoft.png".into()),
        },
        Organization {
            id: "org_01JD8Z3V7W8Q2M4N6P8R0T2V4X".parse().expect("id"),
            create_time: datetime!(2024-11-22 10:00:00 UTC),
            update_time: datetime!(2024-11-22 10:00:00 UTC),
            display_name: "Ünïcødé GmbH".into(),
            region_code: Region::Eu,
            external_id: None,
            metadata: Default::default(),
            settings: vec![],
            slug: None,
            logo_url: None,
        },
    ]
}

const FIXTURE: &str = "tests/fixtures/format-v1.redb";

/// Regenerates the fixture: `ORGSTORE_WRITE_FIXTURES=1 cargo test --test it write_fixture`.
/// Only ever done when a new format version is introduced; old fixtures stay.
#[test]
fn write_fixture() {
    if crate::support::redb_only("write_fixture") {
        return;
    }
    if std::env::var_os("ORGSTORE_WRITE_FIXTURES").is_none() {
        return;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let _ = std::fs::remove_file(&path);
    let s = OrgStore::open(&path).expect("create fixture");
    for org in fixture_records() {
        s.import(org).expect("import");
    }
}

#[test]
fn the_committed_format_v1_fixture_reads_back_exactly() {
    if crate::support::redb_only("the_committed_format_v1_fixture_reads_back_exactly") {
        return;
    }
    let (_dir, path) = temp_path();
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &path).expect("copy");
    let s = OrgStore::open(&path).expect("open fixture");
    let mut expected = fixture_records();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(all(&s.begin_read().expect("read")), expected);
    let megasoft = expected
        .iter()
        .find(|o| o.display_name == "Megasoft")
        .cloned();
    assert_eq!(s.get_by_external_id("my_unique_id").expect("get"), megasoft);
    assert_eq!(s.check_indexes().expect("indexes"), 2);
}

/// Rewrites the format version recorded in a closed store file.
fn set_format_version(path: &Path, version: u32) {
    let db = redb::Database::open(path).expect("raw open");
    let w = db.begin_write().expect("write");
    {
        let def: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("orgstore/meta");
        let mut meta = w.open_table(def).expect("meta");
        meta.insert(&b"format_version"[..], &version.to_le_bytes()[..])
            .expect("insert");
    }
    w.commit().expect("commit");
}

#[test]
fn a_file_of_a_newer_format_is_refused_clearly() {
    if crate::support::redb_only("a_file_of_a_newer_format_is_refused_clearly") {
        return;
    }
    let (_dir, path) = temp_path();
    drop(OrgStore::open(&path).expect("create"));
    set_format_version(&path, 2);
    let e = expect_code(OrgStore::open(&path), ErrorCode::FailedPrecondition);
    assert!(
        matches!(
            e,
            Error::UnsupportedFormat {
                found: 2,
                supported: 1
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("found version 2"), "{e}");
}

#[test]
fn a_redb_file_of_another_application_is_refused() {
    if crate::support::redb_only("a_redb_file_of_another_application_is_refused") {
        return;
    }
    let (_dir, path) = temp_path();
    {
        let db = redb::Database::create(&path).expect("raw create");
        let w = db.begin_write().expect("write");
        let def: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("not_ours");
        w.open_table(def)
            .expect("table")
            .insert(1, 2)
            .expect("insert");
        w.commit().expect("commit");
    }
    let e = expect_code(OrgStore::open(&path), ErrorCode::FailedPrecondition);
    assert!(e.to_string().contains("not_ours"), "{e}");
}

#[test]
fn a_file_that_is_not_a_database_is_an_error_not_a_panic() {
    if crate::support::redb_only("a_file_that_is_not_a_database_is_an_error_not_a_panic") {
        return;
    }
    let (_dir, path) = temp_path();
    std::fs::write(&path, b"this is not a redb file, just text".repeat(200)).expect("write");
    let result = catch_unwind(|| OrgStore::open(&path));
    assert!(matches!(result, Ok(Err(_))), "expected an error");
}

/// Damages copies of a populated store; each must fail to open with a corruption error or read
/// back exactly the original data. Never a panic.
#[test]
fn damaged_files_give_corruption_errors_never_panics_or_wrong_data() {
    if crate::support::redb_only("damaged_files_give_corruption_errors_never_panics_or_wrong_data")
    {
        return;
    }
    let mut rng = crate::support::rng("damaged files");
    let (dir, path) = temp_path();
    let original = {
        let s = OrgStore::open(&path).expect("open");
        s.transaction(|t| {
            for i in 0..300 {
                let region = if i % 2 == 0 { Region::Us } else { Region::Eu };
                t.create(
                    NewOrganization::new(format!("Org {i}"))
                        .external_id(format!("ext-{i}"))
                        .slug(format!("slug-{i}"))
                        .region(region)
                        .metadata("plan", "pro"),
                )?;
            }
            Ok::<_, Error>(())
        })
        .expect("fill");
        all(&s.begin_read().expect("read"))
    };
    let bytes = std::fs::read(&path).expect("read file");
    let (mut corrupted, mut identical) = (0, 0);
    for case in 0..40 {
        let mut damaged = bytes.clone();
        // Skip the first page (the header): redb repairs from the secondary slot or refuses.
        let page = 1 + rng.below((bytes.len() / 4096 - 1) as u64) as usize;
        let at = page * 4096 + rng.below(4096 - 64) as usize;
        for b in &mut damaged[at..at + 16] {
            *b ^= 0x5A;
        }
        let copy = dir.path().join(format!("damaged-{case}.redb"));
        std::fs::write(&copy, &damaged).expect("write copy");
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let s = OrgStore::open(&copy)?;
            let read = all(&s.begin_read()?);
            s.check_indexes()?;
            Ok::<_, Error>(read)
        }));
        match outcome {
            Err(_) => panic!("case {case}: panicked (page {page}, offset {at})"),
            Ok(Ok(read)) => {
                assert_eq!(read, original, "case {case}: silently different data");
                identical += 1;
            }
            Ok(Err(e)) => {
                assert_eq!(e.code(), ErrorCode::DataLoss, "case {case}: {e}");
                corrupted += 1;
            }
        }
    }
    eprintln!(
        "damaged files: {corrupted} corruption errors, {identical} unchanged reads, 0 panics"
    );
    assert!(corrupted > 0, "no damage was detected at all");
}

/// Found by the fault-injection suite: a failure while a new store file was being created left
/// a file redb refused forever ("not a redb database"). A file whose creation never finished
/// holds no data and now starts afresh; anything else without redb's header stays refused.
#[test]
fn regression_a_store_whose_creation_failed_midway_opens_again() {
    if crate::support::redb_only("regression_a_store_whose_creation_failed_midway_opens_again") {
        return;
    }
    let (_dir, path) = temp_path();
    // What redb leaves after a failed creation: the header page without its magic number,
    // zeros everywhere else.
    let mut half = vec![0u8; 73_728];
    half[9..64].iter_mut().for_each(|b| *b = 0xA5);
    std::fs::write(&path, &half).expect("write");
    let s = OrgStore::open(&path).expect("a half-created store starts afresh");
    create(&s, NewOrganization::new("after"));
    drop(s);
    assert_eq!(
        OrgStore::open(&path)
            .expect("reopen")
            .count(None)
            .expect("count"),
        1
    );

    // Same header, but data further in: a damaged store, not a half-created one. Refused,
    // and the file is left untouched.
    let (_dir2, path2) = temp_path();
    let mut damaged = half.clone();
    damaged[8192] = 1;
    std::fs::write(&path2, &damaged).expect("write");
    let e = expect_code(OrgStore::open(&path2), ErrorCode::DataLoss);
    assert!(e.to_string().contains("magic number"), "{e}");
    assert_eq!(std::fs::read(&path2).expect("read"), damaged);
}

/// Found by the corruption suite: a store file cut inside its header made redb read past the
/// end, which surfaced as an opaque storage failure instead of a corruption error.
#[test]
fn regression_a_file_truncated_inside_its_header_is_a_corruption_error() {
    if crate::support::redb_only(
        "regression_a_file_truncated_inside_its_header_is_a_corruption_error",
    ) {
        return;
    }
    let (_dir, path) = temp_path();
    {
        let s = OrgStore::open(&path).expect("open");
        create(&s, NewOrganization::new("a"));
    }
    let bytes = std::fs::read(&path).expect("read");
    for len in [16, 100, 300, 1000] {
        std::fs::write(&path, &bytes[..len]).expect("truncate");
        let e = expect_code(OrgStore::open(&path), ErrorCode::DataLoss);
        assert!(matches!(e, Error::Corrupted { .. }), "{len}: {e:?}");
    }
}

/// `compact()` and `check_integrity()` with a read transaction still open failed as an opaque
/// storage error (INTERNAL) instead of the failed precondition their docs promise.
#[test]
fn regression_maintenance_with_a_live_reader_is_a_failed_precondition() {
    if crate::support::redb_only(
        "regression_maintenance_with_a_live_reader_is_a_failed_precondition",
    ) {
        return;
    }
    let (_dir, path) = temp_path();
    let mut s = OrgStore::open(&path).expect("open");
    create(&s, NewOrganization::new("a"));
    let reader = s.begin_read().expect("read");
    let e = expect_code(s.compact(), ErrorCode::FailedPrecondition);
    assert!(e.to_string().contains("transaction"), "{e}");
    let e = expect_code(s.check_integrity(), ErrorCode::FailedPrecondition);
    assert!(e.to_string().contains("transaction"), "{e}");
    drop(reader);
    assert!(s.check_integrity().expect("alone now"));
    while s.compact().expect("alone now") {}
}
