//! Probe: which table of a redb file holds the page that keeps the file from shrinking at close.
//!
//! ```text
//! cargo run --release -p bench-compare --bin fileprobe -- /path/to/file.redb
//! ```
//!
//! For the file as it is, then for each of its tables in turn, then for all of them, on a copy:
//! open, delete the table(s), commit, close, and print the size redb leaves. A table whose
//! deletion lets the file shrink holds a page near its end; if none does, the page is redb's own.

#![allow(clippy::unwrap_used)]

use redb::{Database, TableDefinition, TableHandle};

fn closed_size(path: &str, drop_tables: &[&str]) -> u64 {
    let copy = format!("{path}.probe");
    std::fs::copy(path, &copy).unwrap();
    {
        let db = Database::open(&copy).unwrap();
        if !drop_tables.is_empty() {
            let w = db.begin_write().unwrap();
            for name in drop_tables {
                w.delete_table(TableDefinition::<&[u8], &[u8]>::new(name))
                    .unwrap();
            }
            w.commit().unwrap();
            // Freed pages return to the allocator in the commits that follow.
            for _ in 0..2 {
                db.begin_write().unwrap().commit().unwrap();
            }
        }
    }
    let size = std::fs::metadata(&copy).unwrap().len();
    std::fs::remove_file(&copy).unwrap();
    size
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: fileprobe FILE");
    let names: Vec<String> = {
        let db = Database::open(&path).unwrap();
        let r = db.begin_write().unwrap();
        let names = r
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_string())
            .collect();
        r.abort().unwrap();
        names
    };
    println!("as it is: {} bytes", closed_size(&path, &[]));
    for name in &names {
        println!(
            "without {name}: {} bytes",
            closed_size(&path, &[name.as_str()])
        );
    }
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    println!("without any table: {} bytes", closed_size(&path, &all));
}
