//! The admin commands on a PostgreSQL store (`--postgres URL`): what they refuse (always
//! tested, no server needed), and, when `ORGSTORE_TEST_POSTGRES` is set, the commands on a fresh
//! schema and a store moved between the engines and back, byte for byte.

use serde_json::Value;

use crate::support::{postgres_url, record, run, run_with, write_lines, PgStore, Store};
use crate::transfer::populated;

/// A URL where no server listens, with a password that must never be shown.
const NOWHERE: &str = "postgres://app:hunter2@127.0.0.1:1/none?sslmode=disable";

#[test]
fn compact_and_backup_refuse_a_postgres_store_before_connecting() {
    let s = Store::new();
    for (command, args, instead) in [
        ("compact", vec![], "VACUUM"),
        ("backup", vec![s.path("copy.redb")], "pg_dump"),
    ] {
        let mut all = vec![command, "--postgres", NOWHERE];
        all.extend(args.iter().map(|p| p.to_str().unwrap()));
        let out = run(&all);
        // 6 (FAILED_PRECONDITION), not 11: no connection was tried.
        let err = out.error(6);
        let message = err["message"].as_str().unwrap();
        assert!(
            message.contains("works on store files (--db) only"),
            "{err}"
        );
        assert!(message.contains(instead), "{err}");
        assert!(
            message.contains("postgres://app:***@127.0.0.1:1/none"),
            "{err}"
        );
        assert!(!out.stderr.contains("hunter2"), "{out:#?}");
    }
    assert!(!s.path("copy.redb").exists());
}

#[test]
fn postgres_and_file_flags_do_not_mix() {
    for args in [
        &["get", "--postgres", NOWHERE, "--db", "x.redb", "org_1"][..],
        &["get", "--postgres", NOWHERE, "--multi-process", "org_1"],
        &["check", "--postgres", NOWHERE, "--no-verify"],
        &["list", "--postgres-schema", "tenants"],
    ] {
        let out = run(args);
        assert_eq!(out.code, 2, "usage error for {args:?}: {out:#?}");
        assert!(!out.stderr.contains("hunter2"), "{out:#?}");
    }
}

#[test]
fn an_unreachable_postgres_server_is_internal_and_named_without_its_password() {
    let out = run(&["get", "--postgres", NOWHERE, "org_1"]);
    let err = out.error(11);
    assert_eq!(err["code"], "INTERNAL");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "cannot open postgres://app:***@127.0.0.1:1/none?sslmode=disable (schema orgstore)"
        ),
        "{err}"
    );
    assert!(!out.stderr.contains("hunter2"), "{out:#?}");
    // The URL may come from the environment instead.
    let out = std::process::Command::new(crate::support::BIN)
        .args(["stats"])
        .env("ORGSTORE_POSTGRES", NOWHERE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(11), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("app:***@127.0.0.1:1"));
}

