//! `/etc/default/<service>` files: `NAME=value` lines, the subset of shell syntax that both
//! `sh` and systemd's `EnvironmentFile=` read the same way.
//!
//! Accepted: blank lines and `#` comments, an optional `export ` prefix, values bare,
//! 'single-quoted' (literal) or "double-quoted" (with `\"`, `\\`, `\$` and `` \` ``
//! escapes), and a `# comment` after the value. Mesosphere's packages shipped
//! ``ZK=`cat /etc/mesos/zk` ``; that idiom (and `$(cat PATH)`) is recognized and stands for
//! the file's contents, so old files keep working. Any other expansion (`$VAR`, `$(...)`)
//! is refused with the line number: the wrapper runs no shell, and a value silently taken
//! literally would be worse than a clear error.

use std::path::PathBuf;

/// One `NAME=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// 1-based line number, for error messages.
    pub line: usize,
    pub name: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    /// `` `cat PATH` `` or `$(cat PATH)`: the contents of PATH, trailing newlines removed.
    ContentsOf(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct EnvFileError {
    pub line: usize,
    pub reason: String,
}

/// Parses the text of an environment file.
pub fn parse(text: &str) -> Result<Vec<Assignment>, EnvFileError> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let err = |reason: String| EnvFileError { line, reason };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let body = trimmed
            .strip_prefix("export ")
            .unwrap_or(trimmed)
            .trim_start();
        let (name, rest) = body
            .split_once('=')
            .ok_or_else(|| err(format!("expected NAME=value, found '{trimmed}'")))?;
        if !is_name(name) {
            return Err(err(format!("'{name}' is not a variable name")));
        }
        let value = parse_value(rest).map_err(err)?;
        out.push(Assignment {
            line,
            name: name.to_string(),
            value,
        });
    }
    Ok(out)
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The value after `=`, up to an unquoted `#` comment.
fn parse_value(rest: &str) -> Result<Value, String> {
    let mut text = String::new();
    let mut chars = rest.chars().peekable();
    let mut expansion = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(c) => text.push(c),
                    None => return Err("unterminated single quote".into()),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\' | '$' | '`')) => text.push(c),
                        Some(c) => {
                            text.push('\\');
                            text.push(c);
                        }
                        None => return Err("unterminated double quote".into()),
                    },
                    Some(c @ ('$' | '`')) => {
                        expansion = true;
                        substitution(c, &mut chars, &mut text)?;
                    }
                    Some(c) => text.push(c),
                    None => return Err("unterminated double quote".into()),
                }
            },
            '\\' => match chars.next() {
                Some(c) => text.push(c),
                None => return Err("a backslash ends the line".into()),
            },
            '$' | '`' => {
                expansion = true;
                substitution(c, &mut chars, &mut text)?;
            }
            c if c.is_whitespace() => {
                let after: String = chars.collect();
                let after = after.trim_start();
                if after.is_empty() || after.starts_with('#') {
                    break;
                }
                return Err(format!(
                    "unquoted space in the value (quote it: NAME=\"{}\")",
                    rest.trim()
                ));
            }
            c => text.push(c),
        }
    }
    if !expansion {
        return Ok(Value::Text(text));
    }
    contents_idiom(&text).map(Value::ContentsOf).ok_or_else(|| {
        format!("'{text}': shell expansion is not supported (only `cat FILE` and $(cat FILE) are)")
    })
}

/// Copies a `` `...` `` or `$(...)` command substitution whole (spaces included) into
/// `text`, for [`contents_idiom`] to recognize; other `$` forms are copied as they are.
fn substitution(
    first: char,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    text: &mut String,
) -> Result<(), String> {
    text.push(first);
    let close = match (first, chars.peek()) {
        ('`', _) => '`',
        ('$', Some('(')) => ')',
        _ => return Ok(()),
    };
    if close == ')' {
        text.push(chars.next().unwrap_or('('));
    }
    loop {
        match chars.next() {
            Some(c) if c == close => {
                text.push(c);
                return Ok(());
            }
            Some(c) => text.push(c),
            None => return Err("unterminated command substitution".into()),
        }
    }
}

/// `` `cat PATH` `` or `$(cat PATH)` with one absolute path.
fn contents_idiom(text: &str) -> Option<PathBuf> {
    let inner = text
        .strip_prefix('`')
        .and_then(|t| t.strip_suffix('`'))
        .or_else(|| text.strip_prefix("$(").and_then(|t| t.strip_suffix(')')))?;
    let path = inner.trim().strip_prefix("cat ")?.trim();
    (path.starts_with('/') && !path.contains(char::is_whitespace)).then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: usize, name: &str, value: &str) -> Assignment {
        Assignment {
            line,
            name: name.into(),
            value: Value::Text(value.into()),
        }
    }

    #[test]
    fn accepts_what_sh_and_systemd_read_alike() {
        let parsed = parse(
            "# Mesos\n\nLOGS=/var/log/mesos\nexport MESOS_PORT=5050 # the default\n\
             MESOS_ATTRIBUTES='rack:a;zone:b'\nMESOS_HOSTNAME=\"a \\\"b\\\" \\$c\"\nEMPTY=\n",
        )
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                text(3, "LOGS", "/var/log/mesos"),
                text(4, "MESOS_PORT", "5050"),
                text(5, "MESOS_ATTRIBUTES", "rack:a;zone:b"),
                text(6, "MESOS_HOSTNAME", "a \"b\" $c"),
                text(7, "EMPTY", ""),
            ]
        );
    }

    #[test]
    fn mesosphere_cat_idiom_names_a_file() {
        for line in [
            "ZK=`cat /etc/mesos/zk`",
            "ZK=$(cat /etc/mesos/zk)",
            "ZK=\"`cat /etc/mesos/zk`\"",
        ] {
            let parsed = parse(line).unwrap();
            assert_eq!(
                parsed[0].value,
                Value::ContentsOf("/etc/mesos/zk".into()),
                "{line}"
            );
        }
    }

    #[test]
    fn refuses_what_it_cannot_read_like_a_shell() {
        let cases = [
            ("PORT 5050", 1, "expected NAME=value"),
            ("\n1PORT=5050", 2, "not a variable name"),
            ("ZK=$HOME/zk", 1, "shell expansion"),
            ("ZK=$(hostname)", 1, "shell expansion"),
            ("ZK=`cat zk`", 1, "shell expansion"),
            ("OPTS=a b", 1, "unquoted space"),
            ("OPTS='a", 1, "unterminated single quote"),
            ("OPTS=\"a", 1, "unterminated double quote"),
        ];
        for (input, line, reason) in cases {
            let err = parse(input).unwrap_err();
            assert_eq!(err.line, line, "{input}");
            assert!(err.reason.contains(reason), "{input}: {}", err.reason);
        }
    }
}
