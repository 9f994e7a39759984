//! Sealed blobs: what the gateway hands clients to hold for it (a compaction summary) and must
//! later read back unchanged. AES-256-GCM from `ring`: the client can neither read nor alter
//! the content, and a blob sealed by another key (another gateway, a forgery) does not open.
//!
//! The key comes from `switchyard_settings.encryption_key` (or `SWITCHYARD_ENCRYPTION_KEY`,
//! or LiteLLM's `LITELLM_SALT_KEY`), else is derived from the master key, so that every
//! replica of a gateway opens what any of them sealed. Without either, a random key is made
//! for the process: blobs then open only on the instance that sealed them, until it restarts.
//!
//! Format: `swys1.` + base64url(nonce ‖ ciphertext ‖ tag).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const PREFIX: &str = "swys1.";
/// Binds sealed blobs to their use, so that a blob sealed for one purpose opens for no other.
const CONTEXT: &[u8] = b"switchyard sealed blob v1";

/// Seals and opens blobs with one key.
pub struct Sealer {
    /// `None` only if `ring` refused a 32-byte AES-256 key, which it does not: then nothing
    /// seals and nothing opens.
    key: Option<LessSafeKey>,
    rng: SystemRandom,
    /// The key was made for this process only.
    ephemeral: bool,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer keyed by `secret` (any length: it is stretched with HKDF-SHA256), or by a
    /// random key for this process when there is none.
    pub fn new(secret: Option<&str>) -> Sealer {
        let rng = SystemRandom::new();
        let mut key = [0u8; 32];
        let ephemeral = match secret.filter(|s| !s.is_empty()) {
            Some(secret) => {
                derive(secret.as_bytes(), &mut key);
                false
            }
            None => {
                // A failing system RNG leaves the zero key: still a key, never a secret.
                let _ = rng.fill(&mut key);
                true
            }
        };
        let key = UnboundKey::new(&AES_256_GCM, &key)
            .ok()
            .map(LessSafeKey::new);
        Sealer {
            key,
            rng,
            ephemeral,
        }
    }

    /// True when the key was made for this process (nothing configured it).
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// Seals `plain`.
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        let _ = self.rng.fill(&mut nonce);
        let Some(key) = &self.key else {
            return String::new();
        };
        let mut data = plain.to_vec();
        let sealed = key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(CONTEXT),
            &mut data,
        );
        if sealed.is_err() {
            return String::new();
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a blob this key sealed; `None` for anything else (another key's, altered, not a
    /// sealed blob at all).
    pub fn open(&self, blob: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(blob.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = sealed.to_vec();
        let plain = self
            .key
            .as_ref()?
            .open_in_place(nonce, Aad::from(CONTEXT), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// True for a blob in the sealed format (whoever sealed it).
pub fn is_sealed(blob: &str) -> bool {
    blob.starts_with(PREFIX)
}

/// Stretches `secret` into a 32-byte key with HKDF-SHA256.
fn derive(secret: &[u8], out: &mut [u8; 32]) {
    use ring::hkdf::{HKDF_SHA256, KeyType, Salt};
    struct Len;
    impl KeyType for Len {
        fn len(&self) -> usize {
            32
        }
    }
    let salt = Salt::new(HKDF_SHA256, b"switchyard");
    let prk = salt.extract(secret);
    if let Ok(okm) = prk.expand(&[CONTEXT], Len) {
        let _ = okm.fill(out);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_blobs_open_only_with_their_key_and_unaltered() {
        let a = Sealer::new(Some("sk-master-key"));
        let same = Sealer::new(Some("sk-master-key"));
        let other = Sealer::new(Some("another key"));
        let blob = a.seal(b"the summary");
        assert!(is_sealed(&blob));
        assert!(!blob.contains("summary"));
        assert_eq!(same.open(&blob).unwrap(), b"the summary");
        assert_eq!(other.open(&blob), None);
        let mut altered = blob.clone();
        altered.pop();
        altered.push(if blob.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(a.open(&altered), None);
        assert_eq!(a.open("not sealed"), None);
        assert!(Sealer::new(None).is_ephemeral());
        assert_ne!(a.seal(b"x"), a.seal(b"x"), "a fresh nonce each time");
    }
}
