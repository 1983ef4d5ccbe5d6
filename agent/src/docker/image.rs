//! Docker image references (`[registry/]name[:tag][@digest]`), checked against Docker's
//! grammar before the daemon sees them.

use super::spec::SpecError;

/// A repository name with its tag or digest, following Docker's reference grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageReference {
    pub fn parse(text: &str) -> Result<ImageReference, SpecError> {
        let bad = |reason: &str| SpecError::Image {
            image: text.to_string(),
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(bad("the name is empty"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                if !valid_digest(digest) {
                    return Err(bad("the digest is not <algorithm>:<hex>"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(rest[at + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(tag) = &tag {
            if !valid_tag(tag) {
                return Err(bad(
                    "a tag is 1 to 128 of [A-Za-z0-9_.-] and does not start with '.' or '-'",
                ));
            }
        }
        if repository.len() > 255 {
            return Err(bad("the repository name is longer than 255 characters"));
        }
        let mut components: Vec<&str> = repository.split('/').collect();
        let first = components[0];
        // Docker reads the first component as a registry when it looks like a host name.
        let has_domain = components.len() > 1
            && (first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()));
        if has_domain {
            if !valid_domain(first) {
                return Err(bad("the registry is not a valid host[:port]"));
            }
            components.remove(0);
        }
        if components.iter().any(|c| !valid_path_component(c)) {
            return Err(bad(
                "repository names are lowercase letters and digits, separated by '.', '_', '__' or '-', in '/'-separated parts",
            ));
        }
        Ok(ImageReference {
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// `fromImage` and `tag` of a pull; an untagged name means `latest` (as the docker CLI
    /// does; the API would pull every tag).
    pub fn pull_arguments(&self) -> (String, String) {
        let tag = self
            .digest
            .clone()
            .or_else(|| self.tag.clone())
            .unwrap_or_else(|| "latest".to_string());
        (self.repository.clone(), tag)
    }
}

fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    if bytes.is_empty() || !is_alnum_lower(bytes[0]) || !is_alnum_lower(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum_lower(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum_lower(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.chars().all(|c| c == '-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    !algorithm.is_empty()
        && algorithm
            .bytes()
            .all(|c| is_alnum_lower(c) || matches!(c, b'+' | b'.' | b'_' | b'-'))
        && hex.len() >= 32
        && hex
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'=' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let ok = [
            ("busybox", "busybox", None, "latest"),
            (
                "mesos-test/busybox:latest",
                "mesos-test/busybox",
                Some("latest"),
                "latest",
            ),
            (
                "localhost:5000/a/b:v1.2",
                "localhost:5000/a/b",
                Some("v1.2"),
                "v1.2",
            ),
            (
                "Registry.Example.com/x_y__z",
                "Registry.Example.com/x_y__z",
                None,
                "latest",
            ),
            ("a--b.c/d", "a--b.c/d", None, "latest"),
        ];
        for (text, repository, tag, pull_tag) in ok {
            let r = ImageReference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.repository, repository, "{text}");
            assert_eq!(r.tag.as_deref(), tag, "{text}");
            assert_eq!(r.pull_arguments().1, pull_tag, "{text}");
        }
        let digest = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(
            ImageReference::parse(&digest).unwrap().pull_arguments(),
            ("busybox".to_string(), format!("sha256:{}", "a".repeat(64)))
        );
        for bad in [
            "",
            "UPPER/Case:bad tag!",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "a//b",
            "-a/b",
            "a_/b",
            "a/b@sha256:short",
            "bad host:1/x",
            "a/b:c:d",
        ] {
            let err = ImageReference::parse(bad).unwrap_err();
            assert!(matches!(err, SpecError::Image { .. }), "{bad}: {err}");
        }
    }
}
