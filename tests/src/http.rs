//! Plain HTTP helpers. `reqwest` for ordinary requests; a raw socket where the test must see
//! the bytes on the wire (chunked framing) or keep talking while the server answers early
//! (an oversized body).

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client that never goes through a proxy (the environment's `http_proxy` must not catch
/// loopback requests) and speaks HTTP/1.1 only, as Mesos does.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client")
}

/// A response read to the end.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
}

/// Sends `request` with a 30 s overall limit and reads the whole body.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Response, reqwest::Error> {
    let response = request.timeout(Duration::from_secs(30)).send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// GET `url`; panics when the request itself fails.
pub async fn get(url: &str) -> Response {
    send(client().get(url))
        .await
        .unwrap_or_else(|e| panic!("GET {url} failed: {e}"))
}

/// GET `url`, expecting 200 and a JSON body.
pub async fn get_json(url: &str) -> Value {
    let response = get(url).await;
    assert_eq!(
        response.status, 200,
        "GET {url}: expected 200, got {}: {}",
        response.status, response.body
    );
    response.json()
}

/// POST `body` to `url` with exactly the given extra headers (no Content-Type is added).
pub async fn post(url: &str, body: impl Into<reqwest::Body>, headers: &[(&str, &str)]) -> Response {
    let mut request = client().post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(request)
        .await
        .unwrap_or_else(|e| panic!("POST {url} failed: {e}"))
}

/// POSTs a JSON call to an operator API (`/api/v1` of a master or an agent), asking for a
/// JSON answer.
pub async fn operator_call(url: &str, body: &Value) -> Response {
    post(
        url,
        body.to_string(),
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ],
    )
    .await
}

/// An operator call with no argument (`GET_STATE`...), expecting 200 and a JSON Response of
/// the same type; returns the response's field for it (`get_state`...).
pub async fn operator_get(url: &str, kind: &str) -> Value {
    let response = operator_call(url, &serde_json::json!({ "type": kind })).await;
    assert_eq!(response.status, 200, "{kind}: {}", response.body);
    assert!(
        response
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{kind}: {:?}",
        response.headers
    );
    let body = response.json();
    assert_eq!(body["type"], kind, "{body}");
    body[kind.to_ascii_lowercase()].clone()
}

/// An operator call expected to answer an empty 200.
pub async fn operator_act(url: &str, body: &Value) {
    let kind = body["type"].as_str().unwrap_or("?").to_string();
    let response = operator_call(url, body).await;
    assert_eq!(response.status, 200, "{kind}: {}", response.body);
    assert!(response.body.is_empty(), "{kind}: {}", response.body);
}

/// What came back on a raw connection.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Status line and headers, as sent.
    pub head: String,
    /// Body bytes received (still chunk-encoded if the response is chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }
}

/// Writes `head` (request line and headers, ending in a blank line) and `body` to `addr` on
/// a fresh connection while reading the answer concurrently: a server may answer and close
/// before it has read everything. Reads the body until Content-Length is reached, EOF, or
/// `body_wait` has passed (a stream never ends by itself).
pub async fn raw_request(
    addr: &str,
    head: String,
    body: Vec<u8>,
    body_wait: Duration,
) -> RawResponse {
    let stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let (mut reader, mut writer) = stream.into_split();
    let write = tokio::spawn(async move {
        // Errors are expected when the server refuses the rest of a large body.
        if writer.write_all(head.as_bytes()).await.is_ok() {
            for chunk in body.chunks(64 * 1024) {
                if writer.write_all(chunk).await.is_err() {
                    break;
                }
            }
        }
        writer
    });

    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let head_end = loop {
        if let Some(pos) = find(&received, b"\r\n\r\n") {
            break pos + 4;
        }
        match tokio::time::timeout(Duration::from_secs(30), reader.read(&mut buf)).await {
            Ok(Ok(0)) => panic!(
                "{addr} closed the connection before a complete response head; got {:?}",
                String::from_utf8_lossy(&received)
            ),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!(
                "reading the response from {addr} failed: {e}; got {:?}",
                String::from_utf8_lossy(&received)
            ),
            Err(_) => panic!("no response head from {addr} within 30 s"),
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let mut response = RawResponse {
        status,
        head,
        body: received[head_end..].to_vec(),
    };
    let content_length: Option<usize> = response
        .header("content-length")
        .and_then(|v| v.parse().ok());
    let body_deadline = tokio::time::Instant::now() + body_wait;
    loop {
        if content_length.is_some_and(|len| response.body.len() >= len) {
            break;
        }
        match tokio::time::timeout_at(body_deadline, reader.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => response.body.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    write.abort();
    response
}

/// Decodes as many complete chunks of a chunked body as `raw` holds.
pub fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(line_end) = find(rest, b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        let start = line_end + 2;
        if size == 0 || rest.len() < start + size {
            break;
        }
        out.extend_from_slice(&rest[start..start + size]);
        rest = &rest[(start + size + 2).min(rest.len())..];
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks_complete_chunks_only() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
        assert_eq!(dechunk(b"3\r\nabc\r\n5\r\nde"), b"abc");
        assert_eq!(dechunk(b"a;ext=1\r\n0123456789\r\n"), b"0123456789");
    }
}