#[test]
fn serve_on_postgres_refuses_what_it_cannot_have() {
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--postgres", NOWHERE];
        args.extend_from_slice(extra);
        let out = std::process::Command::new(crate::support::BIN)
            .args(&args)
            .env_remove("ORGSTORE_CLIENT_ID")
            .env_remove("ORGSTORE_CLIENT_SECRET")
            .env_remove("ORGSTORE_TOKEN_KEY")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    let stderr = serve(&[]);
    assert!(
        stderr.contains("give --client-id, --client-secret and --token-key"),
        "{stderr}"
    );
    let given = [
        "--client-id",
        "skc_1",
        "--client-secret",
        "s3cret",
        "--token-key",
        "a token key of at least thirty-two bytes",
    ];
    let stderr = serve(&[&given[..], &["--multi-process"]].concat());
    assert!(
        stderr.contains("--multi-process does not apply"),
        "{stderr}"
    );
    let stderr = serve(&given);
    assert!(
        stderr.contains("cannot open the store postgres://app:***@127.0.0.1:1/none"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_store_moves_from_a_file_to_postgres_and_back_byte_for_byte() {
    let Some(url) = postgres_url() else {
        eprintln!("skipped: ORGSTORE_TEST_POSTGRES is not set");
        return;
    };
    let file = Store::new();
    let count = populated(&file);
    let from_file = file.cli("export", &[]);
    assert_eq!(from_file.code, 0, "{from_file:#?}");
    assert_eq!(from_file.stdout.lines().count(), count);

    // A dry run on PostgreSQL checks every line and writes nothing.
    let pg = PgStore::new(&url);
    let dry = pg.cli_with(
        "import",
        &["--dry-run", "--json", "-"],
        from_file.stdout.as_bytes(),
    );
    assert_eq!(dry.code, 0, "{dry:#?}");
    let summary = &dry.stderr_json()[0];
    assert_eq!(
        (&summary["dry_run"], &summary["imported"]),
        (&Value::from(true), &Value::from(count))
    );
    assert_eq!(pg.cli("export", &[]).stdout, "", "nothing written");

    // Through a real pipe: export from the file | import into PostgreSQL.
    let piped = std::process::Command::new("sh")
        .args([
            "-c",
            r#""$0" export --db "$1" | "$0" import --json --postgres "$2" --postgres-schema "$3" -"#,
            crate::support::BIN,
            file.db(),
            &pg.url,
            &pg.schema,
        ])
        .env_remove("ORGSTORE_POSTGRES")
        .output()
        .unwrap();
    assert!(piped.status.success(), "{piped:?}");
    let stderr = String::from_utf8(piped.stderr).unwrap();
    let summary: Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(summary["imported"], count, "{summary}");
    assert_eq!(summary["complete"], true, "{summary}");

    let from_pg = pg.cli("export", &[]);
    assert_eq!(from_pg.code, 0, "{from_pg:#?}");
    assert_eq!(from_pg.stdout, from_file.stdout, "byte for byte");

    // The counts and the index audit agree on PostgreSQL.
    let stats = pg.cli("stats", &[]).json();
    assert_eq!(stats["engine"], "postgres");
    assert_eq!(stats["organizations"]["total"], count);
    assert_eq!(stats["file_size"], Value::Null);
    let file_stats = file.cli("stats", &[]).json();
    assert_eq!(stats["organizations"], file_stats["organizations"]);
    let check = pg.cli("check", &[]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["integrity"], "not applicable");
    assert_eq!(check["indexes"], "consistent");
    assert_eq!(check["organizations"], count);

    // And back: PostgreSQL → a new file → the same bytes again; importing twice changes
    // nothing.
    let back = Store::new();
    let out = back.cli_with("import", &["-"], from_pg.stdout.as_bytes());
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(back.cli("export", &[]).stdout, from_file.stdout);
    let again = pg.cli_with("import", &["--json", "-"], from_file.stdout.as_bytes());
    assert_eq!(again.code, 0, "{again:#?}");
    let summary = &again.stderr_json()[0];
    assert_eq!(
        (&summary["imported"], &summary["unchanged"]),
        (&Value::from(0), &Value::from(count))
    );
}

#[test]
fn every_admin_command_on_postgres() {
    let Some(url) = postgres_url() else {
        eprintln!("skipped: ORGSTORE_TEST_POSTGRES is not set");
        return;
    };
    let pg = PgStore::new(&url);
    let org = pg
        .cli(
            "create",
            &[
                "--display-name",
                "Acme",
                "--external-id",
                "acme-1",
                "--slug",
                "acme",
                "--region",
                "EU",
            ],
        )
        .json();
    let id = org["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("org_"));
    for key in [
        vec![id.as_str()],
        vec!["--external-id", "acme-1"],
        vec!["--slug", "acme"],
    ] {
        assert_eq!(pg.cli("get", &key).json(), org, "get {key:?}");
    }
    // Clashes and absences have the same codes as on a file.
    let err = pg
        .cli("create", &["--display-name", "Copy", "--slug", "acme"])
        .error(5);
    assert_eq!(err["code"], "ALREADY_EXISTS");
    assert_eq!(
        pg.cli("get", &["--external-id", "nobody"]).error(4)["code"],
        "NOT_FOUND"
    );

    let updated = pg
        .cli(
            "update",
            &[
                "--external-id",
                "acme-1",
                "--display-name",
                "Acme Inc",
                "--metadata",
                "plan=pro",
            ],
        )
        .json();
    assert_eq!(updated["display_name"], "Acme Inc");
    assert_eq!(updated["metadata"]["plan"], "pro");
    assert_eq!(updated["create_time"], org["create_time"]);
    pg.cli("create", &["--display-name", "Globex"]).json();
    let page = pg.cli("list", &["--page-size", "1"]).json();
    assert_eq!(page["total_size"], 2);
    assert_eq!(
        page["organizations"][0]["display_name"], "Globex",
        "newest first"
    );
    let eu = pg.cli("list", &["--region", "EU"]).json();
    assert_eq!(eu["total_size"], 1);
    let removed = pg.cli("delete", &["--slug", "acme"]).json();
    assert_eq!(removed["id"], id.as_str());
    assert_eq!(pg.cli("get", &[&id]).error(4)["code"], "NOT_FOUND");
    let stats = pg.cli("stats", &[]).json();
    assert_eq!(stats["organizations"]["total"], 1);
    assert_eq!(stats["organizations"]["by_region"]["EU"], 0);
    assert!(
        stats["db"].as_str().unwrap().contains(&pg.schema),
        "{stats}"
    );
    // Another schema of the same database is another store.
    let other = PgStore::new(&url);
    assert_eq!(other.cli("stats", &[]).json()["organizations"]["total"], 0);
}

#[test]
fn concurrent_imports_into_one_postgres_store_retry_their_conflicts() {
    let Some(url) = postgres_url() else {
        eprintln!("skipped: ORGSTORE_TEST_POSTGRES is not set");
        return;
    };
    let pg = PgStore::new(&url);
    let s = Store::new();
    const N: u32 = 1500;
    let lines: Vec<String> = (1..=N)
        .map(|n| record(n, if n % 2 == 0 { "EU" } else { "US" }))
        .collect();
    let file = s.path("many.jsonl");
    write_lines(&file, &lines);
    // Three imports of the same lines at once: their batches write the same keys, so they
    // conflict; each conflicting batch is written again, and every import completes.
    let imports: Vec<_> = (0..3)
        .map(|_| {
            let mut args = vec![
                "import".to_owned(),
                "--json".to_owned(),
                "--batch".to_owned(),
                "25".to_owned(),
            ];
            args.extend(pg.flags().iter().map(|a| (*a).to_owned()));
            args.push(file.to_str().unwrap().to_owned());
            std::thread::spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run_with(&args, b"")
            })
        })
        .collect();
    let mut retried = 0;
    for import in imports {
        let out = import.join().unwrap();
        assert_eq!(out.code, 0, "{out:#?}");
        let summary = &out.stderr_json()[0];
        assert_eq!(summary["complete"], true, "{summary}");
        assert_eq!(
            summary["imported"].as_u64().unwrap() + summary["unchanged"].as_u64().unwrap(),
            u64::from(N),
            "{summary}"
        );
        retried += summary["retried"].as_u64().unwrap();
    }
    assert!(retried > 0, "the imports conflicted at least once");
    // Every line is stored once, as it was given.
    let exported = pg.cli("export", &[]);
    assert_eq!(exported.code, 0, "{exported:#?}");
    let parse = |line: &str| serde_json::from_str::<orgstore::Organization>(line).unwrap();
    let mut stored: Vec<orgstore::Organization> = exported.stdout.lines().map(parse).collect();
    let mut given: Vec<orgstore::Organization> = lines.iter().map(|l| parse(l)).collect();
    stored.sort_by(|a, b| a.id.cmp(&b.id));
    given.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(stored, given);
    assert_eq!(pg.cli("check", &[]).json()["organizations"], N);
}
