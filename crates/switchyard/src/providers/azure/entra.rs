//! Microsoft Entra ID client credentials (`tenant_id`, `client_id`, `client_secret`): an app
//! registration's secret exchanged for a Cognitive Services access token at
//! `{authority}/{tenant}/oauth2/v2.0/token`, cached and refreshed before it expires.

use std::fmt;

use crate::error::Error;
use crate::providers::oauth::{self, CachedToken, TokenCache};
use crate::providers::{BoxFuture, TokenSource};
use crate::secret::Secret;

/// Entra's public-cloud authority (`AZURE_AUTHORITY_HOST` overrides it, as in Azure's SDKs).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The scope of Azure OpenAI and Foundry tokens.
pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

/// Tokens for one Entra application.
pub struct EntraTokenSource {
    token_url: String,
    client_id: String,
    client_secret: Secret,
    client: reqwest::Client,
    cache: TokenCache,
}

impl fmt::Debug for EntraTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraTokenSource")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl EntraTokenSource {
    /// A source for the application `client_id` of `tenant`, at `authority`.
    pub fn new(
        authority: &str,
        tenant: &str,
        client_id: String,
        client_secret: Secret,
    ) -> Result<EntraTokenSource, String> {
        let token_url = format!(
            "{}/{tenant}/oauth2/v2.0/token",
            authority.trim_end_matches('/')
        );
        reqwest::Url::parse(&token_url)
            .map_err(|e| format!("`{token_url}` is not a usable Entra token URL: {e}"))?;
        Ok(EntraTokenSource {
            token_url,
            client_id,
            client_secret,
            client: oauth::http_client("Entra ID tokens")?,
            cache: TokenCache::default(),
        })
    }

    async fn fetch(&self) -> Result<CachedToken, Error> {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose())
            .append_pair("scope", COGNITIVE_SERVICES_SCOPE)
            .finish();
        let principal = format!("the Entra application {}", self.client_id);
        let who = oauth::Requester {
            service: "Azure",
            principal: &principal,
            secrets: &[&self.client_secret],
        };
        oauth::fetch_token(&self.client, &self.token_url, body, &who).await
    }
}

impl TokenSource for EntraTokenSource {
    fn token(&self) -> BoxFuture<'_, Result<Secret, Error>> {
        Box::pin(self.cache.get(|| self.fetch()))
    }
}
