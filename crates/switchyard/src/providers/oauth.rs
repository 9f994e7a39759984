//! OAuth2 access tokens from a token endpoint, cached and refreshed before they expire. Shared by
//! the identity providers the gateway talks to: Google's service-account JWT grant (Vertex AI)
//! and Microsoft Entra ID's client-credentials grant (Azure).

use std::future::Future;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::error::{Error, ErrorKind};
use crate::secret::{Secret, redact};

/// A token is refreshed this long before it expires, so that no request carries one that
/// expires in flight.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// An access token and when it expires.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub token: Secret,
    pub expires_at: SystemTime,
}

impl CachedToken {
    pub(crate) fn fresh_at(&self, now: SystemTime) -> bool {
        now + REFRESH_MARGIN < self.expires_at
    }
}

/// One cached token. Holding the lock across a refresh makes concurrent callers wait for that
/// one fetch instead of each starting their own.
#[derive(Default)]
pub(crate) struct TokenCache {
    slot: Mutex<Option<CachedToken>>,
}

impl TokenCache {
    /// The cached token while fresh, else the one `fetch` gets (and caches).
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Secret, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CachedToken, Error>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && cached.fresh_at(SystemTime::now())
        {
            return Ok(cached.token.clone());
        }
        let fetched = fetch().await?;
        let token = fetched.token.clone();
        *slot = Some(fetched);
        Ok(token)
    }
}

/// The HTTP client of a token source.
pub(crate) fn http_client(purpose: &str) -> Result<reqwest::Client, String> {
    crate::install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client for {purpose}: {e}"))
}

/// Who is asking for a token, for error messages.
pub(crate) struct Requester<'a> {
    /// The service (`Vertex AI`, `Azure`).
    pub service: &'a str,
    /// The principal (`the service account a@b`, `the Entra application 1234`).
    pub principal: &'a str,
    /// Secret material that must never appear in a message.
    pub secrets: &'a [&'a Secret],
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    /// Seconds; Entra's v1 endpoints send it as a string.
    expires_in: Option<serde_json::Value>,
}

/// POSTs the form `body` (already `application/x-www-form-urlencoded`) to `url` and reads the
/// token it answers with. Refusals (400, 401, 403) are authentication errors, named with the
/// endpoint's `error` / `error_description`, redacted.
pub(crate) async fn fetch_token(
    client: &reqwest::Client,
    url: &str,
    body: String,
    who: &Requester<'_>,
) -> Result<CachedToken, Error> {
    let now = SystemTime::now();
    let service = who.service;
    let answer = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Error::upstream(
                ErrorKind::Upstream,
                format!(
                    "{service}: could not reach the token endpoint {url} ({})",
                    if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "connection failed"
                    } else {
                        "request failed"
                    }
                ),
            )
        })?;
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let text = |k: &str| parsed.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let detail = match (text("error"), text("error_description")) {
            ("", _) => format!("HTTP {status}"),
            (error, "") => error.to_string(),
            (error, description) => format!("{error}: {description}"),
        };
        let detail = redact(&detail, who.secrets);
        let kind = if matches!(status, 400 | 401 | 403) {
            ErrorKind::Authentication
        } else {
            ErrorKind::Upstream
        };
        return Err(Error::upstream(
            kind,
            format!("{service} rejected {} at {url}: {detail}", who.principal),
        )
        .with_code("invalid_api_key"));
    }
    let parsed: TokenAnswer = serde_json::from_slice(&bytes).map_err(|_| {
        Error::upstream(
            ErrorKind::Upstream,
            format!("{service}: the token endpoint {url} returned an unreadable answer"),
        )
    })?;
    let Some(token) = parsed.access_token.filter(|t| !t.is_empty()) else {
        return Err(Error::upstream(
            ErrorKind::Upstream,
            format!("{service}: the token endpoint {url} returned no access_token"),
        ));
    };
    let lifetime = match parsed.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(3600);
    Ok(CachedToken {
        token: Secret::new(token),
        expires_at: now + Duration::from_secs(lifetime),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn freshness_keeps_a_margin() {
        let now = SystemTime::now();
        let token = |secs| CachedToken {
            token: Secret::new("t"),
            expires_at: now + Duration::from_secs(secs),
        };
        assert!(token(3599).fresh_at(now));
        assert!(token(301).fresh_at(now));
        assert!(!token(300).fresh_at(now));
        assert!(!token(3599).fresh_at(now + Duration::from_secs(3300)));
    }

    #[tokio::test]
    async fn the_cache_fetches_once_while_fresh() {
        let cache = TokenCache::default();
        let fetches = std::sync::atomic::AtomicU32::new(0);
        for _ in 0..3 {
            let token = cache
                .get(|| async {
                    fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok(CachedToken {
                        token: Secret::new("tok"),
                        expires_at: SystemTime::now() + Duration::from_secs(3600),
                    })
                })
                .await
                .unwrap();
            assert_eq!(token.expose(), "tok");
        }
        assert_eq!(fetches.into_inner(), 1);
    }
}
