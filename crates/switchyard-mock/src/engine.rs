//! The scenario engine's entry point: routes a request to the protocol that answers it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::chat::{self, Flavor};
use crate::errors;
use crate::reply::Reply;
use crate::responses;

/// A reply and how long to wait before sending its headers (`[[mock:slow=MS]]`).
#[derive(Debug)]
pub(crate) struct Planned {
    pub delay: Duration,
    pub reply: Reply,
}

impl From<Reply> for Planned {
    fn from(reply: Reply) -> Self {
        Planned {
            delay: Duration::ZERO,
            reply,
        }
    }
}

/// Answers a request that no scripted reply claimed. `body` is `raw` parsed as JSON (`Null`
/// when it is not JSON).
pub(crate) fn plan(method: &str, path: &str, raw: &[u8], body: &Value) -> Planned {
    let post = method == "POST";
    if post && path.ends_with("/chat/completions") {
        chat::handle(Flavor::from_path(path), raw, body)
    } else if post && path.ends_with("/responses") {
        responses::handle(body)
    } else if method == "GET" && path.ends_with("/models") {
        Reply::json(
            json!({"object": "list", "data": [{"id": "mock-model", "object": "model",
            "created": 1_700_000_000, "owned_by": "switchyard-mock"}]}),
        )
        .into()
    } else {
        errors::invalid_url(method, path).into()
    }
}
