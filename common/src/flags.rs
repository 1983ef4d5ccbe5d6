//! The value syntax of Mesos flags, applied before `clap` sees a command line.
//!
//! Mesos (stout) flags accept `--name=value`, `--name` and `--no-name` for booleans, values
//! read from a file with `--name=file:///path`, and the same flags as `MESOS_NAME` environment
//! variables. Durations and byte sizes have their own units (`10secs`, `512MB`). Our binaries
//! keep `clap` for parsing and help, and use this module for everything Mesos-specific.

use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FlagError {
    #[error("invalid duration '{0}': expected a number followed by ns, us, ms, secs, mins, hrs, days or weeks")]
    Duration(String),
    #[error("invalid byte size '{0}': expected an integer followed by B, KB, MB, GB or TB")]
    Bytes(String),
    #[error("invalid boolean '{0}': expected true or false")]
    Bool(String),
    #[error("flag --{flag}: cannot read '{path}': {reason}")]
    File {
        flag: String,
        path: String,
        reason: String,
    },
}

/// Parses a Mesos duration such as `500ms`, `10secs`, `1.5mins`, `2hrs`, `1days`, `1weeks`.
pub fn parse_duration(text: &str) -> Result<Duration, FlagError> {
    let err = || FlagError::Duration(text.to_string());
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(err)?;
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number.parse().map_err(|_| err())?;
    let nanos_per_unit: f64 = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "secs" => 1e9,
        "mins" => 60e9,
        "hrs" => 3600e9,
        "days" => 86400e9,
        "weeks" => 7.0 * 86400e9,
        _ => return Err(err()),
    };
    let nanos = value * nanos_per_unit;
    if !nanos.is_finite() || nanos < 0.0 || nanos > u64::MAX as f64 {
        return Err(err());
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Formats a duration the way Mesos prints flags: the largest unit that keeps it readable.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos() as f64;
    let units = [
        ("weeks", 7.0 * 86400e9),
        ("days", 86400e9),
        ("hrs", 3600e9),
        ("mins", 60e9),
        ("secs", 1e9),
        ("ms", 1e6),
        ("us", 1e3),
    ];
    for (name, size) in units {
        if nanos >= size {
            let value = nanos / size;
            return format!("{}{}", trim_float(value), name);
        }
    }
    format!("{}ns", d.as_nanos())
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Parses a Mesos byte size such as `512MB` or `1GB` into bytes.
pub fn parse_bytes(text: &str) -> Result<u64, FlagError> {
    let err = || FlagError::Bytes(text.to_string());
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(err)?;
    let (number, unit) = trimmed.split_at(split);
    let value: u64 = number.parse().map_err(|_| err())?;
    let factor: u64 = match unit {
        "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return Err(err()),
    };
    value.checked_mul(factor).ok_or_else(err)
}

/// Parses `true`/`false` (and `1`/`0`, which stout also accepts).
pub fn parse_bool(text: &str) -> Result<bool, FlagError> {
    match text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(FlagError::Bool(other.to_string())),
    }
}

/// `clap` value parser for Mesos durations.
pub fn duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

/// `clap` value parser for Mesos byte sizes.
pub fn bytes_arg(text: &str) -> Result<u64, String> {
    parse_bytes(text).map_err(|e| e.to_string())
}

/// `clap` value parser for Mesos booleans.
pub fn bool_arg(text: &str) -> Result<bool, String> {
    parse_bool(text).map_err(|e| e.to_string())
}

/// Rewrites a Mesos-style command line into one `clap` parses: `--no-name` becomes
/// `--name=false`, and `--name=file:///path` becomes `--name=<contents of path>` (trailing
/// newline removed). The first element (the program name) is kept as it is.
pub fn normalize_args<I>(args: I) -> Result<Vec<String>, FlagError>
where
    I: IntoIterator<Item = String>,
{
    let mut out = Vec::new();
    for (index, arg) in args.into_iter().enumerate() {
        if index == 0 || !arg.starts_with("--") || arg == "--" {
            out.push(arg);
            continue;
        }
        let body = &arg[2..];
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        match value {
            None => match name.strip_prefix("no-") {
                Some(positive) if !positive.is_empty() => out.push(format!("--{positive}=false")),
                _ => out.push(arg.clone()),
            },
            Some(v) => {
                let v = resolve_file_value(name, v)?;
                out.push(format!("--{name}={v}"));
            }
        }
    }
    Ok(out)
}

