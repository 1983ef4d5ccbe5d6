//! DNS labels from task and framework names, by Mesos-DNS's rules: lowercase; letters,
//! digits and `-` kept; `.` and `_` become `-`; anything else dropped; no `-` at either
//! end; at most 63 characters (RFC 1123) or 24 with digits also trimmed from the front
//! (RFC 952, the `EnforceRFC952` option).

/// Which RFC's label rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelSpec {
    Rfc1123,
    Rfc952,
}

impl LabelSpec {
    /// One label from arbitrary text; empty when nothing valid is left.
    pub fn label(self, name: &str) -> String {
        let mapped: Vec<u8> = name.bytes().filter_map(map_byte).collect();
        match self {
            LabelSpec::Rfc1123 => trim_cut(&mapped, 63, b"-", b"-"),
            LabelSpec::Rfc952 => trim_cut(&mapped, 24, b"-0123456789", b"-"),
        }
    }

    /// Several labels: `name` is split at `.` (kept as the separator, so a framework
    /// called `marathon.prod` stays two labels) and empty labels are dropped.
    pub fn domain_fragment(self, name: &str) -> String {
        name.split('.')
            .map(|part| self.label(part))
            .filter(|label| !label.is_empty())
            .collect::<Vec<_>>()
            .join(".")
    }
}

fn map_byte(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b.to_ascii_lowercase()),
        b'a'..=b'z' | b'0'..=b'9' => Some(b),
        b'-' | b'.' | b'_' => Some(b'-'),
        _ => None,
    }
}

/// Cuts at `max` bytes with the `left` set trimmed from the front and `right` from the
/// back; when trimming the back of the cut leaves room, it is filled from what follows
/// the cut (with its own leading `right` bytes trimmed), as Mesos-DNS does.
fn trim_cut(label: &[u8], max: usize, left: &[u8], right: &[u8]) -> String {
    let start = label
        .iter()
        .position(|b| !left.contains(b))
        .unwrap_or(label.len());
    let trimmed = &label[start..];
    let size = trimmed.len().min(max);
    let head_end = trimmed[..size]
        .iter()
        .rposition(|b| !right.contains(b))
        .map_or(0, |i| i + 1);
    let mut out = trimmed[..head_end].to_vec();
    if head_end != size {
        let rest = &trimmed[size..];
        let rest_start = rest
            .iter()
            .position(|b| !right.contains(b))
            .unwrap_or(rest.len());
        let tail = &rest[rest_start..];
        out.extend_from_slice(&tail[..tail.len().min(size - head_end)]);
    }
    // Only ASCII letters, digits and '-' survive the mapping.
    String::from_utf8(out).expect("labels are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_mesos_dns() {
        let cases = [
            ("web", "web"),
            ("Web.Prod", "web-prod"),
            ("my_task", "my-task"),
            ("-leading-and-trailing-", "leading-and-trailing"),
            ("apiserver.myservice", "apiserver-myservice"),
            ("sp ace$s!", "spaces"),
            ("ünïcödé", "ncd"),
            ("", ""),
            ("---", ""),
        ];
        for (name, want) in cases {
            assert_eq!(LabelSpec::Rfc1123.label(name), want, "{name:?}");
        }
        let long = "a".repeat(70);
        assert_eq!(LabelSpec::Rfc1123.label(&long).len(), 63);
        // RFC 952: 24 characters, no leading digit.
        assert_eq!(LabelSpec::Rfc952.label("123abc"), "abc");
        assert_eq!(
            LabelSpec::Rfc952.label("abcdefghijklmnopqrstuvwxyz"),
            "abcdefghijklmnopqrstuvwx"
        );
        // A '-' at the cut is dropped and the room refilled from after it.
        assert_eq!(
            LabelSpec::Rfc952.label("abcdefghijklmnopqrstuvw-yz"),
            "abcdefghijklmnopqrstuvwy"
        );
    }

    #[test]
    fn framework_names_keep_their_dots() {
        let cases = [
            ("marathon", "marathon"),
            ("marathon.prod", "marathon.prod"),
            ("Marathon_Prod", "marathon-prod"),
            ("marathon-0.7.5", "marathon-0.7.5"),
            ("a..b.", "a.b"),
            ("..", ""),
        ];
        for (name, want) in cases {
            assert_eq!(LabelSpec::Rfc1123.domain_fragment(name), want, "{name:?}");
        }
    }
}
