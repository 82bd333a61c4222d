//! The wire types and service code generated at build time from `proto/` (Scalekit's package,
//! message names and field numbers, written for OrgStore).
//!
//! Modules mirror the protobuf packages, so cross-package references resolve.

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    unreachable_pub,
    rustdoc::invalid_html_tags
)]

/// `google.*` packages.
pub mod google {
    /// `google.rpc`: the rich error model's `Status`.
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

/// `scalekit.*` packages.
pub mod scalekit {
    /// `scalekit.v1.*` packages.
    pub mod v1 {
        /// `scalekit.v1.commons`: `RegionCode`.
        pub mod commons {
            tonic::include_proto!("scalekit.v1.commons");
        }
        /// `scalekit.v1.errdetails`: `ErrorInfo` and its validation details.
        pub mod errdetails {
            tonic::include_proto!("scalekit.v1.errdetails");
        }
        /// `scalekit.v1.organizations`: the organization service and its messages.
        pub mod organizations {
            tonic::include_proto!("scalekit.v1.organizations");
        }
    }
}
