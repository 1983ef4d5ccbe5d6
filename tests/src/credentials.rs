//! Mesos credentials for the authentication tests: the master's `--credentials` JSON
//! file, an agent's `--credential` file and HTTP Basic header values.

use std::path::Path;

use base64::Engine;
use serde_json::{json, Value};

/// `Basic <base64(principal:secret)>`, the `Authorization` value of HTTP Basic.
pub fn basic(principal: &str, secret: &str) -> String {
    let pair = format!("{principal}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Writes `{"credentials":[...]}` (the master's `--credentials`) with the given pairs
/// into `dir/name`; returns its path.
pub fn credentials_file(dir: &Path, name: &str, pairs: &[(&str, &str)]) -> String {
    let list: Vec<Value> = pairs
        .iter()
        .map(|(p, s)| json!({"principal": p, "secret": s}))
        .collect();
    write(dir, name, json!({ "credentials": list }))
}

/// Writes one `{"principal","secret"}` (an agent's `--credential`) into `dir/name`;
/// returns its path.
pub fn credential_file(dir: &Path, name: &str, principal: &str, secret: &str) -> String {
    write(dir, name, json!({"principal": principal, "secret": secret}))
}

fn write(dir: &Path, name: &str, content: Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content.to_string()).expect("write a credentials file");
    path.display().to_string()
}