/// Resolves `file://` values in `MESOS_*` environment variables so that `clap`'s `env`
/// support sees the file's contents. Returns the (name, value) pairs that changed.
pub fn resolved_env_overrides() -> Result<Vec<(String, String)>, FlagError> {
    let mut changed = Vec::new();
    for (key, value) in std::env::vars() {
        if let Some(flag) = key.strip_prefix("MESOS_") {
            if value.starts_with("file://") {
                let resolved = resolve_file_value(&flag.to_ascii_lowercase(), &value)?;
                changed.push((key, resolved));
            }
        }
    }
    Ok(changed)
}

/// Returns the command line to give to `clap`: `std::env::args()` normalized, with
/// `file://` environment values resolved in place.
pub fn prepare_command_line() -> Result<Vec<String>, FlagError> {
    for (key, value) in resolved_env_overrides()? {
        std::env::set_var(key, value);
    }
    normalize_args(std::env::args())
}

/// Flags whose value is a path, as Mesos's `Path` flags: `file:///x` names the file `/x`
/// rather than standing for its contents (which hold secrets that must never be shown
/// as a flag's value).
const PATH_FLAGS: &[&str] = &[
    "credentials",
    "credential",
    "http_credentials",
    "jwt_secret_key",
    "executor_secret_key",
];

fn resolve_file_value(flag: &str, value: &str) -> Result<String, FlagError> {
    let Some(path) = value.strip_prefix("file://") else {
        return Ok(value.to_string());
    };
    if PATH_FLAGS.contains(&flag) {
        return Ok(path.to_string());
    }
    read_flag_file(flag, Path::new(path))
}

fn read_flag_file(flag: &str, path: &Path) -> Result<String, FlagError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
        .map_err(|e| FlagError::File {
            flag: flag.to_string(),
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_flags_keep_their_path() {
        let args = normalize_args(
            [
                "p",
                "--credentials=file:///etc/mesos/creds",
                "--jwt_secret_key=file:///k",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(args[1], "--credentials=/etc/mesos/creds");
        assert_eq!(args[2], "--jwt_secret_key=/k");
    }

    #[test]
    fn durations() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("10secs", Duration::from_secs(10)),
            ("1.5mins", Duration::from_secs(90)),
            ("2hrs", Duration::from_secs(7200)),
            ("1days", Duration::from_secs(86400)),
            ("1weeks", Duration::from_secs(604800)),
            ("250us", Duration::from_micros(250)),
            ("7ns", Duration::from_nanos(7)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for bad in ["", "10", "secs", "10 sec", "-1secs", "1e400secs", "10s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duration_formatting_round_trips() {
        for d in [
            Duration::from_secs(15),
            Duration::from_millis(1500),
            Duration::from_secs(600),
            Duration::from_secs(7 * 86400),
        ] {
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        assert_eq!(format_duration(Duration::from_secs(15)), "15secs");
        assert_eq!(format_duration(Duration::from_secs(120)), "2mins");
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("512MB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1GB"), Ok(1 << 30));
        assert_eq!(parse_bytes("10B"), Ok(10));
        for bad in ["", "1.5GB", "GB", "12", "1PB", "99999999999999TB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn booleans_and_no_prefix() {
        let args = normalize_args(
            [
                "prog",
                "--no-checkpoint",
                "--shell",
                "--port=5050",
                "positional",
                "--no-",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(
            args,
            [
                "prog",
                "--checkpoint=false",
                "--shell",
                "--port=5050",
                "positional",
                "--no-"
            ]
        );
        assert_eq!(parse_bool("true"), Ok(true));
        assert_eq!(parse_bool("false"), Ok(false));
        assert!(parse_bool("yes").is_err());
    }

    #[test]
    fn file_values() {
        let dir = std::env::temp_dir().join(format!("flags-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("zk");
        std::fs::write(&file, "zk://127.0.0.1:2181/mesos\n").unwrap();
        let args = normalize_args(vec![
            "prog".to_string(),
            format!("--zk=file://{}", file.display()),
        ])
        .unwrap();
        assert_eq!(args[1], "--zk=zk://127.0.0.1:2181/mesos");
        let missing = normalize_args(vec![
            "prog".to_string(),
            "--zk=file:///does/not/exist".to_string(),
        ]);
        match missing {
            Err(FlagError::File { flag, .. }) => assert_eq!(flag, "zk"),
            other => panic!("expected a file error, got {other:?}"),
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
