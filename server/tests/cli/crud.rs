//! create, get, list, update, delete: JSON out, JSON errors and their exit codes.

use orgstore::{ListRequest, Order, Region};
use serde_json::{json, Value};

use crate::support::{run, Store};

#[test]
fn create_prints_the_organization_and_get_finds_it_by_every_key() {
    let s = Store::new();
    let org = s.create(&[
        "--display-name",
        "Acme Ünïcødé",
        "--external-id",
        "acme-1",
        "--slug",
        "acme",
        "--logo-url",
        "https://acme.example/logo.png",
        "--region",
        "EU",
        "--metadata",
        "plan=pro",
        "--metadata",
        "query=a=b",
        "--setting",
        "sso=true",
        "--setting",
        "beta=false",
    ]);
    assert!(org["id"].as_str().unwrap().starts_with("org_"));
    assert_eq!(org["display_name"], "Acme Ünïcødé");
    assert_eq!(org["external_id"], "acme-1");
    assert_eq!(org["slug"], "acme");
    assert_eq!(org["logo_url"], "https://acme.example/logo.png");
    assert_eq!(org["region_code"], "EU");
    assert_eq!(org["metadata"], json!({"plan": "pro", "query": "a=b"}));
    assert_eq!(
        org["settings"],
        json!({"features": [{"name": "sso", "enabled": true}, {"name": "beta", "enabled": false}]})
    );
    let id = org["id"].as_str().unwrap();
    for key in [
        vec![id],
        vec!["--external-id", "acme-1"],
        vec!["--slug", "acme"],
    ] {
        assert_eq!(s.cli("get", &key).json(), org, "get {key:?}");
    }
    // The output is the library's own serialization of the stored record.
    let out = s.cli("get", &[id]);
    let stored = s.open().get(id).unwrap().unwrap();
    assert_eq!(
        out.stdout,
        format!("{}\n", serde_json::to_string(&stored).unwrap())
    );
    // The region flag takes either case; the default is US.
    let us = s.create(&["--display-name", "Globex"]);
    assert_eq!(us["region_code"], "US");
    let eu = s.create(&["--display-name", "Initech", "--region", "eu"]);
    assert_eq!(eu["region_code"], "EU");
}

