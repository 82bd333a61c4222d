//! The admin sub-commands of `orgstore`, run through the built binary: their JSON output,
//! their JSON errors and exit codes, import and export, and sharing a file with a running
//! `orgstore serve`; the same commands on a PostgreSQL store, and a store moved between the
//! engines (those on a server only when `ORGSTORE_TEST_POSTGRES` holds a connection URL; each
//! test then has a schema of its own).

#![allow(clippy::pedantic, clippy::unwrap_used, missing_docs)] // test code: plain over pedantic

mod admin;
mod crud;
mod postgres;
mod progress;
mod shared;
mod support;
mod transfer;
