//! Path ids: apps and groups live in one tree, `/prod/web`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An absolute, normalised id such as `/prod/web`. The root group is `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId {
    segments: Vec<String>,
}

/// Why a text is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

impl PathId {
    pub fn root() -> PathId {
        PathId { segments: vec![] }
    }

    /// Parses an id as Marathon does: relative ids are rooted at `/`, empty segments (as in
    /// `//web`, which Python clients send) and a trailing `/` are ignored, `.` and `..` are
    /// resolved. Segment syntax is checked by [`PathId::validate`], not here.
    pub fn parse(text: &str) -> PathId {
        let mut segments: Vec<String> = Vec::new();
        for seg in text.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    segments.pop();
                }
                s => segments.push(s.to_string()),
            }
        }
        PathId { segments }
    }

    /// Every segment is `[a-z0-9]([a-z0-9-]*[a-z0-9])?`, dots allowed inside, and the id is
    /// not the root.
    pub fn validate(&self) -> Result<(), IdError> {
        if self.segments.is_empty() {
            return Err(IdError("Path id must not be empty".into()));
        }
        for seg in &self.segments {
            if !valid_segment(seg) {
                return Err(IdError(format!(
                    "'{seg}' contains invalid characters (allowed: lowercase letters, digits, hyphens, \".\", \"..\")"
                )));
            }
        }
        Ok(())
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn parent(&self) -> PathId {
        let mut segments = self.segments.clone();
        segments.pop();
        PathId { segments }
    }

    /// The last segment (`web` of `/prod/web`).
    pub fn name(&self) -> &str {
        self.segments.last().map(String::as_str).unwrap_or("")
    }

    /// True if `self` is `other` or lies below it.
    pub fn is_under(&self, other: &PathId) -> bool {
        self.segments.starts_with(&other.segments)
    }

    /// The id without its leading `/`, with `/` replaced by `_`: the prefix of task ids.
    pub fn safe_id(&self) -> String {
        self.segments.join("_")
    }

    /// Segments reversed and joined by `.`: `web.prod` for `/prod/web`. Marathon names
    /// tasks this way, and Mesos-DNS builds `web-prod.marathon.mesos` from it.
    pub fn to_hostname(&self) -> String {
        let mut segs = self.segments.clone();
        segs.reverse();
        segs.join(".")
    }

    /// Inverse of [`PathId::safe_id`] (ids never contain `_`).
    pub fn from_safe_id(text: &str) -> PathId {
        PathId {
            segments: text.split('_').map(str::to_string).collect(),
        }
    }
}

fn valid_segment(seg: &str) -> bool {
    let bytes = seg.as_bytes();
    let ok_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !bytes.is_empty()
        && ok_char(bytes[0])
        && ok_char(bytes[bytes.len() - 1])
        && bytes.iter().all(|&c| ok_char(c) || c == b'-' || c == b'.')
}

impl fmt::Display for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.segments.join("/"))
    }
}

impl Serialize for PathId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PathId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PathId, D::Error> {
        let text = String::deserialize(d)?;
        Ok(PathId::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_doubled_slashes_are_rooted() {
        assert_eq!(PathId::parse("web").to_string(), "/web");
        assert_eq!(PathId::parse("//prod/web/").to_string(), "/prod/web");
        assert_eq!(PathId::parse("/a/./b/../c").to_string(), "/a/c");
        assert_eq!(PathId::parse("/").to_string(), "/");
    }

    #[test]
    fn segment_rules() {
        for ok in ["/web", "/prod/web-1", "/a.b/c", "/0"] {
            assert!(PathId::parse(ok).validate().is_ok(), "{ok}");
        }
        for bad in ["/Web", "/-web", "/web-", "/we_b", "/", "/a b"] {
            assert!(PathId::parse(bad).validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_names() {
        let id = PathId::parse("/prod/web");
        assert_eq!(id.safe_id(), "prod_web");
        assert_eq!(id.to_hostname(), "web.prod");
        assert_eq!(PathId::from_safe_id("prod_web"), id);
        assert_eq!(id.parent().to_string(), "/prod");
        assert!(id.is_under(&PathId::parse("/prod")));
        assert!(!id.is_under(&PathId::parse("/pro")));
    }
}
