//! import and export: streaming JSON Lines, batches, bad lines, dry runs, round trips.

use orgstore::{NewOrganization, Region};
use serde_json::Value;

use crate::support::{record, write_lines, Store};

/// A store holding a varied population, written by the library.
pub fn populated(s: &Store) -> usize {
    let store = s.open();
    for n in 0..120u32 {
        let mut new = NewOrganization::new(format!("Tenant {n} Ünïcødé \"quoted\""))
            .region(if n % 3 == 0 { Region::Eu } else { Region::Us });
        if n % 2 == 0 {
            new = new.external_id(format!("ext-{n}"));
        }
        if n % 4 == 0 {
            new = new
                .slug(format!("tenant-{n}"))
                .logo_url(format!("https://cdn.example/{n}.png"));
        }
        for m in 0..(n % 4) {
            new = new.metadata(format!("key{m}"), format!("value {m} ✓"));
        }
        if n % 5 == 0 {
            new = new.setting("sso", true).setting("beta", n % 2 == 0);
        }
        store.create(new).unwrap();
    }
    // Churn: deletions and updates, so the export is not just the creation order.
    for n in (0..120).step_by(7) {
        if n % 2 == 0 {
            store.delete_by_external_id(&format!("ext-{n}")).unwrap();
        }
    }
    let count = store.count(None).unwrap() as usize;
    drop(store);
    count
}