#[test]
fn create_errors_have_their_codes() {
    let s = Store::new();
    s.create(&[
        "--display-name",
        "Acme",
        "--external-id",
        "acme-1",
        "--slug",
        "acme",
    ]);

    let err = s
        .cli(
            "create",
            &["--display-name", "Copy", "--external-id", "acme-1"],
        )
        .error(5);
    assert_eq!(err["code"], "ALREADY_EXISTS");
    assert!(err["message"].as_str().unwrap().contains("already exists"));
    assert!(err["message"].as_str().unwrap().contains("external_id"));
    let err = s
        .cli("create", &["--display-name", "Copy", "--slug", "acme"])
        .error(5);
    assert!(err["message"].as_str().unwrap().contains("slug"));

    // Every broken rule at once, the CLI's own (a key given twice) and the library's.
    let err = s
        .cli(
            "create",
            &[
                "--display-name",
                "",
                "--slug",
                "Not A Slug",
                "--logo-url",
                "http://insecure.example",
                "--metadata",
                "plan=a",
                "--metadata",
                "plan=b",
                "--setting",
                "sso=true",
                "--setting",
                "sso=false",
            ],
        )
        .error(3);
    assert_eq!(err["code"], "INVALID_ARGUMENT");
    let fields: Vec<&str> = err["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    for field in [
        "metadata[plan]",
        "settings[sso]",
        "display_name",
        "slug",
        "logo_url",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let v = &err["violations"][0];
    assert!(v["constraint"].is_string() && v["description"].is_string());
    assert_eq!(s.open().count(None).unwrap(), 1, "nothing written");

    // Malformed flags are usage errors (clap's text, exit code 2).
    for args in [
        vec!["--display-name", "X", "--region", "ASIA"],
        vec!["--display-name", "X", "--metadata", "novalue"],
        vec!["--display-name", "X", "--setting", "sso=maybe"],
        vec!["--external-id", "no-name"],
    ] {
        let out = s.cli("create", &args);
        assert_eq!(out.code, 2, "{args:?}: {out:#?}");
        assert!(out.stderr.starts_with("error:"), "clap's message: {out:#?}");
    }
}

#[test]
fn get_errors_have_their_codes() {
    let s = Store::new();
    s.create(&["--display-name", "Acme"]);
    let err = s.cli("get", &["org_01JD8Z3V7W8Q2M4N6P8R0T2V4X"]).error(4);
    assert_eq!(err["code"], "NOT_FOUND");
    assert_eq!(
        err["message"],
        "organization not found: id org_01JD8Z3V7W8Q2M4N6P8R0T2V4X"
    );
    let err = s.cli("get", &["--external-id", "nobody"]).error(4);
    assert_eq!(
        err["message"],
        "organization not found: external_id \"nobody\""
    );
    let err = s.cli("get", &["--slug", "nobody"]).error(4);
    assert_eq!(err["message"], "organization not found: slug \"nobody\"");

    let err = s.cli("get", &["acme"]).error(3);
    assert_eq!(err["code"], "INVALID_ARGUMENT");
    assert_eq!(err["violations"][0]["field"], "id");

    // A key is required, and only one.
    assert_eq!(s.cli("get", &[]).code, 2);
    assert_eq!(s.cli("get", &["org_1", "--slug", "x"]).code, 2);

    // A missing store file is refused, and not created.
    let missing = s.path("missing.redb");
    let err = run(&["get", "--db", missing.to_str().unwrap(), "org_1"]).error(6);
    assert_eq!(err["code"], "FAILED_PRECONDITION");
    assert!(err["message"].as_str().unwrap().contains("no store file"));
    assert!(!missing.exists());
}

#[test]
fn list_prints_the_librarys_page_and_follows_tokens() {
    let s = Store::new();
    let mut ids = Vec::new();
    for n in 0..5 {
        let region = if n % 2 == 0 { "US" } else { "EU" };
        let org = s.create(&[
            "--display-name",
            &format!("Tenant {n}"),
            "--external-id",
            &format!("ext-{n}"),
            "--region",
            region,
        ]);
        ids.push(org["id"].as_str().unwrap().to_owned());
    }

    // Byte for byte what the library serializes for the same request.
    let out = s.cli("list", &["--page-size", "2", "--order", "oldest"]);
    let page = out.json();
    let expected = s
        .open()
        .list(&ListRequest::new().page_size(2).order(Order::OldestFirst))
        .unwrap();
    assert_eq!(
        out.stdout,
        format!("{}\n", serde_json::to_string(&expected).unwrap())
    );
    assert_eq!(page["total_size"], 5);
    assert_eq!(page["prev_page_token"], "");

    // Following next_page_token to the end gives every id once, oldest first.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = s
            .cli(
                "list",
                &[
                    "--page-size",
                    "2",
                    "--order",
                    "oldest",
                    "--page-token",
                    &token,
                ],
            )
            .json();
        for org in page["organizations"].as_array().unwrap() {
            seen.push(org["id"].as_str().unwrap().to_owned());
        }
        token = page["next_page_token"].as_str().unwrap().to_owned();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, ids);

    // Newest first by default; the region and external id filters.
    let page = s.cli("list", &[]).json();
    assert_eq!(page["organizations"][0]["id"], ids[4].as_str());
    let eu = s.cli("list", &["--region", "EU"]).json();
    assert_eq!(eu["total_size"], 2);
    assert!(eu["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["region_code"] == "EU"));
    let one = s.cli("list", &["--external-id", "ext-3"]).json();
    let orgs: &Vec<Value> = one["organizations"].as_array().unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["id"], ids[3].as_str());
    assert_eq!(
        s.open().count(Some(Region::Eu)).unwrap(),
        2,
        "the listing agrees with the count"
    );

    // A token of another listing, or garbage, is INVALID_ARGUMENT.
    let us_token = s
        .cli("list", &["--region", "US", "--page-size", "1"])
        .json()["next_page_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let err = s
        .cli("list", &["--region", "EU", "--page-token", &us_token])
        .error(3);
    assert!(err["message"].as_str().unwrap().contains("page token"));
    s.cli("list", &["--page-token", "!!!"]).error(3);
    assert_eq!(s.cli("list", &["--page-size", "-1"]).code, 2);
}

#[test]
fn update_changes_only_what_is_named() {
    let s = Store::new();
    let org = s.create(&[
        "--display-name",
        "Acme",
        "--external-id",
        "acme-1",
        "--slug",
        "acme",
        "--logo-url",
        "https://acme.example/a.png",
        "--metadata",
        "plan=pro",
        "--metadata",
        "trial=yes",
        "--setting",
        "sso=true",
        "--setting",
        "beta=true",
    ]);
    let id = org["id"].as_str().unwrap();

    let updated = s.cli("update", &[id, "--display-name", "Acme Inc"]).json();
    assert_eq!(updated["display_name"], "Acme Inc");
    assert_eq!(updated["slug"], "acme");
    assert_eq!(updated["metadata"], org["metadata"]);
    assert_ne!(updated["update_time"], org["update_time"]);

    // By external id: rename the key, merge and remove metadata, toggle and remove settings.
    let updated = s
        .cli(
            "update",
            &[
                "--external-id",
                "acme-1",
                "--set-external-id",
                "acme-2",
                "--metadata",
                "plan=enterprise",
                "--metadata",
                "region=north",
                "--remove-metadata",
                "trial",
                "--setting",
                "sso=false",
                "--setting",
                "audit=true",
                "--remove-setting",
                "beta",
            ],
        )
        .json();
    assert_eq!(updated["external_id"], "acme-2");
    assert_eq!(
        updated["metadata"],
        json!({"plan": "enterprise", "region": "north"})
    );
    assert_eq!(
        updated["settings"],
        json!({"features": [{"name": "sso", "enabled": false}, {"name": "audit", "enabled": true}]})
    );
    assert_eq!(s.cli("get", &["--external-id", "acme-2"]).json(), updated);
    s.cli("get", &["--external-id", "acme-1"]).error(4);

    // Clearing.
    let cleared = s
        .cli(
            "update",
            &[
                id,
                "--clear-external-id",
                "--clear-slug",
                "--clear-logo-url",
                "--clear-metadata",
            ],
        )
        .json();
    for field in ["external_id", "slug", "logo_url"] {
        assert!(cleared.get(field).is_none(), "{field}: {cleared}");
    }
    assert_eq!(cleared["metadata"], json!({}));
    // --clear-metadata with --metadata replaces the map.
    let replaced = s
        .cli(
            "update",
            &[id, "--clear-metadata", "--metadata", "only=this"],
        )
        .json();
    assert_eq!(replaced["metadata"], json!({"only": "this"}));
    // An update that changes nothing writes nothing.
    let same = s.cli("update", &[id, "--metadata", "only=this"]).json();
    assert_eq!(same, replaced);
    assert_eq!(s.cli("get", &[id]).json(), replaced);
}

#[test]
fn update_errors_have_their_codes() {
    let s = Store::new();
    let org = s.create(&["--display-name", "Acme", "--external-id", "acme-1"]);
    s.create(&["--display-name", "Globex", "--slug", "globex"]);
    let id = org["id"].as_str().unwrap();

    let err = s
        .cli(
            "update",
            &["org_01JD8Z3V7W8Q2M4N6P8R0T2V4X", "--display-name", "X"],
        )
        .error(4);
    assert_eq!(err["code"], "NOT_FOUND");
    s.cli(
        "update",
        &["--external-id", "nobody", "--display-name", "X"],
    )
    .error(4);
    let err = s.cli("update", &[id, "--display-name", ""]).error(3);
    assert_eq!(err["violations"][0]["field"], "display_name");
    let err = s.cli("update", &[id, "--slug", "globex"]).error(5);
    assert_eq!(err["code"], "ALREADY_EXISTS");
    // A name both set and removed, or set twice: refused rather than guessed.
    let err = s
        .cli(
            "update",
            &[id, "--setting", "sso=true", "--remove-setting", "sso"],
        )
        .error(3);
    assert_eq!(err["violations"][0]["field"], "settings[sso]");
    assert_eq!(err["violations"][0]["constraint"], "repeated.unique");
    s.cli(
        "update",
        &[id, "--metadata", "plan=a", "--remove-metadata", "plan"],
    )
    .error(3);
    assert_eq!(s.cli("get", &[id]).json(), org, "nothing changed");

    // Usage: no change, no key, or a field both set and cleared.
    assert_eq!(s.cli("update", &[id]).code, 2);
    assert_eq!(s.cli("update", &["--display-name", "X"]).code, 2);
    assert_eq!(
        s.cli("update", &[id, "--slug", "x", "--clear-slug"]).code,
        2
    );
}

#[test]
fn delete_prints_what_it_removed() {
    let s = Store::new();
    let a = s.create(&["--display-name", "A", "--external-id", "a-1"]);
    let b = s.create(&["--display-name", "B", "--external-id", "b-1"]);
    let c = s.create(&["--display-name", "C", "--slug", "c-org"]);

    assert_eq!(s.cli("delete", &[a["id"].as_str().unwrap()]).json(), a);
    assert_eq!(s.cli("delete", &["--external-id", "b-1"]).json(), b);
    assert_eq!(s.cli("delete", &["--slug", "c-org"]).json(), c);
    assert_eq!(s.open().count(None).unwrap(), 0);

    let err = s.cli("delete", &[a["id"].as_str().unwrap()]).error(4);
    assert_eq!(err["code"], "NOT_FOUND");
    s.cli("delete", &["--external-id", "b-1"]).error(4);
    s.cli("delete", &["--slug", "c-org"]).error(4);
    s.cli("delete", &["not-an-id"]).error(3);
    // The external id is free again.
    s.create(&["--display-name", "A again", "--external-id", "a-1"]);
}
