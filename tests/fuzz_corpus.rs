//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and any saved crash inputs
//! (`fuzz/artifacts/<target>/`) through the same code the fuzz targets run, so every CI run
//! re-checks them without libFuzzer.
//!
//! `cargo test --release --features internals --test fuzz_corpus`

#![allow(clippy::pedantic, clippy::unwrap_used)] // test code: plain over pedantic

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

type Target = fn(&[u8]);

fn replay(target: &str, run: Target) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target}: {} fails", file.display());
            n += 1;
        }
    }
    n
}

#[test]
fn the_committed_fuzz_corpus_replays_cleanly() {
    let targets: [(&str, Target); 5] = [
        ("ops", harness::ops),
        ("decode_record", harness::decode_record),
        ("page_token", harness::page_token),
        ("validate", harness::validate),
        ("json", harness::json),
    ];
    let mut summary = Vec::new();
    for (name, run) in targets {
        let n = replay(name, run);
        assert!(n > 0, "no corpus for {name}");
        summary.push(format!("{name} {n}"));
    }
    eprintln!(
        "fuzz corpus: {} inputs replayed, 0 failures",
        summary.join(", ")
    );
}
