//! Atomic write transactions, rollback, snapshots.

use orgstore::{Error, ErrorCode, NewOrganization, OrganizationUpdate, Readable, Region};

use crate::support::{create, expect_code, snapshot, store};

#[test]
fn a_multi_operation_commit_is_atomic_and_visible_only_after_commit() {
    let s = store();
    let old = create(&s, NewOrganization::new("old").external_id("old"));
    let mut txn = s.begin_write().expect("begin");
    let a = txn
        .create(NewOrganization::new("a").external_id("a"))
        .expect("create");
    txn.update(&old.id, OrganizationUpdate::new().display_name("renamed"))
        .expect("update");
    txn.create(NewOrganization::new("b").region(Region::Eu))
        .expect("create");
    // The transaction reads its own writes...
    assert_eq!(txn.get(&a.id).expect("get"), Some(a.clone()));
    assert_eq!(txn.count(None).expect("count"), 3);
    // ...others do not, until commit.
    assert_eq!(s.count(None).expect("count"), 1);
    assert_eq!(
        s.get(&old.id).expect("get").expect("hit").display_name,
        "old"
    );
    txn.commit().expect("commit");
    assert_eq!(s.count(None).expect("count"), 3);
    assert_eq!(
        s.get(&old.id).expect("get").expect("hit").display_name,
        "renamed"
    );
}

#[test]
fn drop_and_abort_leave_no_trace() {
    let s = store();
    create(&s, NewOrganization::new("keep").external_id("keep"));
    let before = snapshot(&s);
    {
        let mut txn = s.begin_write().expect("begin");
        txn.create(NewOrganization::new("x").external_id("x"))
            .expect("create");
        txn.delete_by_external_id("keep").expect("delete");
    }
    assert_eq!(snapshot(&s), before);
    let mut txn = s.begin_write().expect("begin");
    txn.create(NewOrganization::new("y").external_id("y"))
        .expect("create");
    txn.abort().expect("abort");
    assert_eq!(snapshot(&s), before);
    // The values used in rolled-back transactions are free.
    create(&s, NewOrganization::new("x").external_id("x"));
    s.check_indexes().expect("indexes agree");
}

#[test]
fn an_error_inside_a_closure_transaction_rolls_back_everything() {
    let s = store();
    let before = snapshot(&s);
    let result: Result<(), Error> = s.transaction(|t| {
        t.create(NewOrganization::new("a").external_id("a"))?;
        t.create(NewOrganization::new("b").external_id("b"))?;
        t.create(NewOrganization::new("c").external_id("a"))?; // clash
        Ok(())
    });
    expect_code(result, ErrorCode::AlreadyExists);
    assert_eq!(snapshot(&s), before);

    // A caller's own error type works too.
    #[derive(Debug)]
    enum AppError {
        Store(Error),
        Business,
    }
    impl From<Error> for AppError {
        fn from(e: Error) -> Self {
            AppError::Store(e)
        }
    }
    let result: Result<(), AppError> = s.transaction(|t| {
        t.create(NewOrganization::new("a"))?;
        Err(AppError::Business)
    });
    assert!(matches!(result, Err(AppError::Business)));
    let result: Result<(), AppError> = s.transaction(|t| {
        t.delete("org_missing")?;
        Ok(())
    });
    assert!(matches!(
        result,
        Err(AppError::Store(Error::NotFound { .. }))
    ));
    assert_eq!(snapshot(&s), before);
}

#[test]
fn a_failed_operation_writes_nothing_and_the_transaction_stays_usable() {
    let s = store();
    create(&s, NewOrganization::new("a").external_id("a"));
    let mut txn = s.begin_write().expect("begin");
    expect_code(
        txn.create(NewOrganization::new("b").external_id("a")),
        ErrorCode::AlreadyExists,
    );
    expect_code(
        txn.create(NewOrganization::new("")),
        ErrorCode::InvalidArgument,
    );
    expect_code(txn.delete("org_nothing"), ErrorCode::NotFound);
    txn.create(NewOrganization::new("c").external_id("c"))
        .expect("create");
    txn.commit().expect("commit");
    assert_eq!(s.count(None).expect("count"), 2);
    s.check_indexes().expect("indexes agree");
}

