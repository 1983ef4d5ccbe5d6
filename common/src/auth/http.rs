//! HTTP authentication as libprocess does it: each endpoint belongs to a realm (or to
//! none: open), and a realm with an authenticator answers a request without valid
//! credentials with `401 Unauthorized.` and a `WWW-Authenticate` challenge naming the
//! realm. A realm without an authenticator (its `--authenticate_http_*` flag off) lets
//! every request through and ignores any `Authorization` header.
//!
//! ```text
//!  request ─▶ classify(path) ─▶ realm? ─▶ authenticator? ─▶ Basic / Bearer check
//!                 │ open            │ none        ok ─▶ Principal in extensions ─▶ handler
//!                 └─────────────────┴──────────────────▶ handler     fail ─▶ 401
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::credentials::{check, Credential};
use super::jwt::JwtKey;

/// Who a request authenticated as: a named principal (Basic), or the claims of a token
/// (an executor's JWT). Handlers read it from the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal {
    pub value: Option<String>,
    pub claims: BTreeMap<String, String>,
}

impl Principal {
    pub fn named(value: impl Into<String>) -> Principal {
        Principal {
            value: Some(value.into()),
            claims: BTreeMap::new(),
        }
    }

    /// The principal's name, for authorization (None: a token without a name).
    pub fn name(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

impl std::fmt::Display for Principal {
    /// As libprocess prints a principal: its value, or its JSON form when it has claims.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.value, self.claims.is_empty()) {
            (Some(v), true) => f.write_str(v),
            _ => {
                let mut o = serde_json::Map::new();
                if let Some(v) = &self.value {
                    o.insert("value".into(), v.clone().into());
                }
                o.insert("claims".into(), serde_json::json!(self.claims));
                write!(f, "{}", serde_json::Value::Object(o))
            }
        }
    }
}

/// The principal of a request, when its realm authenticated it.
pub fn principal_of(headers_and_extensions: &axum::http::Extensions) -> Option<Principal> {
    headers_and_extensions.get::<Principal>().cloned()
}

/// `Basic <base64(user:password)>` exactly as libprocess reads it: the header splits on
/// spaces into exactly two parts, the scheme is exactly `Basic`, and the decoded text
/// splits on ':' into exactly two parts (so a ':' in the secret never authenticates).
pub fn parse_basic(value: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = value.split(' ').collect();
    let [scheme, encoded] = parts[..] else {
        return None;
    };
    if scheme != "Basic" {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let pair: Vec<&str> = decoded.split(':').collect();
    let [user, password] = pair[..] else {
        return None;
    };
    Some((user.to_string(), password.to_string()))
}

/// The `Authorization` value of a Basic credential.
pub fn basic_header(principal: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{principal}:{secret}")))
}

/// libprocess's 401: body `401 Unauthorized.` and the challenge.
pub fn unauthorized(challenge: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "401 Unauthorized.",
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

/// libprocess's 403 without a message: body `403 Forbidden.`.
pub fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "403 Forbidden.",
    )
        .into_response()
}

/// How a realm checks a request.
#[derive(Clone, Debug)]
pub enum Authenticator {
    /// HTTP Basic against a credentials list (`--credentials`, `--http_credentials`).
    Basic {
        realm: String,
        credentials: Arc<Vec<Credential>>,
    },
    /// `Authorization: Bearer <JWT>` signed with the key (executors).
    Jwt { realm: String, key: JwtKey },
}

impl Authenticator {
    pub fn basic(realm: &str, credentials: Arc<Vec<Credential>>) -> Authenticator {
        Authenticator::Basic {
            realm: realm.to_string(),
            credentials,
        }
    }

    /// The request's principal, or the 401 to answer (boxed: a response is large).
    pub fn authenticate(&self, headers: &HeaderMap, now: f64) -> Result<Principal, Box<Response>> {
        self.check(headers, now)
            .map_err(|challenge| Box::new(unauthorized(&challenge)))
    }

    /// The request's principal, or the `WWW-Authenticate` challenge to answer with.
    fn check(&self, headers: &HeaderMap, now: f64) -> Result<Principal, String> {
        let value = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        match self {
            Authenticator::Basic { realm, credentials } => {
                let challenge = format!("Basic realm=\"{realm}\"");
                let (user, password) = value
                    .and_then(parse_basic)
                    .ok_or_else(|| challenge.clone())?;
                match check(credentials, &user, &password) {
                    Some(c) => Ok(Principal::named(c.principal.clone())),
                    None => Err(challenge),
                }
            }
            Authenticator::Jwt { realm, key } => {
                let Some(value) = value else {
                    return Err(format!("Bearer realm=\"{realm}\""));
                };
                let invalid = |description: &str| {
                    format!(
                        "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{description}\""
                    )
                };
                let parts: Vec<&str> = value.split(' ').collect();
                let [scheme, token] = parts[..] else {
                    return Err(invalid("Malformed 'Authorization' header"));
                };
                if scheme != "Bearer" {
                    return Err(invalid(&format!("Scheme '{scheme}' unsupported")));
                }
                let claims = key
                    .verify(token, now)
                    .map_err(|e| invalid(&format!("Invalid JWT: {e}")))?;
                if claims.is_empty() {
                    return Err(invalid("JWT claims missing"));
                }
                Ok(Principal {
                    value: None,
                    claims,
                })
            }
        }
    }
}

