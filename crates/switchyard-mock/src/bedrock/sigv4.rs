//! The mock's check of Bedrock request authentication: a bearer key, or a well-formed SigV4
//! `Authorization` header scoped to service `bedrock`. Signatures made
//! with the documented example credentials (`AKIDEXAMPLE`) are recomputed and compared, so a
//! test using them proves the whole signature, path encoding included.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::http::HeaderMap;

/// The access key of the AWS documentation's example credentials.
pub(crate) const EXAMPLE_ACCESS_KEY: &str = "AKIDEXAMPLE";
/// Its secret key.
pub(crate) const EXAMPLE_SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// Why a request was refused: the AWS exception name and its message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub exception: &'static str,
    pub message: String,
}

fn reject(exception: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        exception,
        message: message.into(),
    }
}

/// Checks the request's credentials. `path` is the raw (encoded) path as received.
pub(crate) fn check(headers: &HeaderMap, path: &str, body: &[u8]) -> Result<(), Rejection> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(authorization) = header("authorization") else {
        return Err(reject(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        return if token.trim().is_empty() {
            Err(reject(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ))
        } else {
            Ok(())
        };
    }
    let Some(fields) = authorization.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(reject(
            "IncompleteSignatureException",
            format!(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
                 header. Authorization={}",
                authorization.split(' ').next().unwrap_or_default()
            ),
        ));
    };
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    };
    let (Some(credential), Some(signed_headers), Some(signature)) = (
        field("Credential"),
        field("SignedHeaders"),
        field("Signature"),
    ) else {
        return Err(reject(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' \
             parameters.",
        ));
    };
    let Some(amz_date) = header("x-amz-date") else {
        return Err(reject(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, terminator] = scope.as_slice() else {
        return Err(reject(
            "IncompleteSignatureException",
            format!("Credential should have 5 parts: {credential}"),
        ));
    };
    if *service != "bedrock" {
        return Err(reject(
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to correct service: 'bedrock'. Found '{service}'."
            ),
        ));
    }
    if *terminator != "aws4_request" || region.is_empty() || access_key.is_empty() {
        return Err(reject(
            "InvalidSignatureException",
            "Credential should be scoped with a valid terminator: 'aws4_request'.",
        ));
    }
    if !amz_date.starts_with(date) {
        return Err(reject(
            "InvalidSignatureException",
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{amz_date}'"
            ),
        ));
    }
    let signed: Vec<&str> = signed_headers.split(';').collect();
    if !signed.contains(&"host") || !signed.contains(&"x-amz-date") {
        return Err(reject(
            "InvalidSignatureException",
            "'Host' and 'X-Amz-Date' must be signed headers.",
        ));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(reject(
            "IncompleteSignatureException",
            "Signature must be 64 hexadecimal characters.",
        ));
    }
    if *access_key == EXAMPLE_ACCESS_KEY {
        let expected = expected_signature(headers, path, body, region, &signed, amz_date)
            .ok_or_else(|| {
                reject(
                    "InvalidSignatureException",
                    "The request could not be re-signed.",
                )
            })?;
        if expected != signature {
            return Err(reject(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details.",
            ));
        }
    }
    Ok(())
}

/// The signature the example credentials give for this request.
fn expected_signature(
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
    region: &str,
    signed: &[&str],
    amz_date: &str,
) -> Option<String> {
    let host = headers.get("host")?.to_str().ok()?;
    let time = parse_amz_date(amz_date)?;
    let token = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let identity: Identity =
        Credentials::new(EXAMPLE_ACCESS_KEY, EXAMPLE_SECRET_KEY, token, None, "mock").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .ok()?
        .into();
    // The signer adds `host`, `x-amz-date` and the token itself.
    let others: Vec<(&str, &str)> = signed
        .iter()
        .filter(|h| !matches!(**h, "host" | "x-amz-date" | "x-amz-security-token"))
        .filter_map(|h| Some((*h, headers.get(*h)?.to_str().ok()?)))
        .collect();
    let url = format!("http://{host}{path}");
    let request =
        SignableRequest::new("POST", url, others.into_iter(), SignableBody::Bytes(body)).ok()?;
    let (_, signature) = sign(request, &params).ok()?.into_parts();
    Some(signature)
}

/// `20250101T000000Z` → a time.
fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let digits = |range: std::ops::Range<usize>| value.get(range)?.parse::<i64>().ok();
    if value.len() != 16 || value.as_bytes()[8] != b'T' || !value.ends_with('Z') {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    const BODY: &[u8] =
        br#"{"messages":[{"role":"user","content":[{"text":"Hello"}]}],"inferenceConfig":{"maxTokens":64}}"#;

    #[test]
    fn reference_vector_verifies() {
        let h = headers(&[
            ("host", "bedrock-runtime.us-east-1.amazonaws.com"),
            ("content-type", "application/json"),
            ("x-amz-date", "20250101T000000Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=220ce8e46ea566ff43fe3c0f6f2867420dee8c6d5289b44c4cfd917fe9c46c88",
            ),
        ]);
        let path = "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse";
        assert_eq!(check(&h, path, BODY), Ok(()));
        // The same signature does not cover another body or a singly-encoded canonical path.
        assert_eq!(
            check(&h, path, b"{}").unwrap_err().exception,
            "InvalidSignatureException"
        );
        assert_eq!(
            check(
                &h,
                "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse",
                BODY
            )
            .unwrap_err()
            .exception,
            "InvalidSignatureException"
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert_eq!(
            check(&HeaderMap::new(), "/", b"").unwrap_err().exception,
            "MissingAuthenticationTokenException"
        );
        let wrong_service = headers(&[
            ("x-amz-date", "20250101T000000Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000",
            ),
        ]);
        let err = check(&wrong_service, "/", b"").unwrap_err();
        assert_eq!(err.exception, "InvalidSignatureException");
        assert!(err.message.contains("'bedrock'"));
        let no_date = headers(&[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        )]);
        assert_eq!(
            check(&no_date, "/", b"").unwrap_err().exception,
            "IncompleteSignatureException"
        );
        assert_eq!(
            check(&headers(&[("authorization", "Bearer k")]), "/", b""),
            Ok(())
        );
        assert_eq!(
            parse_amz_date("20250101T000005Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_735_689_605))
        );
    }
}
