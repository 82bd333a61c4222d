//! The serde JSON form is Scalekit's wire form.

use orgstore::{NewOrganization, OrgStore, Organization};
use serde_json::json;
use time::macros::datetime;

use crate::support::create;

#[test]
fn json_matches_the_wire_form() {
    let s = OrgStore::builder()
        .clock(|| datetime!(2025-02-15 06:23:44.56 UTC))
        .in_memory()
        .expect("store");
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
    let s = OrgStore::in_memory().expect("store");
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
    let s = OrgStore::in_memory().expect("store");
    create(&s, NewOrganization::new("A"));
    let page = s.list(&orgstore::ListRequest::new()).expect("list");
    let value = serde_json::to_value(&page).expect("json");
    assert_eq!(value["next_page_token"], "");
    assert_eq!(value["prev_page_token"], "");
    assert_eq!(value["total_size"], 1);
    assert_eq!(value["organizations"].as_array().map(Vec::len), Some(1));
}