#[test]
fn export_then_import_into_an_empty_store_gives_the_same_bytes() {
    let a = Store::new();
    let count = populated(&a);
    let first = a.cli("export", &[]);
    assert_eq!(first.code, 0, "{first:#?}");
    assert_eq!(first.stdout.lines().count(), count);
    assert!(first
        .stderr
        .contains(&format!("exported {count} organizations")));

    // Each line is the library's serialization of the stored record, oldest first.
    let store = a.open();
    let mut last_id = None;
    for line in first.stdout.lines() {
        let org: orgstore::Organization = serde_json::from_str(line).unwrap();
        let stored = store.get(&org.id).unwrap().unwrap();
        assert_eq!(serde_json::to_string(&stored).unwrap(), line);
        assert!(last_id.as_ref().is_none_or(|l| *l < org.id), "oldest first");
        last_id = Some(org.id);
    }
    drop(store);

    let b = Store::new();
    let dump = a.path("dump.jsonl");
    std::fs::write(&dump, &first.stdout).unwrap();
    let out = b.cli("import", &["--json", dump.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:#?}");
    let summary = &out.stderr_json()[0];
    assert_eq!(summary["imported"], count);
    assert_eq!(summary["complete"], true);

    let second = b.cli("export", &[]);
    assert_eq!(second.code, 0);
    assert_eq!(second.stdout, first.stdout, "byte for byte");

    // Through a pipe (stdin) as well, and per region.
    let c = Store::new();
    let out = c.cli_with("import", &["-"], first.stdout.as_bytes());
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(c.cli("export", &[]).stdout, first.stdout);
    let eu = a.cli("export", &["--region", "EU", "--json"]);
    let eu_lines: Vec<&str> = first
        .stdout
        .lines()
        .filter(|l| l.contains("\"region_code\":\"EU\""))
        .collect();
    assert!(!eu_lines.is_empty());
    assert_eq!(eu.stdout.lines().collect::<Vec<_>>(), eu_lines);
    let summary: Value = serde_json::from_str(eu.stderr.trim()).unwrap();
    assert_eq!(summary["exported"], eu_lines.len());
    assert_eq!(summary["region"], "EU");
}

#[test]
fn a_bad_line_stops_the_import_and_nothing_of_its_batch_is_written() {
    let s = Store::new();
    let mut lines: Vec<String> = (1..=25).map(|n| record(n, "US")).collect();
    lines[16] = "{\"id\": \"org_17\", \"display_name\": ".to_owned(); // line 17: cut short
    let file = s.path("bad.jsonl");
    write_lines(&file, &lines);

    let out = s.cli(
        "import",
        &["--batch", "10", "--json", file.to_str().unwrap()],
    );
    let err = out.error(3);
    assert_eq!(err["code"], "INVALID_ARGUMENT");
    assert_eq!(err["line"], 17);
    let message = err["message"].as_str().unwrap();
    assert!(message.starts_with("line 17: "), "{message}");
    assert!(message.contains("from line 11"), "{message}");
    let summary = &out.stderr_json()[0];
    assert_eq!(summary["lines"], 17, "nothing after the bad line is read");
    assert_eq!(summary["imported"], 10);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["rolled_back"], 6);
    assert_eq!(summary["batches"], 1);
    assert_eq!(summary["complete"], false);

    // The first batch (lines 1–10) is kept; nothing of lines 11–16 is written.
    let store = s.open();
    assert_eq!(store.count(None).unwrap(), 10);
    for n in 1..=25 {
        let present = store.get(format!("org_{n}")).unwrap().is_some();
        assert_eq!(present, n <= 10, "org_{n}");
    }
    drop(store);

    // Fixed and run again: the imported lines count as unchanged, the rest is imported.
    lines[16] = record(17, "US");
    write_lines(&file, &lines);
    let out = s.cli(
        "import",
        &["--batch", "10", "--json", file.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let summary = &out.stderr_json()[0];
    assert_eq!(summary["imported"], 15);
    assert_eq!(summary["unchanged"], 10);
    assert_eq!(summary["complete"], true);
    assert_eq!(s.open().count(None).unwrap(), 25);
}

#[test]
fn a_record_the_store_refuses_is_a_bad_line_with_its_code() {
    let s = Store::new();
    s.create(&["--display-name", "Holder", "--external-id", "taken"]);
    let mut lines: Vec<String> = (1..=6).map(|n| record(n, "EU")).collect();
    lines[3] = lines[3].replace("ext-4", "taken");
    let file = s.path("clash.jsonl");
    write_lines(&file, &lines);
    let err = s.cli("import", &[file.to_str().unwrap()]).error(5);
    assert_eq!(err["code"], "ALREADY_EXISTS");
    assert_eq!(err["line"], 4);
    assert!(err["message"].as_str().unwrap().contains("already exists"));
    assert_eq!(
        s.open().count(None).unwrap(),
        1,
        "one batch: all rolled back"
    );

    // A broken field rule carries the library's violations.
    let mut bad = serde_json::from_str::<Value>(&record(9, "US")).unwrap();
    bad["display_name"] = "".into();
    let mut unknown = serde_json::from_str::<Value>(&record(10, "US")).unwrap();
    unknown["colour"] = "blue".into();
    for (line, field) in [
        (bad.to_string(), "display_name"),
        (unknown.to_string(), "colour"),
    ] {
        let err = s.cli_with("import", &["-"], line.as_bytes()).error(3);
        assert_eq!(err["line"], 1);
        assert_eq!(err["violations"][0]["field"], field, "{err}");
    }
    // An incomplete record (no times) is not an organization.
    let err = s
        .cli_with(
            "import",
            &["-"],
            b"{\"id\":\"org_5\",\"display_name\":\"A\",\"region_code\":\"US\"}\n",
        )
        .error(3);
    assert!(
        err["message"].as_str().unwrap().contains("create_time"),
        "{err}"
    );
    // A line longer than the limit, and bytes that are not UTF-8.
    let long = format!("{{\"display_name\":\"{}\"}}\n", "x".repeat(2 << 20));
    let err = s.cli_with("import", &["-"], long.as_bytes()).error(3);
    assert!(err["message"].as_str().unwrap().contains("longer than"));
    let err = s.cli_with("import", &["-"], b"\xff\xfe\n").error(3);
    assert!(err["message"].as_str().unwrap().contains("UTF-8"));
    // An input that cannot be read.
    let err = s
        .cli("import", &[s.path("nowhere.jsonl").to_str().unwrap()])
        .error(3);
    assert!(err["message"].as_str().unwrap().contains("cannot read"));
    assert_eq!(s.open().count(None).unwrap(), 1);
}

#[test]
fn dry_run_reports_every_bad_line_and_writes_nothing() {
    let s = Store::new();
    s.create(&["--display-name", "Holder", "--external-id", "taken"]);
    s.create(&["--display-name", "Other", "--region", "EU"]);
    let before = s.cli("export", &[]).stdout;

    let mut lines: Vec<String> = (1..=30).map(|n| record(n, "US")).collect();
    lines[4] = lines[4].replace("ext-5", "taken"); // line 5: clash with the store
    lines[21] = "not json".to_owned(); // line 22
    lines.push(String::new()); // a blank line is skipped
    let file = s.path("mixed.jsonl");
    write_lines(&file, &lines);

    let out = s.cli(
        "import",
        &[
            "--dry-run",
            "--json",
            "--batch",
            "8",
            file.to_str().unwrap(),
        ],
    );
    let err = out.error(5);
    assert_eq!(err["line"], 5, "the first bad line decides the code");
    assert!(err["message"].as_str().unwrap().starts_with("2 bad lines"));
    // Each bad line as it is found, then the final error (the first again).
    let lines_reported: Vec<u64> = out
        .stderr_json()
        .iter()
        .filter_map(|v| v.get("line").and_then(Value::as_u64))
        .collect();
    assert_eq!(lines_reported, [5, 22, 5]);
    let summary = out
        .stderr_json()
        .into_iter()
        .find(|v| v.get("dry_run").is_some())
        .unwrap();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["lines"], 31);
    assert_eq!(summary["blank"], 1);
    assert_eq!(summary["failed"], 2);
    assert_eq!(summary["imported"], 28, "what would have been imported");
    assert_eq!(summary["batches"], 0);

    // A clean file passes, and still writes nothing.
    lines[4] = record(5, "US");
    lines[21] = record(22, "US");
    write_lines(&file, &lines);
    let out = s.cli("import", &["--dry-run", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(out.stderr.contains("nothing written"), "{out:#?}");
    assert_eq!(s.cli("export", &[]).stdout, before, "the same records");
    // (Not the file's bytes: any open and close, even `stats`, lets the storage engine
    // rewrite its own bookkeeping and resize the file.)
    assert_eq!(s.open().count(None).unwrap(), 2);

    // Without a store file, a dry run checks against an empty store and creates none.
    let fresh = Store::new();
    let out = fresh.cli("import", &["--dry-run", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(!fresh.db.exists());

    // Then the real import writes them all.
    let out = s.cli("import", &[file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(s.open().count(None).unwrap(), 32);
}

#[test]
fn an_export_whose_reader_goes_away_fails_with_internal() {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};

    let s = Store::new();
    let lines: Vec<String> = (1..=2000).map(|n| record(n, "US")).collect();
    let file = s.path("many.jsonl");
    write_lines(&file, &lines);
    assert_eq!(s.cli("import", &[file.to_str().unwrap()]).code, 0);

    let mut child = Command::new(crate::support::BIN)
        .args(["export", "--db", s.db()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("{\"id\":\"org_1\""), "{first}");
    // The reader is dropped here: the rest of the export meets a closed pipe.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(11), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let err: Value = serde_json::from_str(stderr.trim_end().lines().last().unwrap()).unwrap();
    assert_eq!(err["code"], "INTERNAL");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("cannot write the export"));
}

#[test]
fn the_first_bad_line_is_reported_even_before_a_later_unparseable_one() {
    let s = Store::new();
    s.create(&["--display-name", "Holder", "--external-id", "taken"]);
    let mut lines: Vec<String> = (1..=20).map(|n| record(n, "US")).collect();
    lines[11] = lines[11].replace("ext-12", "taken"); // line 12: refused by the store
    lines[16] = "{".to_owned(); // line 17: not JSON, in the same batch
    let file = s.path("two.jsonl");
    write_lines(&file, &lines);
    let err = s
        .cli("import", &["--batch", "10", file.to_str().unwrap()])
        .error(5);
    assert_eq!(err["line"], 12);
    let ids: Vec<String> = s
        .open()
        .list(&orgstore::ListRequest::new().page_size(100))
        .unwrap()
        .organizations
        .into_iter()
        .map(|o| o.id.to_string())
        .collect();
    assert_eq!(ids.len(), 11, "the holder and lines 1–10: {ids:?}");
}

#[test]
fn the_write_lock_is_not_held_while_the_input_is_slow() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let s = Store::new();
    s.create(&["--display-name", "First"]);
    let mut child = Command::new(crate::support::BIN)
        .args([
            "import",
            "--db",
            s.db(),
            "--multi-process",
            "--batch",
            "1000",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for n in 1..=3 {
        writeln!(stdin, "{}", record(n, "US")).unwrap();
    }
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The import has read part of a batch and waits for more: other writers go on.
    let mut create = Command::new(crate::support::BIN)
        .args([
            "create",
            "--db",
            s.db(),
            "--multi-process",
            "--display-name",
            "Meanwhile",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut created = None;
    while created.is_none() && Instant::now() < deadline {
        created = create.try_wait().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    for n in 4..=6 {
        writeln!(stdin, "{}", record(n, "US")).unwrap();
    }
    drop(stdin); // the import ends, so a create it blocked would end too
    let out = child.wait_with_output().unwrap();
    let create = create.wait().unwrap();
    assert!(
        created.is_some_and(|c| c.success()),
        "the create waited for the import ({create:?})"
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(s.open().count(None).unwrap(), 8);
}
