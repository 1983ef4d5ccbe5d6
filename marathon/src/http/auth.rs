//! HTTP Basic on every path (`--http_credentials`), as Marathon's Jetty constraint on `/*`:
//! the API, `/ping`, `/metrics`, `/v2/events` and the dashboard alike. A browser asks for
//! the password once (the `WWW-Authenticate` challenge) and then sends it with the page's
//! own fetches and its `EventSource`, which go to the same origin.
//!
//! The decoded `user:password` is compared as a whole with the configured one, in time
//! independent of where they differ, so a user name holding a `:` (which Marathon's greedy
//! parse allows) works too.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;

use std::sync::Arc;

use super::message;
use crate::auth::HttpAuth;
use crate::config::Config;

/// What a request's `Authorization` header holds, as far as Basic is concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented {
    /// No `Authorization` header.
    Nothing,
    /// A header that is not `Basic <base64>` of UTF-8 text with a `:`.
    Malformed,
    /// The decoded `user:password`.
    Basic(String),
}

/// Parses an `Authorization` header value. The scheme is case-insensitive (RFC 7617).
pub fn parse_basic(value: Option<&[u8]>) -> Presented {
    let Some(value) = value else {
        return Presented::Nothing;
    };
    let Ok(text) = std::str::from_utf8(value) else {
        return Presented::Malformed;
    };
    let Some((scheme, encoded)) = text.trim().split_once(' ') else {
        return Presented::Malformed;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Presented::Malformed;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return Presented::Malformed;
    };
    match String::from_utf8(decoded) {
        Ok(joined) if joined.contains(':') => Presented::Basic(joined),
        _ => Presented::Malformed,
    }
}

/// Equality whose running time depends only on the lengths, not on the contents.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// Whether `headers` carry the configured credentials.
pub fn authorized(auth: &HttpAuth, headers: &HeaderMap) -> Result<(), &'static str> {
    match parse_basic(
        headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    ) {
        Presented::Nothing => {
            Err("Authentication required: this Marathon needs HTTP Basic credentials")
        }
        Presented::Malformed => {
            Err("Invalid Authorization header: expected HTTP Basic credentials")
        }
        Presented::Basic(joined) => {
            if constant_time_eq(joined.as_bytes(), auth.credentials.joined().as_bytes()) {
                Ok(())
            } else {
                Err("Invalid username or password")
            }
        }
    }
}

/// 401 with the challenge and a JSON `message`.
pub fn unauthorized(realm: &str, text: &str) -> Response {
    let mut response = message(StatusCode::UNAUTHORIZED, text);
    if let Ok(challenge) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// What the middleware enforces, decided once when the router is built.
#[derive(Debug, Clone)]
pub enum Policy {
    Open,
    Basic(Arc<HttpAuth>),
    /// The flags do not parse (`run` refuses to start then; this only guards other
    /// callers of `router`): nothing is let through.
    Closed(Arc<str>),
}

impl Policy {
    pub fn from_config(config: &Config) -> Policy {
        match config.auth.http_auth() {
            Ok(None) => Policy::Open,
            Ok(Some(auth)) => Policy::Basic(Arc::new(auth)),
            Err(e) => Policy::Closed(e.to_string().into()),
        }
    }
}

/// The middleware: passes authorized requests on, answers 401 to the others.
pub async fn require(State(policy): State<Policy>, request: Request, next: Next) -> Response {
    let auth = match &policy {
        Policy::Open => return next.run(request).await,
        Policy::Closed(reason) => {
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Marathon is misconfigured: {reason}"),
            )
        }
        Policy::Basic(auth) => auth,
    };
    match authorized(auth, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(text) => {
            tracing::debug!(path = %request.uri().path(), "refused: {text}");
            unauthorized(&auth.realm, text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::HttpCredentials;

    fn basic(text: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
        .into_bytes()
    }

    #[test]
    fn parses_basic_headers() {
        let cases: Vec<(Option<Vec<u8>>, Presented)> = vec![
            (None, Presented::Nothing),
            (Some(basic("a:b")), Presented::Basic("a:b".into())),
            (Some(basic("a:b:c")), Presented::Basic("a:b:c".into())),
            (Some(b"basic YTpi".to_vec()), Presented::Basic("a:b".into())),
            (Some(b"Bearer YTpi".to_vec()), Presented::Malformed),
            (Some(b"token=abc".to_vec()), Presented::Malformed),
            (Some(b"Basic !!!".to_vec()), Presented::Malformed),
            (Some(b"Basic".to_vec()), Presented::Malformed),
            (Some(basic("nocolon")), Presented::Malformed),
            (Some(b"Basic /w==".to_vec()), Presented::Malformed),
            (Some(vec![0xff, 0xfe]), Presented::Malformed),
        ];
        for (value, want) in cases {
            assert_eq!(parse_basic(value.as_deref()), want, "{value:?}");
        }
    }

    #[test]
    fn compares_whole_credentials() {
        let auth = HttpAuth {
            credentials: HttpCredentials::parse("ops:s3cret").unwrap(),
            realm: "Mesosphere".into(),
        };
        let with = |value: &[u8]| {
            let mut h = HeaderMap::new();
            h.insert(
                header::AUTHORIZATION,
                HeaderValue::from_bytes(value).unwrap(),
            );
            authorized(&auth, &h)
        };
        assert_eq!(with(&basic("ops:s3cret")), Ok(()));
        assert!(with(&basic("ops:s3cre")).is_err());
        assert!(with(&basic("ops:s3cret!")).is_err());
        assert!(with(&basic("Ops:s3cret")).is_err());
        assert!(with(&basic(":")).is_err());
        assert!(authorized(&auth, &HeaderMap::new()).is_err());
        let colon_user = HttpAuth {
            credentials: HttpCredentials::parse("a:b:c").unwrap(),
            realm: "r".into(),
        };
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(&basic("a:b:c")).unwrap(),
        );
        assert_eq!(authorized(&colon_user, &h), Ok(()));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab\0", b"ab"));
    }

    #[test]
    fn challenge_names_the_realm() {
        let r = unauthorized("Mesosphere", "no");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"Mesosphere\""
        );
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    }
}
