//! JSON over HTTP to one service (Marathon, the master or an agent): the answer's JSON,
//! or a [`DcosError`] with the service's own `message` on a non-2xx answer.
//!
//! Credentials: a base URL's `user:password@` goes as HTTP Basic (reqwest takes it out of
//! the URL; messages show the URL without it), and the DC/OS ACS token as
//! `Authorization: token=<token>`, as the DC/OS CLI sends it.

use reqwest::Method;
use serde_json::Value;

use super::{fail, DcosError};

/// One service's base URL and a connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// How messages name the service ("Marathon", "the Mesos master").
    service: &'static str,
    /// `core.dcos_acs_token`.
    token: Option<String>,
}

impl Client {
    pub fn new(service: &'static str, base: String) -> Client {
        Client {
            http: crate::master::client(),
            base,
            service,
            token: None,
        }
    }

    /// Sends `Authorization: token=<token>` with every call (unless the URL has userinfo).
    pub fn with_token(mut self, token: Option<String>) -> Client {
        self.token = token;
        self
    }

    /// The same connection pool towards another base URL (an agent named by the master).
    pub fn at(&self, service: &'static str, base: String) -> Client {
        Client {
            http: self.http.clone(),
            base,
            service,
            token: self.token.clone(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// One call with query parameters and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, DcosError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).query(query);
        if let Some(token) = self.token.as_ref().filter(|_| !has_userinfo(&self.base)) {
            request = request.header(reqwest::header::AUTHORIZATION, format!("token={token}"));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            DcosError(format!(
                "{} at {} does not answer: {}",
                self.service,
                without_userinfo(&self.base),
                without_userinfo(&e.to_string())
            ))
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            DcosError(format!(
                "reading the answer of {}: {e}",
                without_userinfo(&url)
            ))
        })?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        let mut message = match &value["message"] {
            Value::String(m) => m.clone(),
            _ => match &value {
                Value::String(body) if !body.trim().is_empty() && !body.contains('\n') => {
                    format!("{status}: {}", body.trim())
                }
                _ => format!("{} answered {status} to {path}", self.service),
            },
        };
        if let Some(details) = value["details"].as_array().filter(|d| !d.is_empty()) {
            message += &format!(" {}", Value::Array(details.clone()));
        }
        fail(message)
    }

    /// One call without query parameters.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, DcosError> {
        self.send(method, path, &[], body).await
    }

    pub async fn get(&self, path: &str) -> Result<Value, DcosError> {
        self.call(Method::GET, path, None).await
    }
}

/// The authority part of `url` (between `://` and the next `/`).
fn authority(url: &str) -> Option<(usize, &str)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    Some((start, &rest[..rest.find('/').unwrap_or(rest.len())]))
}

fn has_userinfo(url: &str) -> bool {
    authority(url).is_some_and(|(_, a)| a.contains('@'))
}

/// `url` (or any text holding URLs) without `user:password@`, for messages.
pub fn without_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((start, authority)) = authority(rest) {
        out.push_str(&rest[..start]);
        match authority.rfind('@') {
            Some(at) => out.push_str(&authority[at + 1..]),
            None => out.push_str(authority),
        }
        rest = &rest[start + authority.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_never_shows() {
        assert_eq!(
            without_userinfo("http://ops:s3cret@m:8080/v2/apps"),
            "http://m:8080/v2/apps"
        );
        assert_eq!(
            without_userinfo(
                "error sending request for url (http://a:b@h:1/x): refused, see http://h:2"
            ),
            "error sending request for url (http://h:1/x): refused, see http://h:2"
        );
        assert_eq!(without_userinfo("no url"), "no url");
        assert!(has_userinfo("http://a:b@h:1") && !has_userinfo("http://h:1/a@b"));
    }
}
