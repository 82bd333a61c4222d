//! The admin sub-commands of `orgstore`, run through the built binary: their JSON output,
//! their JSON errors and exit codes, import and export, and sharing a file with a running
//! `orgstore serve`.

#![allow(clippy::pedantic, clippy::unwrap_used, missing_docs)] // test code: plain over pedantic

mod admin;
mod crud;
mod progress;
mod shared;
mod support;
mod transfer;