#[test]
fn a_read_snapshot_does_not_see_later_commits() {
    let s = store();
    let a = create(&s, NewOrganization::new("a").external_id("a"));
    let snap = s.begin_read().expect("snapshot");
    s.update(&a.id, OrganizationUpdate::new().display_name("changed"))
        .expect("update");
    create(&s, NewOrganization::new("b"));
    s.delete_by_external_id("a").expect("delete");
    assert_eq!(snap.get(&a.id).expect("get"), Some(a.clone()));
    assert_eq!(snap.get_by_external_id("a").expect("get"), Some(a));
    assert_eq!(snap.count(None).expect("count"), 1);
    assert_eq!(crate::support::all(&snap).len(), 1);
    assert_eq!(s.count(None).expect("count"), 1);
}

#[test]
fn a_second_write_transaction_on_the_same_thread_is_refused_not_deadlocked() {
    let s = store();
    let txn = s.begin_write().expect("begin");
    expect_code(s.begin_write(), ErrorCode::FailedPrecondition);
    expect_code(
        s.create(NewOrganization::new("x")),
        ErrorCode::FailedPrecondition,
    );
    drop(txn);
    create(&s, NewOrganization::new("x"));
}

#[test]
fn reads_accept_either_kind_of_transaction() {
    fn names(r: &impl Readable) -> Vec<String> {
        crate::support::all(r)
            .into_iter()
            .map(|o| o.display_name)
            .collect()
    }
    let s = store();
    create(&s, NewOrganization::new("a"));
    let mut txn = s.begin_write().expect("begin");
    txn.create(NewOrganization::new("b")).expect("create");
    assert_eq!(names(&txn), ["a", "b"]);
    assert_eq!(names(&s.begin_read().expect("read")), ["a"]);
}

#[test]
fn every_operation_interleaves_with_reads_in_one_transaction() {
    // A write transaction keeps its tables open from first use to commit; every kind of read
    // and write must work in any order on them, and see the transaction's own writes.
    let s = store();
    let kept = create(
        &s,
        NewOrganization::new("kept")
            .external_id("kept")
            .slug("kept"),
    );
    let mut txn = s.begin_write().expect("begin");
    let page = txn.list(&orgstore::ListRequest::new()).expect("list");
    assert_eq!(page.total_size, 1);
    let a = txn
        .create(NewOrganization::new("a").external_id("a").slug("a"))
        .expect("create");
    assert_eq!(txn.get_by_slug("a").expect("get"), Some(a.clone()));
    let b = txn
        .create(
            NewOrganization::new("b")
                .external_id("b")
                .region(Region::Eu),
        )
        .expect("create");
    assert_eq!(txn.count(Some(Region::Eu)).expect("count"), 1);
    txn.update_by_external_id("a", OrganizationUpdate::new().external_id("a2"))
        .expect("update");
    assert_eq!(txn.get_by_external_id("a").expect("get"), None);
    assert_eq!(
        txn.get_by_external_id("a2").expect("get").map(|o| o.id),
        Some(a.id.clone())
    );
    // A refused write in the middle changes nothing and leaves the tables usable.
    expect_code(
        txn.create(NewOrganization::new("clash").external_id("kept")),
        ErrorCode::AlreadyExists,
    );
    txn.delete(&kept.id).expect("delete");
    assert_eq!(txn.get_by_slug("kept").expect("get"), None);
    let mut moved = b.clone();
    moved.display_name = "b, imported".into();
    txn.import(moved.clone()).expect("import");
    assert_eq!(
        txn.get(&b.id).expect("get").map(|o| o.display_name),
        Some(moved.display_name.clone())
    );
    let page = txn.list(&orgstore::ListRequest::new()).expect("list");
    assert_eq!(page.total_size, 2);
    txn.commit().expect("commit");
    let after = s.begin_read().expect("read");
    assert_eq!(after.count(None).expect("count"), 2);
    assert_eq!(after.get(&kept.id).expect("get"), None);
    assert_eq!(
        after.get_by_external_id("a2").expect("get").map(|o| o.id),
        Some(a.id)
    );
    assert_eq!(
        after.get(&b.id).expect("get").map(|o| o.display_name),
        Some(moved.display_name)
    );
}
