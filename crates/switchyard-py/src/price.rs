//! Prices from the built-in catalog, for responses that carry no cost of their own (a stored
//! response retrieved later, a response built by hand).

use pyo3::prelude::*;
use switchyard::cost::{self, PriceCatalog};
use switchyard::types::responses::Usage;

/// The cost (USD) of `usage` (the Responses API's usage object, as JSON) on `model` (a
/// `provider/model` string or a bare model name); `None` when the catalog has no price for it
/// or the usage cannot be read.
#[pyfunction]
pub fn completion_cost(model: &str, usage: &str) -> Option<f64> {
    let usage: Usage = serde_json::from_str(usage).ok()?;
    let price = PriceCatalog::builtin().find(model)?;
    Some(cost::cost(price, &usage))
}