/// The realm an endpoint belongs to; None for an open endpoint.
pub type Classifier = fn(&str) -> Option<&'static str>;

/// The authenticators of a process's realms, and which path belongs to which.
#[derive(Clone)]
pub struct HttpAuth {
    classify: Classifier,
    realms: Arc<HashMap<&'static str, Authenticator>>,
}

impl HttpAuth {
    pub fn new(classify: Classifier) -> HttpAuth {
        HttpAuth {
            classify,
            realms: Arc::new(HashMap::new()),
        }
    }

    /// Turns authentication on for `realm`.
    pub fn with(mut self, realm: &'static str, authenticator: Authenticator) -> HttpAuth {
        Arc::make_mut(&mut self.realms).insert(realm, authenticator);
        self
    }

    pub fn is_enabled(&self, realm: &str) -> bool {
        self.realms.contains_key(realm)
    }

    /// Wraps `router` so that every request passes through its realm's authenticator.
    pub fn layer(self, router: axum::Router) -> axum::Router {
        if self.realms.is_empty() {
            return router;
        }
        router.layer(axum::middleware::from_fn_with_state(self, authenticate))
    }
}

async fn authenticate(State(auth): State<HttpAuth>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let path = match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    if let Some(authenticator) = (auth.classify)(path).and_then(|realm| auth.realms.get(realm)) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        match authenticator.authenticate(request.headers(), now) {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
            }
            Err(response) => {
                tracing::debug!(path, "request refused: not authenticated");
                return *response;
            }
        }
    } else {
        // A principal can come from an authenticator only.
        request.extensions_mut().remove::<Principal>();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Arc<Vec<Credential>> {
        Arc::new(
            super::super::credentials::parse_credentials(
                r#"{"credentials":[{"principal":"ops","secret":"pw"}]}"#,
            )
            .unwrap(),
        )
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn basic_headers_parse_exactly_as_libprocess() {
        let ok = basic_header("ops", "pw");
        assert_eq!(parse_basic(&ok), Some(("ops".into(), "pw".into())));
        assert_eq!(parse_basic(&ok.replace("Basic", "basic")), None);
        assert_eq!(parse_basic(&ok.replace("Basic ", "Basic  ")), None);
        assert_eq!(parse_basic("Basic"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        // A ':' in the secret gives three parts: never authenticated.
        assert_eq!(parse_basic(&basic_header("ops", "p:w")), None);
        assert_eq!(
            parse_basic(&basic_header("", "")),
            Some((String::new(), String::new()))
        );
    }

    #[test]
    fn basic_authentication_names_the_realm_on_failure() {
        let a = Authenticator::basic("mesos-master-readonly", creds());
        assert_eq!(
            a.authenticate(&headers(&basic_header("ops", "pw")), 0.0)
                .ok(),
            Some(Principal::named("ops"))
        );
        for bad in [
            basic_header("ops", "no"),
            basic_header("x", "pw"),
            "Bearer x".into(),
        ] {
            let r = a.authenticate(&headers(&bad), 0.0).unwrap_err();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                r.headers()[header::WWW_AUTHENTICATE],
                "Basic realm=\"mesos-master-readonly\""
            );
        }
        assert!(a.authenticate(&HeaderMap::new(), 0.0).is_err());
    }

    #[test]
    fn bearer_tokens_carry_claims() {
        let key = JwtKey::new(b"k");
        let a = Authenticator::Jwt {
            realm: "mesos-agent-executor".into(),
            key: key.clone(),
        };
        let claims: BTreeMap<String, String> =
            [("fid".to_string(), "f".to_string())].into_iter().collect();
        let p = a
            .authenticate(&headers(&format!("Bearer {}", key.sign(&claims))), 0.0)
            .unwrap();
        assert_eq!(p.claims, claims);
        assert_eq!(p.to_string(), r#"{"claims":{"fid":"f"}}"#);
        let r = a.authenticate(&HeaderMap::new(), 0.0).unwrap_err();
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"mesos-agent-executor\""
        );
        let r = a.authenticate(&headers("Bearer a.b.c"), 0.0).unwrap_err();
        assert!(r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
        let signed_by_other = JwtKey::new(b"other").sign(&claims);
        assert!(a
            .authenticate(&headers(&format!("Bearer {signed_by_other}")), 0.0)
            .is_err());
    }

    proptest::proptest! {
        /// Fuzz target: any header value parses or is refused, never a panic.
        #[test]
        fn any_basic_header_parses_or_fails(text in ".{0,120}") {
            let _ = parse_basic(&text);
            let _ = parse_basic(&format!("Basic {text}"));
        }
    }
}
