//! The serde JSON form is Scalekit's wire form.

use orgstore::{NewOrganization, OrgStore, Organization};
use serde_json::json;
use time::macros::datetime;

use crate::support::create;

#[test]
fn json_matches_the_wire_form() {
    let s =
        crate::support::open(OrgStore::builder().clock(|| datetime!(2025-02-15 06:23:44.56 UTC)));
    let org = create(
        &s,
        NewOrganization::new("Megasoft")
            .external_id("my_unique_id")
            .slug("megasoft")
            .logo_url("https://cdn.example.com/acme-logo.png")
            .metadata("industry", "technology")
            .setting("sso", true)
            .setting("dir_sync", false),
    );
    let value = serde_json::to_value(&org).expect("json");
    assert_eq!(
        value,
        json!({
            "id": org.id.as_str(),
            "create_time": "2025-02-15T06:23:44.560000Z",
            "update_time": "2025-02-15T06:23:44.560000Z",
            "display_name": "Megasoft",
            "region_code": "US",
            "external_id": "my_unique_id",
            "metadata": {"industry": "technology"},
            "settings": {"features": [
                {"name": "sso", "enabled": true},
                {"name": "dir_sync", "enabled": false}
            ]},
            "slug": "megasoft",
            "logo_url": "https://cdn.example.com/acme-logo.png"
        })
    );
    let back: Organization = serde_json::from_value(value).expect("parse");
    assert_eq!(back, org);
}

#[test]
fn empty_and_absent_fields() {
    let s = crate::support::store();
    let org = create(&s, NewOrganization::new("A"));
    let value = serde_json::to_value(&org).expect("json");
    let keys: Vec<&str> = value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "create_time",
            "display_name",
            "id",
            "metadata",
            "region_code",
            "update_time"
        ]
    );
    assert_eq!(value["metadata"], json!({}));
    let time = value["create_time"].as_str().expect("string");
    assert!(
        time.ends_with('Z') && time.len() == "2025-02-15T06:23:44.560000Z".len(),
        "{time}"
    );
}

#[test]
fn scalekit_documents_parse_including_other_offsets_and_precisions() {
    let doc = json!({
        "id": "org_64444217115541813",
        "create_time": "2025-03-20T13:55:46.690Z",
        "update_time": "2025-03-21T07:55:03.416772+02:00",
        "display_name": "Looney Corp",
        "region_code": "US",
        "external_id": "my_unique_id",
        "metadata": {}
    });
    let org: Organization = serde_json::from_value(doc).expect("parse");
    assert_eq!(org.update_time, datetime!(2025-03-21 05:55:03.416772 UTC));
    assert!(org.settings.is_empty() && org.slug.is_none());
    let bad_region = json!({
        "id": "org_1", "create_time": "2025-03-20T13:55:46Z", "update_time": "2025-03-20T13:55:46Z",
        "display_name": "x", "region_code": "APAC", "metadata": {}
    });
    assert!(serde_json::from_value::<Organization>(bad_region).is_err());
    let bad_id = json!({
        "id": "tenant-1", "create_time": "2025-03-20T13:55:46Z", "update_time": "2025-03-20T13:55:46Z",
        "display_name": "x", "region_code": "US", "metadata": {}
    });
    assert!(serde_json::from_value::<Organization>(bad_id).is_err());
}

#[test]
fn a_page_serializes_like_the_list_response() {
    let s = crate::support::store();
    create(&s, NewOrganization::new("A"));
    let page = s.list(&orgstore::ListRequest::new()).expect("list");
    let value = serde_json::to_value(&page).expect("json");
    assert_eq!(value["next_page_token"], "");
    assert_eq!(value["prev_page_token"], "");
    assert_eq!(value["total_size"], 1);
    assert_eq!(value["organizations"].as_array().map(Vec::len), Some(1));
}

/// A timestamp valid in its own offset but past year 9999 in UTC made deserializing panic
/// inside `time` (and serializing such a value too). Both are errors now, and an import of
/// such a record is refused.
#[test]
fn regression_a_time_beyond_year_9999_in_utc_is_an_error_not_a_panic() {
    let text = |t: &str| {
        format!(
            r#"{{"id": "org_1", "create_time": "{t}", "update_time": "{t}",
                "display_name": "A", "region_code": "US", "metadata": {{}}}}"#
        )
    };
    for t in ["9999-12-31T23:59:59-01:00", "9999-12-31T23:00:00.5-23:59"] {
        let e = serde_json::from_str::<Organization>(&text(t)).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{t}: {e}");
    }
    assert!(serde_json::from_str::<Organization>(&text("9999-12-31T23:59:59+01:00")).is_ok());

    // The last second of year 9999 an hour west of UTC: an hour into year 10000 in UTC.
    let late = datetime!(9999-12-31 23:59:59).assume_offset(time::macros::offset!(-1));
    let mut org = Organization::new(
        "org_1".parse().expect("id"),
        "A",
        orgstore::Region::Us,
        datetime!(2025-01-01 00:00 UTC),
    );
    org.update_time = late;
    assert!(
        serde_json::to_string(&org).is_err(),
        "an error, not a panic"
    );
    let s = crate::support::store();
    let e = s.import(org).unwrap_err();
    assert_eq!(e.violations()[0].field(), "update_time", "{e}");
    assert_eq!(e.violations()[0].constraint(), "timestamp.range");
}

/// Scalekit's gateway writes proto3 JSON: an unset message or map as `null`, `false` and empty
/// values left out. Mirroring such records failed to deserialize.
#[test]
fn regression_scalekit_json_with_nulls_and_omitted_values_deserializes() {
    let base = json!({
        "id": "org_64444217115541813",
        "create_time": "2025-03-20T13:55:46.690Z",
        "update_time": "2025-03-21T05:55:03.416772Z",
        "display_name": "Looney Corp",
        "region_code": "US",
    });
    let with = |extra: serde_json::Value| {
        let mut v = base.clone();
        v.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        serde_json::from_value::<Organization>(v)
    };
    for extra in [
        json!({}),
        json!({"metadata": null, "settings": null}),
        json!({"settings": {}}),
        json!({"settings": {"features": null}}),
        json!({"external_id": null, "slug": null, "logo_url": null}),
        json!({"an_unknown_field": 1}),
    ] {
        let org = with(extra.clone()).unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert!(
            org.metadata.is_empty() && org.settings.is_empty(),
            "{extra}"
        );
    }
    let org = with(
        json!({"settings": {"features": [{"name": "dir_sync"}, {"name": "sso", "enabled": true}]}}),
    )
    .expect("toggle without enabled");
    assert_eq!(
        org.settings,
        [
            orgstore::FeatureToggle::new("dir_sync", false),
            orgstore::FeatureToggle::new("sso", true)
        ]
    );
    // Serialization is unchanged: settings omitted when empty, metadata always present.
    let plain = with(json!({"metadata": null})).expect("plain");
    let back = serde_json::to_value(&plain).expect("json");
    assert_eq!(back["metadata"], json!({}));
    assert!(back.get("settings").is_none());
}

#[test]
fn a_page_reads_back_from_its_json() {
    let s = crate::support::store();
    for i in 0..3 {
        create(
            &s,
            NewOrganization::new(format!("Org {i}")).setting("sso", i % 2 == 0),
        );
    }
    let page = s
        .list(&orgstore::ListRequest::new().page_size(2))
        .expect("list");
    let text = serde_json::to_string(&page).expect("json");
    let back: orgstore::Page = serde_json::from_str(&text).expect("page from json");
    assert_eq!(back, page);
}
