//! The server started in-process on a free loopback port, driven by real clients: reqwest for
//! REST and the token endpoint, a tonic client generated from the same protos for gRPC, and a
//! raw TCP client for gRPC over HTTP/1.1.

#![allow(clippy::pedantic, clippy::unwrap_used, missing_docs)] // test code: plain over pedantic

mod auth;
mod common;
mod grpc;
mod http1_grpc;
mod limits;
mod rest;
mod seed;
mod shutdown;
mod tls;
