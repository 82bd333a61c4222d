//! `backup_to`: a consistent copy of a live store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use orgstore::{ErrorCode, NewOrganization, OrgStore, Region};

use crate::support::{all, create, expect_code, temp_path};

/// Copying the file of a busy store gave a corrupt copy most of the time. A backup taken while
/// a writer commits is a complete store holding exactly a prefix of the writer's commits.
#[test]
fn regression_a_backup_under_concurrent_writes_is_a_consistent_store() {
    if crate::support::redb_only(
        "regression_a_backup_under_concurrent_writes_is_a_consistent_store",
    ) {
        return;
    }
    let (dir, path) = temp_path();
    let s = OrgStore::open(&path).expect("open");
    s.transaction(|t| {
        for i in 0..2_000 {
            let region = if i % 3 == 0 { Region::Eu } else { Region::Us };
            t.create(
                NewOrganization::new(format!("seed {i}"))
                    .external_id(format!("seed-{i}"))
                    .slug(format!("seed-{i}"))
                    .region(region),
            )?;
        }
        Ok::<_, orgstore::Error>(())
    })
    .expect("seed");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Acquire) {
                s.create(NewOrganization::new("w").external_id(format!("w-{n}")))
                    .expect("create");
                if n % 2 == 1 {
                    s.delete_by_external_id(&format!("seed-{n}"))
                        .expect("delete");
                }
                n += 1;
            }
            n
        })
    };
    // Let the writer get going, then copy three times while it writes.
    std::thread::sleep(std::time::Duration::from_millis(20));
    for round in 0..3 {
        let dest = dir.path().join(format!("backup-{round}.redb"));
        let copied = s.backup_to(&dest).expect("backup");
        let copy = OrgStore::open(&dest).expect("the backup opens");
        assert_eq!(copy.count(None).expect("count"), copied);
        assert_eq!(copy.check_indexes().expect("indexes"), copied);
        // A prefix of the writer's work: w-0..w-(k-1), with the matching deletes.
        let orgs = all(&copy.begin_read().expect("read"));
        let written = orgs.iter().filter(|o| o.display_name == "w").count() as u64;
        for i in 0..written {
            assert!(
                copy.get_by_external_id(&format!("w-{i}"))
                    .expect("get")
                    .is_some(),
                "round {round}: w-{i} missing although w-{} is there",
                written - 1
            );
        }
        // Each odd create is followed by its own delete commit, which may not be in yet.
        let deleted = 2_000 - (orgs.len() as u64 - written);
        let done = written / 2;
        assert!(
            deleted == done || (written.is_multiple_of(2) && deleted + 1 == done),
            "round {round}: {written} creates but {deleted} deletes"
        );
        assert!(copy
            .get_by_external_id(&format!("w-{written}"))
            .expect("get")
            .is_none());
    }
    stop.store(true, Ordering::Release);
    let total = writer.join().expect("writer");
    assert!(total > 0);
    // Ids keep increasing in a store restored from a backup.
    let dest = dir.path().join("final.redb");
    s.backup_to(&dest).expect("backup");
    drop(s);
    let copy = OrgStore::open(&dest).expect("open");
    let newest = all(&copy.begin_read().expect("read"))
        .into_iter()
        .map(|o| o.id)
        .max()
        .expect("records");
    assert!(create(&copy, NewOrganization::new("after")).id > newest);
}

#[test]
fn a_backup_never_replaces_an_existing_file() {
    if crate::support::redb_only("a_backup_never_replaces_an_existing_file") {
        return;
    }
    let (dir, path) = temp_path();
    let s = OrgStore::open(&path).expect("open");
    create(&s, NewOrganization::new("a"));
    let dest = dir.path().join("taken.redb");
    std::fs::write(&dest, b"precious").expect("write");
    let e = expect_code(s.backup_to(&dest), ErrorCode::FailedPrecondition);
    assert!(e.to_string().contains("exists"), "{e}");
    assert_eq!(std::fs::read(&dest).expect("read"), b"precious");
    // Of an in-memory store too; and no partial file is left behind.
    let m = OrgStore::in_memory().expect("memory");
    create(&m, NewOrganization::new("b").region(Region::Eu));
    let dest = dir.path().join("memory.redb");
    assert_eq!(m.backup_to(&dest).expect("backup"), 1);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
    let copy = OrgStore::open(&dest).expect("open");
    assert_eq!(copy.count(Some(Region::Eu)).expect("count"), 1);
}
