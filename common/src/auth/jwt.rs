//! HS256 JSON Web Tokens as Mesos's agent issues them to executors: header
//! `{"alg":"HS256","typ":"JWT"}`, string claims (`fid`, `eid`, `cid`), no expiry. Verified
//! with ring's HMAC, whose check takes the same time wherever the signature differs.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::hmac;

/// The key tokens are signed and checked with (`--jwt_secret_key`'s contents).
#[derive(Clone)]
pub struct JwtKey(hmac::Key);

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKey(<redacted>)")
    }
}

/// Why a token is refused; the text goes into `error_description`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("Expected 3 parts in the token")]
    Parts,
    #[error("Failed to decode {0}")]
    Base64(&'static str),
    #[error("Failed to parse {0}")]
    Json(&'static str),
    #[error("Unsupported token algorithm '{0}'")]
    Algorithm(String),
    #[error("Token signature does not match")]
    Signature,
    #[error("Token has expired")]
    Expired,
}

impl JwtKey {
    pub fn new(secret: &[u8]) -> JwtKey {
        JwtKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// A token carrying `claims` (string values).
    pub fn sign(&self, claims: &BTreeMap<String, String>) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(claims).expect("a map of strings always serializes"));
        let signed = format!("{header}.{payload}");
        let tag = hmac::sign(&self.0, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The claims of a token signed with this key; values that are not strings are given
    /// as their JSON text, as Mesos does. `now` (seconds since the epoch) is checked
    /// against an `exp` claim when there is one.
    pub fn verify(&self, token: &str, now: f64) -> Result<BTreeMap<String, String>, JwtError> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err(JwtError::Parts);
        };
        let header_json: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(header)
                .map_err(|_| JwtError::Base64("header"))?,
        )
        .map_err(|_| JwtError::Json("header"))?;
        let alg = header_json
            .get("alg")
            .and_then(|a| a.as_str())
            .unwrap_or("");
        if alg != "HS256" {
            return Err(JwtError::Algorithm(alg.to_string()));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| JwtError::Base64("signature"))?;
        hmac::verify(
            &self.0,
            format!("{header}.{payload}").as_bytes(),
            &signature,
        )
        .map_err(|_| JwtError::Signature)?;
        let payload: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(payload)
                .map_err(|_| JwtError::Base64("payload"))?,
        )
        .map_err(|_| JwtError::Json("payload"))?;
        if let Some(exp) = payload.get("exp").and_then(|e| e.as_f64()) {
            if exp < now {
                return Err(JwtError::Expired);
            }
        }
        Ok(payload
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> BTreeMap<String, String> {
        [("fid", "f1"), ("eid", "e1"), ("cid", "c1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_signed_token_verifies_with_its_key_only() {
        let key = JwtKey::new(b"secret");
        let token = key.sign(&claims());
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(key.verify(&token, 0.0).unwrap(), claims());
        assert_eq!(
            JwtKey::new(b"other").verify(&token, 0.0),
            Err(JwtError::Signature)
        );
        // A payload changed after signing fails, even with a valid shape.
        let mut forged = claims();
        forged.insert("eid".into(), "e2".into());
        let other = key.sign(&forged);
        let mixed = format!(
            "{}.{}.{}",
            token.split('.').next().unwrap(),
            other.split('.').nth(1).unwrap(),
            token.split('.').nth(2).unwrap()
        );
        assert_eq!(key.verify(&mixed, 0.0), Err(JwtError::Signature));
    }

    #[test]
    fn malformed_tokens_are_refused_cleanly() {
        let key = JwtKey::new(b"k");
        assert_eq!(key.verify("", 0.0), Err(JwtError::Parts));
        assert_eq!(key.verify("a.b", 0.0), Err(JwtError::Parts));
        assert_eq!(key.verify("!.b.c", 0.0), Err(JwtError::Base64("header")));
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(b"{}")
        );
        assert_eq!(
            key.verify(&none, 0.0),
            Err(JwtError::Algorithm("none".into()))
        );
    }

    #[test]
    fn expiry_is_honoured_when_present() {
        let key = JwtKey::new(b"k");
        let mut c = claims();
        c.insert("exp".into(), "x".into());
        // A string "exp" is no number: not checked, as it cannot be compared.
        assert!(key.verify(&key.sign(&c), 1e12).is_ok());
    }

    proptest::proptest! {
        /// Fuzz target: any text is a token or an error, never a panic.
        #[test]
        fn any_text_verifies_or_fails(text in ".{0,200}") {
            let _ = JwtKey::new(b"k").verify(&text, 0.0);
        }
    }
}
