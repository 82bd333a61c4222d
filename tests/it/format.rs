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

/// The fixture of format 1, written by the last build of that format. Kept for ever.
const FIXTURE_V1: &str = "tests/fixtures/format-v1.redb";
/// The fixture of format 2, written by `write_fixture`.
const FIXTURE_V2: &str = "tests/fixtures/format-v2.redb";

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Regenerates the fixture of the current format:
/// `ORGSTORE_WRITE_FIXTURES=1 cargo test --test it write_fixture`. Only ever done when a new
/// format version is introduced; older fixtures stay as they are.
#[test]
fn write_fixture() {
    if crate::support::redb_only("write_fixture") {
        return;
    }
    if std::env::var_os("ORGSTORE_WRITE_FIXTURES").is_none() {
        return;
    }
    let path = fixture(FIXTURE_V2);
    let _ = std::fs::remove_file(&path);
    let s = OrgStore::open(&path).expect("create fixture");
    for org in fixture_records() {
        s.import(org).expect("import");
    }
}

/// Opens a copy of a committed fixture and checks it holds exactly the fixture's records.
fn open_fixture_copy(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, path) = temp_path();
    std::fs::copy(fixture(name), &path).expect("copy");
    check_fixture_records(&OrgStore::open(&path).expect("open fixture"));
    (dir, path)
}

fn check_fixture_records(s: &OrgStore) {
    let mut expected = fixture_records();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(all(&s.begin_read().expect("read")), expected);
    let megasoft = expected
        .iter()
        .find(|o| o.display_name == "Megasoft")
        .cloned();
    assert_eq!(s.get_by_external_id("my_unique_id").expect("get"), megasoft);
    assert_eq!(s.get_by_slug("megasoft").expect("get"), megasoft);
    assert_eq!(s.check_indexes().expect("indexes"), 2);
}

/// The names of the tables of a closed store file, sorted.
fn table_names(path: &Path) -> Vec<String> {
    let db = redb::Database::open(path).expect("raw open");
    let r = redb::ReadableDatabase::begin_read(&db).expect("read");
    let mut names: Vec<String> = r
        .list_tables()
        .expect("tables")
        .map(|t| redb::TableHandle::name(&t).to_owned())
        .collect();
    names.sort();
    names
}

/// Every entry of a table of a closed store file, in key order.
fn table_rows(path: &Path, name: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    use redb::ReadableTable;
    let db = redb::Database::open(path).expect("raw open");
    let r = redb::ReadableDatabase::begin_read(&db).expect("read");
    let def: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new(name);
    let t = r.open_table(def).expect("table");
    t.iter()
        .expect("iter")
        .map(|row| {
            let (k, v) = row.expect("row");
            (k.value().to_vec(), v.value().to_vec())
        })
        .collect()
}

