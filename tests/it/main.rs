//! Integration tests, one module per feature. In-memory stores for speed; temp files where a
//! test reopens.

// The pedantic group and the ban on `unwrap` guard the library; tests favour plain code.
#![allow(clippy::pedantic, clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod support;

mod backup;
mod crud;
mod format;
mod json;
mod opening;
mod pagination;
mod regions;
mod sharing;
mod transactions;
mod uniqueness;
mod update;
mod validation;
