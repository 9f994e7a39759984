//! The proxy on a real socket in front of mock upstreams: one test binary, one module per
//! concern.

// Test support code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod accounting;
mod anthropic;
mod azure;
mod background;
mod bedrock;
mod bridge;
mod compaction;
mod failures;
mod gemini;
mod hardening;
mod health;
mod input_tokens;
mod keys;
mod observability;
mod passthrough;
mod routing;
mod state;
mod streaming;
mod surface;
mod websocket;
