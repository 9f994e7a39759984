//! Vertex AI credentials: a service-account key turned into OAuth2 access tokens (Google's
//! "Using OAuth 2.0 for server to server applications",
//! <https://developers.google.com/identity/protocols/oauth2/service-account>).
//!
//! A JWT signed with the key (RS256) is exchanged at the key's `token_uri` for an access token,
//! which is cached and refreshed five minutes before it expires. One refresh runs at a time: a
//! request that finds the token stale waits for the refresh already under way instead of
//! starting its own.
//!
//! Signing uses `ring` (already linked for TLS) and PEM parsing `rustls-pki-types`, rather than
//! a JWT crate: one fixed algorithm and three claims do not justify another dependency tree.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use serde_json::json;

use crate::error::{Error, ErrorKind};
use crate::providers::oauth::{self, CachedToken, TokenCache};
use crate::providers::{BoxFuture, TokenSource};
use crate::secret::Secret;

/// The OAuth scope every Vertex AI call needs.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token endpoint, for keys that name none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Lifetime of the signed assertion (Google's maximum).
const ASSERTION_LIFETIME: u64 = 3600;

/// The parts of a service-account key file the token exchange needs.
#[derive(Clone)]
pub struct ServiceAccountKey {
    /// `client_email`: the JWT's issuer.
    pub client_email: String,
    /// `private_key_id`: the JWT's `kid`.
    pub private_key_id: Option<String>,
    /// `token_uri`: where the JWT is exchanged.
    pub token_uri: String,
    /// `project_id`: the default project.
    pub project_id: Option<String>,
    private_key: Secret,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
    project_id: Option<String>,
}

impl ServiceAccountKey {
    /// Reads a service-account key from its JSON text. Other credential types (authorized
    /// user, external account, metadata server) are refused with a message naming what works.
    pub fn from_json(text: &str) -> Result<ServiceAccountKey, String> {
        let file: KeyFile = serde_json::from_str(text)
            .map_err(|e| format!("the Vertex AI credentials are not valid JSON ({e})"))?;
        match file.kind.as_deref() {
            Some("service_account") => {}
            other => {
                return Err(format!(
                    "Vertex AI credentials of type `{}` are not supported; use a service-account \
                     key (JSON with \"type\": \"service_account\") in `vertex_credentials` or \
                     GOOGLE_APPLICATION_CREDENTIALS (authorized-user, external-account and \
                     metadata-server credentials are not supported yet)",
                    other.unwrap_or("unknown")
                ));
            }
        }
        let missing = |field: &str| format!("the service-account key has no `{field}`");
        let key = ServiceAccountKey {
            client_email: file.client_email.ok_or_else(|| missing("client_email"))?,
            private_key_id: file.private_key_id,
            token_uri: file
                .token_uri
                .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string()),
            project_id: file.project_id,
            private_key: Secret::new(file.private_key.ok_or_else(|| missing("private_key"))?),
        };
        // Parse now, so a broken key fails at startup rather than on the first request.
        key.key_pair()?;
        Ok(key)
    }

    fn key_pair(&self) -> Result<RsaKeyPair, String> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(self.private_key.expose().as_bytes())
            .map_err(|_| {
                "the service-account `private_key` is not a PEM-encoded PKCS#8 key".to_string()
            })?;
        RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|_| "the service-account `private_key` is not a usable RSA key".to_string())
    }

    /// A signed JWT asserting this account, for the token exchange at `now` (seconds since
    /// the epoch).
    pub fn assertion(&self, signer: &RsaKeyPair, scope: &str, now: u64) -> Result<String, Error> {
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.private_key_id {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": self.client_email,
            "scope": scope,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; signer.public().modulus_len()];
        signer
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| {
                Error::new(
                    ErrorKind::Internal,
                    "could not sign the Vertex AI token request",
                )
            })?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// Access tokens for a service account, cached and refreshed before they expire; usable by any
/// Vertex AI publisher (Google's Gemini, Anthropic's Claude).
pub struct ServiceAccountTokenSource {
    key: ServiceAccountKey,
    signer: Arc<RsaKeyPair>,
    scope: String,
    client: reqwest::Client,
    cache: TokenCache,
}

impl fmt::Debug for ServiceAccountTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountTokenSource")
            .field("key", &self.key)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountTokenSource {
    /// A token source for `key` with the cloud-platform scope.
    pub fn new(key: ServiceAccountKey) -> Result<ServiceAccountTokenSource, String> {
        let signer = Arc::new(key.key_pair()?);
        let client = oauth::http_client("Vertex AI tokens")?;
        Ok(ServiceAccountTokenSource {
            key,
            signer,
            scope: CLOUD_PLATFORM_SCOPE.to_string(),
            client,
            cache: TokenCache::default(),
        })
    }

    /// The key this source signs with.
    pub fn key(&self) -> &ServiceAccountKey {
        &self.key
    }

    async fn fetch(&self) -> Result<CachedToken, Error> {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let assertion = self.key.assertion(&self.signer, &self.scope, secs)?;
        // A JWT is base64url and dots only: nothing in it needs form encoding.
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        );
        let principal = format!("the service account {}", self.key.client_email);
        let who = oauth::Requester {
            service: "Vertex AI",
            principal: &principal,
            secrets: &[&self.key.private_key],
        };
        oauth::fetch_token(&self.client, &self.key.token_uri, body, &who).await
    }
}

impl TokenSource for ServiceAccountTokenSource {
    fn token(&self) -> BoxFuture<'_, Result<Secret, Error>> {
        Box::pin(self.cache.get(|| self.fetch()))
    }
}
