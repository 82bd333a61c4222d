//! The server started in-process on a free loopback port, driven by real clients: reqwest for
//! REST and the token endpoint, a tonic client generated from the same protos for gRPC, and a
//! raw TCP client for gRPC over HTTP/1.1.
//!
//! With `ORGSTORE_TEST_POSTGRES` set to a PostgreSQL connection URL, every test server that is
//! not about the store file itself runs on a fresh schema of that database instead of a file
//! (see `common`), and the `postgres` module's tests of the shared store run too.

#![allow(clippy::pedantic, clippy::unwrap_used, missing_docs)] // test code: plain over pedantic

mod auth;
mod common;
mod grpc;
mod http1_grpc;
mod limits;
mod postgres;
mod rest;
mod seed;
mod shutdown;
mod tls;