fn key(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const V2_TABLES: [&str; 5] = [
    "eu/keys/v2",
    "eu/orgs/v2",
    "orgstore/meta",
    "us/keys/v2",
    "us/orgs/v2",
];

/// Format 2's layout, byte for byte, in the committed fixture: the table names, the meta
/// entries, the id keys (length byte and suffix) and the index keys (kind byte and value,
/// pointing at the id key).
#[test]
fn golden_bytes_of_format_v2() {
    if crate::support::redb_only("golden_bytes_of_format_v2") {
        return;
    }
    let (_dir, path) = temp_path();
    std::fs::copy(fixture(FIXTURE_V2), &path).expect("copy");
    assert_eq!(table_names(&path), V2_TABLES);
    // Only the format version: no last assigned id (imports assign none, and creates derive it
    // from the newest stored id).
    assert_eq!(
        table_rows(&path, "orgstore/meta"),
        [(b"format_version".to_vec(), 2u32.to_le_bytes().to_vec())]
    );
    let megasoft = key(&[&[17], b"59615193906282635"]);
    let unicode = key(&[&[26], b"01JD8Z3V7W8Q2M4N6P8R0T2V4X"]);
    assert_eq!(
        table_rows(&path, "us/keys/v2"),
        [
            (key(&[&[1], b"my_unique_id"]), megasoft.clone()),
            (key(&[&[2], b"megasoft"]), megasoft.clone()),
        ]
    );
    assert_eq!(table_rows(&path, "eu/keys/v2"), []);
    let us: Vec<Vec<u8>> = table_rows(&path, "us/orgs/v2")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(us, [megasoft]);
    let eu = table_rows(&path, "eu/orgs/v2");
    assert_eq!(eu.len(), 1);
    assert_eq!(eu[0].0, unicode);
    // The record value is the record codec's (its own golden bytes are in `codec.rs`): a
    // version byte first.
    assert_eq!(eu[0].1[0], 1);
}

/// Format 1's layout in its committed fixture, which stays as it was written.
#[test]
fn golden_bytes_of_format_v1() {
    if crate::support::redb_only("golden_bytes_of_format_v1") {
        return;
    }
    // redb writes to a file it opens (its header, on close): read a copy.
    let (_dir, path) = temp_path();
    std::fs::copy(fixture(FIXTURE_V1), &path).expect("copy");
    assert_eq!(
        table_names(&path),
        [
            "eu/by_external_id/v1",
            "eu/by_slug/v1",
            "eu/orgs/v1",
            "orgstore/meta",
            "us/by_external_id/v1",
            "us/by_slug/v1",
            "us/orgs/v1",
        ]
    );
    let megasoft = key(&[&[17], b"59615193906282635"]);
    assert_eq!(
        table_rows(&path, "us/by_external_id/v1"),
        [(b"my_unique_id".to_vec(), megasoft.clone())]
    );
    assert_eq!(
        table_rows(&path, "us/by_slug/v1"),
        [(b"megasoft".to_vec(), megasoft)]
    );
    let meta = table_rows(&path, "orgstore/meta");
    assert!(
        meta.contains(&(b"format_version".to_vec(), 1u32.to_le_bytes().to_vec())),
        "{meta:?}"
    );
}

#[test]
fn the_committed_format_v2_fixture_reads_back_exactly() {
    if crate::support::redb_only("the_committed_format_v2_fixture_reads_back_exactly") {
        return;
    }
    open_fixture_copy(FIXTURE_V2);
}

/// A file of format 1 is upgraded in place when opened: the same records, indexes and
/// format-2 tables only; it then opens as format 2, and ids keep increasing past the last one
/// format 1 assigned.
#[test]
fn the_committed_format_v1_fixture_is_upgraded_and_reads_back_exactly() {
    if crate::support::redb_only(
        "the_committed_format_v1_fixture_is_upgraded_and_reads_back_exactly",
    ) {
        return;
    }
    let (_copy, v1) = temp_path();
    std::fs::copy(fixture(FIXTURE_V1), &v1).expect("copy");
    let last_v1 = table_rows(&v1, "orgstore/meta")
        .into_iter()
        .find(|(k, _)| k == b"last_assigned_id")
        .map(|(_, v)| v);
    let (_dir, path) = open_fixture_copy(FIXTURE_V1);
    assert_eq!(table_names(&path), V2_TABLES);
    let meta = table_rows(&path, "orgstore/meta");
    assert!(
        meta.contains(&(b"format_version".to_vec(), 2u32.to_le_bytes().to_vec())),
        "{meta:?}"
    );
    // The last id format 1 recorded stays, as format 2's floor.
    let last_v2 = meta
        .iter()
        .find(|(k, _)| k == b"last_assigned_id")
        .map(|(_, v)| v.clone());
    assert_eq!(last_v2, last_v1);
    let s = OrgStore::open(&path).expect("reopen upgraded");
    check_fixture_records(&s);
    let newest = fixture_records()
        .into_iter()
        .map(|o| o.id)
        .max()
        .expect("ids");
    assert!(create(&s, NewOrganization::new("after the upgrade")).id > newest);
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
    set_format_version(&path, 3);
    let e = expect_code(OrgStore::open(&path), ErrorCode::FailedPrecondition);
    assert!(
        matches!(
            e,
            Error::UnsupportedFormat {
                found: 3,
                supported: 2
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("found version 3"), "{e}");
}

/// Deleting the newest organization must not let its id be assigned again, even to a create
/// in the same millisecond (format 2 keeps no last id for creates; the delete keeps it).
#[test]
fn regression_deleting_the_newest_organization_never_frees_its_id() {
    let s = crate::support::open(OrgStore::builder().clock(|| datetime!(2025-06-01 12:00 UTC)));
    let a = create(&s, NewOrganization::new("a"));
    let b = create(&s, NewOrganization::new("b"));
    s.delete(&b.id).expect("delete");
    let c = create(&s, NewOrganization::new("c"));
    assert!(c.id > b.id && b.id > a.id, "{} {} {}", a.id, b.id, c.id);
    // Again, with the delete and the create in one transaction, and deleting twice.
    let (d, e) = s
        .transaction(|t| {
            let d = t.create(NewOrganization::new("d"))?;
            t.delete(&d.id)?;
            t.delete(&c.id)?;
            let e = t.create(NewOrganization::new("e"))?;
            Ok::<_, Error>((d, e))
        })
        .expect("transaction");
    assert!(e.id > d.id && d.id > c.id, "{} {} {}", c.id, d.id, e.id);
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
