//! Tenant-shaped data and the timing helpers.

use std::collections::BTreeMap;
use std::time::Instant;

use orgstore::{NewOrganization, OrgId, Organization, Region};

/// One tenant, as every engine stores it.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// A ULID (time-ordered): the id every engine but OrgStore (which assigns its own) uses.
    pub id: u128,
    pub eu: bool,
    pub display_name: String,
    pub external_id: String,
    pub slug: Option<String>,
    pub metadata: Vec<(String, String)>,
    pub time_us: i64,
}

const WORDS: [&str; 16] = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Aperture",
    "Wonka",
    "Gringotts",
    "Monarch",
    "Vandelay",
    "Dunder",
];
const SUFFIXES: [&str; 6] = ["Inc", "GmbH", "Ltd", "Holdings", "Labs", "SAS"];
const META_KEYS: [&str; 10] = [
    "plan",
    "seats",
    "crm_id",
    "billing_email",
    "industry",
    "country",
    "owner",
    "tier",
    "renewal",
    "segment",
];

/// SplitMix64: a fixed, fast mixer for deterministic data.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn token(seed: u64, len: usize) -> String {
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|i| char::from(ALPHA[(mix(seed ^ (i as u64) << 8) % ALPHA.len() as u64) as usize]))
        .collect()
}

impl Tenant {
    /// Tenant number `i`: names, an external id of 16–24 characters, a slug for half of them,
    /// 0–10 metadata pairs, US and EU alternating.
    pub fn generate(i: u64) -> Tenant {
        let h = mix(i);
        let ms = 1_700_000_000_000 + i; // one millisecond apart: time-ordered ids
        let random = (u128::from(mix(h)) << 16) ^ u128::from(h & 0xFFFF);
        let name = format!(
            "{} {} {}",
            WORDS[(h % 16) as usize],
            SUFFIXES[((h >> 8) % 6) as usize],
            i
        );
        let slug = (h >> 20).is_multiple_of(2);
        Tenant {
            id: ulid::Ulid::from_parts(ms, random).0,
            eu: i % 2 == 1,
            external_id: format!("cus_{}_{i}", token(h, 10 + (h >> 12) as usize % 8)),
            slug: slug.then(|| {
                format!(
                    "{}-{i}",
                    name.split(' ').next().unwrap_or("org").to_lowercase()
                )
            }),
            metadata: (0..(h >> 24) % 11)
                .map(|m| {
                    (
                        META_KEYS[m as usize].to_string(),
                        token(h ^ m, 4 + (m as usize % 20)),
                    )
                })
                .collect(),
            display_name: name,
            time_us: (ms * 1000) as i64,
        }
    }

    pub fn to_new(&self) -> NewOrganization {
        let mut new = NewOrganization::new(&self.display_name)
            .external_id(&self.external_id)
            .region(if self.eu { Region::Eu } else { Region::Us });
        if let Some(s) = &self.slug {
            new = new.slug(s);
        }
        for (k, v) in &self.metadata {
            new = new.metadata(k, v);
        }
        new
    }

    /// The record OrgStore would store (for the engines that store OrgStore's value bytes).
    pub fn to_org(&self) -> Organization {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.time_us) * 1000)
            .expect("time");
        Organization {
            id: OrgId::parse(&format!("org_{}", ulid_text(self.id))).expect("id"),
            create_time: t,
            update_time: t,
            display_name: self.display_name.clone(),
            region_code: if self.eu { Region::Eu } else { Region::Us },
            external_id: Some(self.external_id.clone()),
            metadata: self.metadata.iter().cloned().collect::<BTreeMap<_, _>>(),
            settings: vec![],
            slug: self.slug.clone(),
            logo_url: None,
        }
    }
}

pub fn ulid_text(id: u128) -> String {
    ulid::Ulid(id).to_string()
}

/// Latencies of individual operations.
#[derive(Default)]
pub struct Samples(pub Vec<u64>);

impl Samples {
    pub fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0.push(start.elapsed().as_nanos() as u64);
        out
    }

    pub fn median(&mut self) -> u64 {
        self.percentile(50.0)
    }

    pub fn percentile(&mut self, p: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        self.0.sort_unstable();
        let i = ((self.0.len() - 1) as f64 * p / 100.0).round() as usize;
        self.0[i]
    }
}

/// Bytes this process has handed to write calls so far (`wchar` of Linux `/proc/self/io`: what
/// `strace` sums over `pwrite`s; each engine of the main benchmark runs in a process of its
/// own, and the concurrent benchmark runs one engine at a time).
pub fn io_written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The disk's price of one durable write, as a machine note: a 4 KiB write and `fdatasync` on
/// a temp file in `dir`, median of 200; `None` when the file cannot be made or written there.
pub fn fsync_note(dir: &std::path::Path) -> Option<String> {
    use std::io::Write as _;
    let mut f = tempfile::tempfile_in(dir).ok()?;
    let mut samples = Samples::default();
    for _ in 0..200 {
        samples
            .time(|| f.write_all(&[7u8; 4096]).and_then(|()| f.sync_data()))
            .ok()?;
    }
    Some(format!(
        "4 KiB write + fdatasync: median {} µs (disk of the temp directory)",
        samples.median() / 1000
    ))
}

/// Writes `rows` as pretty JSON to `path` (its folder created if missing), or to stdout.
pub fn write_json(rows: &impl serde::Serialize, path: Option<&std::path::Path>) {
    let text = serde_json::to_string_pretty(rows).expect("json");
    match path {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).expect("create the json's folder");
            }
            std::fs::write(path, text).expect("write json");
            eprintln!("wrote {}", path.display());
        }
        None => println!("{text}"),
    }
}

/// Where the benchmarks make their stores and temp files: `BENCH_DIR`, or the temp directory.
pub fn bench_dir() -> std::path::PathBuf {
    std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, std::path::PathBuf::from)
}
