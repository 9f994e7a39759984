//! The proxy on a real socket in front of mock upstreams: one test binary, one module per
//! concern.

// Test support code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod bridge;
mod failures;
mod passthrough;
mod streaming;
mod surface;
