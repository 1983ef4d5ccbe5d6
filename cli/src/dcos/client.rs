//! JSON over HTTP to one service (Marathon, the master or an agent): the answer's JSON,
//! or a [`DcosError`] with the service's own `message` on a non-2xx answer.

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
}

impl Client {
    pub fn new(service: &'static str, base: String) -> Client {
        Client {
            http: crate::master::client(),
            base,
            service,
        }
    }

    /// The same connection pool towards another base URL (an agent named by the master).
    pub fn at(&self, service: &'static str, base: String) -> Client {
        Client {
            http: self.http.clone(),
            base,
            service,
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
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            DcosError(format!(
                "{} at {} does not answer: {e}",
                self.service, self.base
            ))
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| DcosError(format!("reading the answer of {url}: {e}")))?;
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
