//! The schema and every statement, for one PostgreSQL schema (namespace). The only place that
//! knows table names. The SQL is kept to what CockroachDB and YugabyteDB accept too: plain
//! types (`bytea`, `text`, `smallint`, `bigint`), data-modifying CTEs, `= ANY($n)`, savepoints;
//! no advisory locks, no `LISTEN/NOTIFY`, no PostgreSQL-only types. (`generate_series` in the
//! set-up is accepted by both.)
//!
//! | table | key | columns |
//! |---|---|---|
//! | `meta` | `key text` | `value bigint` (`format_version` = 1) |
//! | `orgs_us`, `orgs_eu` | `id bytea` (id key) | `record bytea` (record bytes, [`crate::codec`]) |
//! | `unique_keys` | `(kind smallint, value text)` | `id bytea`, `region smallint` |
//! | `counts` | `(region smallint, stripe smallint)` | `n bigint` |
//!
//! `unique_keys` makes ids (kind 0), external ids (1) and slugs (2) unique across both regions
//! in the same transaction as the record; `counts` holds each region's count in 16 stripes, a
//! write touching one at random, so creates do not all wait for one hot row.

use crate::error::UniqueField;
use crate::id::Region;
use crate::list::Scan;

/// The format version of the tables this build writes and reads.
pub(crate) const FORMAT_VERSION: i64 = 1;

/// Count stripes per region.
pub(crate) const STRIPES: i16 = 16;

/// A connection's addresses as the server sees them: the client's (ours) and its own, as text
/// and port; NULL over a Unix-domain socket. Asked once per connection, to find its socket
/// ([`super::socket`]); a server that lacks these functions only means it is not found.
pub(crate) const ADDRESSES: &str = "SELECT host(inet_client_addr()), inet_client_port(), \
     host(inet_server_addr()), inet_server_port()";

pub(crate) fn kind(field: UniqueField) -> i16 {
    match field {
        UniqueField::ExternalId => 1,
        UniqueField::Slug => 2,
    }
}

pub(crate) fn region_code(region: Region) -> i16 {
    match region {
        Region::Us => 1,
        Region::Eu => 2,
    }
}

pub(crate) fn region_of(code: i16) -> Option<Region> {
    match code {
        1 => Some(Region::Us),
        2 => Some(Region::Eu),
        _ => None,
    }
}

fn table(region: Region) -> &'static str {
    match region {
        Region::Us => "orgs_us",
        Region::Eu => "orgs_eu",
    }
}

/// The statements of one schema.
pub(crate) struct Sql {
    schema: String,
    pub(crate) create: String,
    pub(crate) version: String,
    pub(crate) set_version: String,
    pub(crate) get: String,
    pub(crate) find: String,
    pub(crate) count: String,
    insert: [String; 2],
    replace: [String; 2],
    remove: [String; 2],
    pub(crate) audit_records: String,
    pub(crate) audit_keys: String,
    pub(crate) audit_counts: String,
}

