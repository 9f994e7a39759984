//! A deployment's default request parameters, applied before a request is translated.

use std::borrow::Cow;

use switchyard_types::responses::CreateResponse;

use crate::providers::RequestDefaults;

/// `request` with the unset fields filled from `defaults`; borrowed as it is when there are
/// none (the common case, which then costs no copy).
pub(crate) fn with_defaults<'r>(
    defaults: &RequestDefaults,
    request: &'r CreateResponse,
) -> Cow<'r, CreateResponse> {
    if defaults.is_empty() {
        return Cow::Borrowed(request);
    }
    let mut owned = request.clone();
    defaults.apply(&mut owned);
    Cow::Owned(owned)
}
