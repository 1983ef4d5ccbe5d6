//! A framework's credential: the principal and secret it authenticates with. The master
//! (with `--authenticate_http_frameworks`) checks them as HTTP Basic on every request to
//! the scheduler API, SUBSCRIBE included, as pymesos sends them.

/// A principal and its secret. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub principal: String,
    secret: String,
}

impl Credential {
    pub fn new(principal: impl Into<String>, secret: impl Into<String>) -> Credential {
        Credential {
            principal: principal.into(),
            secret: secret.into(),
        }
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Adds `Authorization: Basic base64(principal:secret)` (marked sensitive, so it is
    /// never logged by the HTTP stack).
    pub fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(&self.principal, Some(&self.secret))
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .field("secret", &"***")
            .finish()
    }
}