impl Sql {
    #[allow(clippy::too_many_lines)] // the statement texts, one after the other
    pub(crate) fn new(schema: &str) -> Sql {
        let s = schema;
        let regions = Region::ALL;
        Sql {
            schema: s.to_owned(),
            create: format!(
                "CREATE SCHEMA IF NOT EXISTS {s};
                 CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value bigint NOT NULL);
                 CREATE TABLE IF NOT EXISTS {s}.orgs_us (id bytea PRIMARY KEY, record bytea NOT NULL);
                 CREATE TABLE IF NOT EXISTS {s}.orgs_eu (id bytea PRIMARY KEY, record bytea NOT NULL);
                 CREATE TABLE IF NOT EXISTS {s}.unique_keys (kind smallint NOT NULL, value text NOT NULL,
                     id bytea NOT NULL, region smallint NOT NULL, PRIMARY KEY (kind, value));
                 CREATE TABLE IF NOT EXISTS {s}.counts (region smallint NOT NULL, stripe smallint NOT NULL,
                     n bigint NOT NULL, PRIMARY KEY (region, stripe));
                 INSERT INTO {s}.counts (region, stripe, n)
                     SELECT r, st, 0 FROM generate_series(1, 2) AS r, generate_series(0, {}) AS st
                     ON CONFLICT DO NOTHING;
                 INSERT INTO {s}.meta (key, value) VALUES ('format_version', {FORMAT_VERSION})
                     ON CONFLICT DO NOTHING;",
                STRIPES - 1
            ),
            version: format!("SELECT value FROM {s}.meta WHERE key = 'format_version'"),
            set_version: format!(
                "UPDATE {s}.meta SET value = $1 WHERE key = 'format_version'"
            ),
            get: format!(
                "SELECT 1::smallint, record FROM {s}.orgs_us WHERE id = $1
                 UNION ALL SELECT 2::smallint, record FROM {s}.orgs_eu WHERE id = $1"
            ),
            find: format!(
                "SELECT k.region, k.id, COALESCE(u.record, e.record) FROM {s}.unique_keys k
                 LEFT JOIN {s}.orgs_us u ON k.region = 1 AND u.id = k.id
                 LEFT JOIN {s}.orgs_eu e ON k.region = 2 AND e.id = k.id
                 WHERE k.kind = $1 AND k.value = $2"
            ),
            count: format!(
                "SELECT COALESCE(SUM(n), 0)::bigint FROM {s}.counts WHERE region = ANY($1)"
            ),
            // $1 id text, $2 external id, $3 slug, $4 id key, $5 region, $6 stripe, $7 record.
            // Every key is checked first: a held one is returned and nothing is written.
            insert: regions.map(|r| {
                let t = table(r);
                format!(
                    "WITH taken AS (
                         SELECT kind, value, id FROM {s}.unique_keys
                         WHERE (kind = 0 AND value = $1) OR (kind = 1 AND value = $2)
                            OR (kind = 2 AND value = $3)
                     ), keys AS (
                         INSERT INTO {s}.unique_keys (kind, value, id, region)
                         SELECT v.kind, v.value, $4, $5
                         FROM (VALUES (0::smallint, $1::text), (1::smallint, $2::text),
                                      (2::smallint, $3::text)) AS v (kind, value)
                         WHERE v.value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM taken)
                     ), counted AS (
                         UPDATE {s}.counts SET n = n + 1
                         WHERE region = $5 AND stripe = $6 AND NOT EXISTS (SELECT 1 FROM taken)
                     ), written AS (
                         INSERT INTO {s}.{t} (id, record)
                         SELECT $4, $7 WHERE NOT EXISTS (SELECT 1 FROM taken)
                     )
                     SELECT kind, value, id FROM taken ORDER BY kind"
                )
            }),
            // $1/$2 the new external id / slug where they change (else NULL), $3/$4 the old
            // ones where they change, $5 id key, $6 region, $7 record.
            replace: regions.map(|r| {
                let t = table(r);
                format!(
                    "WITH taken AS (
                         SELECT kind, value, id FROM {s}.unique_keys
                         WHERE (kind = 1 AND value = $1) OR (kind = 2 AND value = $2)
                     ), dropped AS (
                         DELETE FROM {s}.unique_keys
                         WHERE ((kind = 1 AND value = $3) OR (kind = 2 AND value = $4))
                           AND NOT EXISTS (SELECT 1 FROM taken)
                     ), added AS (
                         INSERT INTO {s}.unique_keys (kind, value, id, region)
                         SELECT v.kind, v.value, $5, $6
                         FROM (VALUES (1::smallint, $1::text), (2::smallint, $2::text))
                             AS v (kind, value)
                         WHERE v.value IS NOT NULL AND NOT EXISTS (SELECT 1 FROM taken)
                     ), written AS (
                         UPDATE {s}.{t} SET record = $7
                         WHERE id = $5 AND NOT EXISTS (SELECT 1 FROM taken)
                     )
                     SELECT kind, value, id FROM taken ORDER BY kind"
                )
            }),
            // $1 id text, $2 external id, $3 slug, $4 id key, $5 region, $6 stripe.
            remove: regions.map(|r| {
                let t = table(r);
                format!(
                    "WITH keys AS (
                         DELETE FROM {s}.unique_keys
                         WHERE (kind = 0 AND value = $1) OR (kind = 1 AND value = $2)
                            OR (kind = 2 AND value = $3)
                     ), counted AS (
                         UPDATE {s}.counts SET n = n - 1 WHERE region = $5 AND stripe = $6
                     )
                     DELETE FROM {s}.{t} WHERE id = $4"
                )
            }),
            audit_records: format!(
                "SELECT 1::smallint, id, record FROM {s}.orgs_us
                 UNION ALL SELECT 2::smallint, id, record FROM {s}.orgs_eu"
            ),
            audit_keys: format!("SELECT kind, value, id, region FROM {s}.unique_keys"),
            audit_counts: format!(
                "SELECT region, COALESCE(SUM(n), 0)::bigint FROM {s}.counts GROUP BY region"
            ),
        }
    }

    pub(crate) fn insert(&self, region: Region) -> &str {
        &self.insert[region.index()]
    }

    pub(crate) fn replace(&self, region: Region) -> &str {
        &self.replace[region.index()]
    }

    pub(crate) fn remove(&self, region: Region) -> &str {
        &self.remove[region.index()]
    }

    /// One statement for a page: up to `$lim` rows (the page size plus one, to see whether
    /// more follow) of the regions beyond the cursor `$1`, merged by id; then one row
    /// (region 0) with the regions' total and whether any row lies behind the cursor. Each
    /// region's scan walks its primary key from the cursor: O(log n + page).
    pub(crate) fn page(&self, regions: &[Region], cursor: Option<bool>, scan: Scan) -> String {
        let s = &self.schema;
        let dir = match scan {
            Scan::Ascending => "ASC",
            Scan::Descending => "DESC",
        };
        // `cursor`: Some(inclusive). Parameters: $1 cursor (when there is one), then limit,
        // then the regions.
        let (ahead, behind, lim, rs) = match (cursor, scan) {
            (None, _) => (None, None, "$1", "$2"),
            (Some(false), Scan::Ascending) => (Some("id > $1"), Some("id <= $1"), "$2", "$3"),
            (Some(true), Scan::Ascending) => (Some("id >= $1"), Some("id < $1"), "$2", "$3"),
            (Some(false), Scan::Descending) => (Some("id < $1"), Some("id >= $1"), "$2", "$3"),
            (Some(true), Scan::Descending) => (Some("id <= $1"), Some("id > $1"), "$2", "$3"),
        };
        let filter = ahead.map_or(String::new(), |c| format!("WHERE {c}"));
        let scans: Vec<String> = regions
            .iter()
            .map(|r| {
                format!(
                    "(SELECT {}::smallint AS region, id, record FROM {s}.{} {filter}
                      ORDER BY id {dir} LIMIT {lim})",
                    region_code(*r),
                    table(*r)
                )
            })
            .collect();
        let behind = match behind {
            None => "false".to_owned(),
            Some(c) => regions
                .iter()
                .map(|r| format!("EXISTS (SELECT 1 FROM {s}.{} WHERE {c})", table(*r)))
                .collect::<Vec<_>>()
                .join(" OR "),
        };
        format!(
            "SELECT region, id, record, NULL::bigint, NULL::bool FROM (
                 SELECT region, id, record FROM ({}) AS scans ORDER BY id {dir} LIMIT {lim}
             ) AS page
             UNION ALL
             SELECT 0::smallint, NULL::bytea, NULL::bytea,
                 (SELECT COALESCE(SUM(n), 0)::bigint FROM {s}.counts WHERE region = ANY({rs})),
                 {behind}",
            scans.join(" UNION ALL ")
        )
    }
}

/// Whether `name` can name a schema as it is written in the statements (unquoted, lower case).
pub(crate) fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63
}
