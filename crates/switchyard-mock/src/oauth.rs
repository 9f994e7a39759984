//! Google's OAuth2 token endpoint for service accounts (`POST /token`, the JWT-bearer grant),
//! and the test service-account keys.
//!
//! The endpoint checks the JWT assertion the way Google does: RS256 signature against the
//! public part of the test key (the only account it knows), issuer, scope, audience equal to
//! the endpoint's own URL, and a lifetime of at most an hour that has not run out. It answers
//! `{access_token, expires_in, token_type}` and remembers the token, so the Vertex routes can
//! reject requests that do not carry one it issued.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

use crate::ids;
use crate::reply::Reply;
use crate::state::{Shared, lock};

/// The private key of the test service account the token endpoint trusts (PKCS#8 PEM). A test
/// fixture, not a secret: it was generated for these tests and grants nothing anywhere else.
pub const TEST_SERVICE_ACCOUNT_KEY: &str = include_str!("../testdata/vertex-test-key.pem");

/// A well-formed key the token endpoint does not trust (its signatures fail verification).
pub const UNTRUSTED_SERVICE_ACCOUNT_KEY: &str =
    include_str!("../testdata/vertex-untrusted-key.pem");

/// The client email of the test service account.
pub const TEST_CLIENT_EMAIL: &str = "switchyard-test@mock-project.iam.gserviceaccount.com";

/// The project of the test service account.
pub const TEST_PROJECT: &str = "mock-project";

/// A service-account key file (JSON text) for the test account with `private_key`, whose
/// `token_uri` is `token_uri` (the mock's `/token`).
pub fn service_account_json(private_key: &str, token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": TEST_PROJECT,
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": private_key,
        "client_email": TEST_CLIENT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    })
    .to_string()
}

/// The DER `RSAPublicKey` of the trusted test key.
fn trusted_public_key() -> Option<Vec<u8>> {
    let der = PrivatePkcs8KeyDer::from_pem_slice(TEST_SERVICE_ACCOUNT_KEY.as_bytes()).ok()?;
    let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).ok()?;
    Some(
        ring::signature::KeyPair::public_key(&pair)
            .as_ref()
            .to_vec(),
    )
}

fn grant_error(description: &str) -> Reply {
    Reply::error(
        400,
        json!({"error": "invalid_grant", "error_description": description}),
    )
}

/// Answers `POST /token`. `self_url` is this endpoint's URL as the client addressed it (the
/// audience the assertion must name).
pub(crate) fn token(raw: &[u8], self_url: &str, shared: &Shared) -> Reply {
    let form = String::from_utf8_lossy(raw);
    let field = |name: &str| {
        form.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_string())
        })
    };
    if field("grant_type").as_deref()
        != Some("urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")
    {
        return Reply::error(
            400,
            json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "}),
        );
    }
    let Some(assertion) = field("assertion") else {
        return grant_error("Missing required parameter: assertion");
    };
    match verify(&assertion, self_url) {
        Ok(()) => {
            let token = format!("ya29.mock-{}", ids::alnum(40));
            lock(&shared.issued_tokens).insert(token.clone());
            Reply::json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
        }
        Err(description) => grant_error(description),
    }
}

/// The client secret the mock Entra endpoint refuses (every other one is accepted).
pub const ENTRA_INVALID_SECRET: &str = "invalid-secret";

/// Answers Entra ID's `POST /{tenant}/oauth2/v2.0/token` for the client-credentials grant with
/// the Cognitive Services scope; refuses [`ENTRA_INVALID_SECRET`] as Entra does (401
/// `invalid_client`, an `AADSTS` code in the description).
pub(crate) fn entra_token(raw: &[u8], shared: &Shared) -> Reply {
    let form: Vec<(String, String)> = form_urlencoded::parse(raw).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return Reply::error(
            400,
            json!({"error": "unsupported_grant_type",
                "error_description": "AADSTS70003: The app requested an unsupported grant type."}),
        );
    }
    if field("scope") != Some("https://cognitiveservices.azure.com/.default")
        || field("client_id").is_none_or(str::is_empty)
    {
        return Reply::error(
            400,
            json!({"error": "invalid_request",
                "error_description": "AADSTS90014: A required field is missing or invalid."}),
        );
    }
    if field("client_secret").is_none_or(|s| s == ENTRA_INVALID_SECRET) {
        return Reply::error(
            401,
            json!({"error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided."}),
        );
    }
    let token = format!("eyJ0eXAiOiJKV1Qi.mock-entra-{}", ids::alnum(32));
    lock(&shared.issued_tokens).insert(token.clone());
    Reply::json(
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
        "access_token": token}),
    )
}

fn verify(assertion: &str, self_url: &str) -> Result<(), &'static str> {
    let mut pieces = assertion.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let header: Value = decode(header)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("Invalid JWT header")?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("Invalid JWT: unsupported algorithm");
    }
    let signature = decode(signature).ok_or("Invalid JWT Signature.")?;
    let public = trusted_public_key().ok_or("switchyard-mock: the test key is unreadable")?;
    let signed = &assertion[..assertion.rfind('.').unwrap_or(0)];
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "Invalid JWT Signature.")?;
    let claims: Value = decode(claims)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("Invalid JWT claims")?;
    let text = |key: &str| claims.get(key).and_then(Value::as_str).unwrap_or_default();
    if text("iss") != TEST_CLIENT_EMAIL {
        return Err("Invalid JWT: unknown issuer");
    }
    if !text("scope")
        .split(' ')
        .any(|s| s == "https://www.googleapis.com/auth/cloud-platform")
    {
        return Err("Invalid JWT: missing the cloud-platform scope");
    }
    if text("aud") != self_url {
        return Err("Invalid JWT: audience is not this token endpoint");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let number = |key: &str| claims.get(key).and_then(Value::as_u64).unwrap_or(0);
    let (iat, exp) = (number("iat"), number("exp"));
    if iat > now + 60 || exp <= now || exp < iat || exp - iat > 3600 {
        return Err(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_keys_parse() {
        assert!(trusted_public_key().is_some());
        let der = PrivatePkcs8KeyDer::from_pem_slice(UNTRUSTED_SERVICE_ACCOUNT_KEY.as_bytes());
        assert!(RsaKeyPair::from_pkcs8(der.unwrap().secret_pkcs8_der()).is_ok());
    }

    #[test]
    fn rejects_garbage_and_wrong_grants() {
        let shared = Shared::default();
        let reply = token(b"grant_type=password", "http://h/token", &shared);
        assert!(matches!(reply, Reply::Json { status: 400, .. }));
        let reply = token(
            b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c",
            "http://h/token",
            &shared,
        );
        let Reply::Json { status, body, .. } = reply else {
            panic!()
        };
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_grant");
        assert!(lock(&shared.issued_tokens).is_empty());
    }
}
