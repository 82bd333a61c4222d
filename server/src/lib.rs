//! `orgstore serve`: Scalekit's organization API, served over an OrgStore file or, with
//! `--postgres URL`, over a PostgreSQL store shared by several servers.
//!
//! One port speaks HTTP/1.1 and HTTP/2 (cleartext h2c, or TLS with ALPN `h2`/`http/1.1`) and
//! serves two surfaces over one store:
//!
//! - **gRPC**, `scalekit.v1.organizations.OrganizationService`, as Scalekit's official SDKs
//!   call it: create, get (by id or external id), list, update (by id or external id), delete,
//!   update settings; the service's other methods answer UNIMPLEMENTED. Errors carry
//!   `grpc-status-details-bin` with Scalekit's `ErrorInfo`. gRPC over HTTP/1.1 with trailers
//!   works as well as over HTTP/2.
//! - **REST**, `/api/v1/organizations…`, with the library's JSON form of an organization and
//!   errors as `{"code", "message", "details"}`.
//!
//! Both need a bearer token from `POST /oauth/token` (OAuth2 client credentials). `GET
//! /health` tells readiness.
//!
//! The store is a file (`--db`, the embedded engine), or a PostgreSQL store (`--postgres`,
//! [`postgres`]; the `postgres` feature, on by default in this crate). On PostgreSQL two more
//! answers exist: `ABORTED` (409 / gRPC 10, a write that lost a race and did nothing: safe to
//! send again) and `OUTCOME_UNKNOWN` (500 / gRPC 2, a write whose outcome is not known: read
//! the organization it names back first); see [`error`].
//!
//! The crate is laid out one concern per module: the surfaces ([`rest`], [`grpc`]) only
//! convert ([`convert`]), call the shared operations ([`ops`]) and map errors ([`error`]);
//! [`auth`], [`tls`], [`logging`], [`limits`] and [`body`] are small and separate;
//! [`postgres`] holds the PostgreSQL store's settings and the one place that connects;
//! [`server`] holds the listener and the shutdown.
//!
//! # Examples
//!
//! Start a server in-process on a free port, get a token, create an organization over REST:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use orgstore_server::{Server, ServeConfig};
//!
//! let mut config = ServeConfig::new("orgs.redb");
//! config.listen = "127.0.0.1:0".parse()?;
//! let server = Server::start(config).await?;
//! let creds = server.credentials().clone();
//! println!("POST http://{}/oauth/token with client_id={}", server.local_addr(), creds.client_id);
//! server.stop().await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod body;
pub mod cli;
pub mod convert;
pub mod error;
pub mod grpc;
pub mod limits;
pub mod logging;
pub mod ops;
pub mod postgres;
pub mod proto;
pub mod readers;
pub mod rest;
pub mod seed;
pub mod server;
pub mod tls;

pub use crate::server::{ServeConfig, ServeError, Server};
