//! The proxy on a real socket in front of mock upstreams: one test binary, one module per
//! concern.

#[path = "../common/mod.rs"]
mod common;

mod bridge;
mod failures;
mod passthrough;
mod streaming;
mod surface;
