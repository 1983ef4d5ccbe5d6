//! The `/files` endpoints' file access, confined to the sandboxes under `<work_dir>/slaves`.
//!
//! A requested path is resolved (symlinks included) and must then lie inside the
//! canonical sandboxes root: `..` tricks and links pointing elsewhere resolve to paths
//! outside it and are refused like missing files.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::json;

/// Most bytes one `/files/read` returns (Mesos: 16 pages).
pub const MAX_READ_LENGTH: u64 = 16 * 4096;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FilesError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Internal(String),
}

/// Resolves `requested` to a path inside `root` (the sandboxes root).
pub fn confine(root: &Path, requested: &str) -> Result<PathBuf, FilesError> {
    if requested.is_empty() {
        return Err(FilesError::BadRequest(
            "Expecting 'path=value' in query".into(),
        ));
    }
    let requested_path = Path::new(requested);
    if !requested_path.is_absolute() {
        return Err(FilesError::BadRequest(format!(
            "Path '{requested}' must be absolute"
        )));
    }
    let not_found = || FilesError::NotFound(format!("No such file or directory: '{requested}'"));
    let root = root.canonicalize().map_err(|_| not_found())?;
    let resolved = requested_path.canonicalize().map_err(|_| not_found())?;
    if resolved.starts_with(&root) {
        Ok(resolved)
    } else {
        Err(not_found())
    }
}

/// One entry of `/files/browse`, as Mesos describes files; `shown` is the path as the
/// client named it (under the directory it asked for), `path` where it really is.
pub fn file_info(shown: &str, path: &Path) -> std::io::Result<serde_json::Value> {
    let meta = std::fs::symlink_metadata(path)?;
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(meta.uid()))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| meta.uid().to_string());
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(meta.gid()))
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| meta.gid().to_string());
    Ok(json!({
        "path": shown,
        "mode": mode_string(meta.mode()),
        "nlink": meta.nlink(),
        "uid": user,
        "gid": group,
        "size": meta.size(),
        "mtime": meta.mtime(),
    }))
}

/// `ls -l` style mode (`drwxr-xr-x`).
pub fn mode_string(mode: u32) -> String {
    let kind = match mode & libc::S_IFMT {
        libc::S_IFDIR => 'd',
        libc::S_IFLNK => 'l',
        libc::S_IFCHR => 'c',
        libc::S_IFBLK => 'b',
        libc::S_IFIFO => 'p',
        libc::S_IFSOCK => 's',
        _ => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// `/files/browse`: the entries of a directory (sorted by name), or the file itself.
pub fn browse(root: &Path, requested: &str) -> Result<serde_json::Value, FilesError> {
    let path = confine(root, requested)?;
    let internal = |e: std::io::Error| FilesError::Internal(e.to_string());
    if !path.is_dir() {
        return Ok(json!([file_info(requested, &path).map_err(internal)?]));
    }
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .map_err(internal)?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let base = requested.trim_end_matches('/');
    let infos: Vec<serde_json::Value> = names
        .iter()
        .filter_map(|name| file_info(&format!("{base}/{name}"), &path.join(name)).ok())
        .collect();
    Ok(serde_json::Value::Array(infos))
}

/// `/files/read`: up to `length` bytes from `offset`; an offset of -1 (or none) asks only
/// for the size.
pub fn read(
    root: &Path,
    requested: &str,
    offset: Option<i64>,
    length: Option<i64>,
) -> Result<serde_json::Value, FilesError> {
    let path = confine(root, requested)?;
    if path.is_dir() {
        return Err(FilesError::BadRequest("Cannot read a directory".into()));
    }
    let internal = |e: std::io::Error| FilesError::Internal(e.to_string());
    let mut file = std::fs::File::open(&path).map_err(internal)?;
    let size = file.metadata().map_err(internal)?.len();
    let offset = offset.unwrap_or(-1);
    if offset == -1 {
        return Ok(json!({"data": "", "offset": size}));
    }
    let offset = u64::try_from(offset)
        .map_err(|_| FilesError::BadRequest(format!("Negative offset provided: {offset}")))?;
    let length = match length {
        None | Some(-1) => MAX_READ_LENGTH,
        Some(n) if n < 0 => {
            return Err(FilesError::BadRequest(format!(
                "Negative length provided: {n}"
            )))
        }
        Some(n) => (n as u64).min(MAX_READ_LENGTH),
    };
    if offset >= size {
        return Ok(json!({"data": "", "offset": offset}));
    }
    file.seek(SeekFrom::Start(offset)).map_err(internal)?;
    let mut data = Vec::new();
    file.take(length).read_to_end(&mut data).map_err(internal)?;
    Ok(json!({"data": String::from_utf8_lossy(&data), "offset": offset}))
}

/// `/files/download`: the path of a regular file to send whole.
pub fn download(root: &Path, requested: &str) -> Result<PathBuf, FilesError> {
    let path = confine(root, requested)?;
    if path.is_dir() {
        return Err(FilesError::BadRequest("Cannot download a directory".into()));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
        sandbox: PathBuf,
        outside: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("work/slaves");
        let sandbox = root.join("A/frameworks/F/executors/E/runs/C");
        std::fs::create_dir_all(&sandbox).unwrap();
        std::fs::write(sandbox.join("stdout"), "hello world\n").unwrap();
        std::fs::write(sandbox.join("stderr"), "").unwrap();
        let outside = dir.path().join("secret");
        std::fs::write(&outside, "top secret").unwrap();
        std::os::unix::fs::symlink(&outside, sandbox.join("escape")).unwrap();
        std::os::unix::fs::symlink("C", sandbox.parent().unwrap().join("latest")).unwrap();
        Fixture {
            _dir: dir,
            root,
            sandbox,
            outside,
        }
    }

    #[test]
    fn paths_are_confined_to_sandboxes() {
        let f = fixture();
        let inside = f.sandbox.join("stdout");
        assert_eq!(
            confine(&f.root, inside.to_str().unwrap()),
            Ok(inside.canonicalize().unwrap())
        );
        let via_latest = f.sandbox.parent().unwrap().join("latest/stdout");
        assert!(confine(&f.root, via_latest.to_str().unwrap()).is_ok());

        let dotdot = format!("{}/../../../../../../../secret", f.sandbox.display());
        let escapes = [
            f.outside.display().to_string(),
            dotdot,
            f.sandbox.join("escape").display().to_string(),
            "/etc/passwd".to_string(),
            f.root.join("../..").display().to_string(),
        ];
        for path in escapes {
            assert!(
                matches!(confine(&f.root, &path), Err(FilesError::NotFound(_))),
                "{path} must be refused"
            );
        }
        assert!(matches!(
            confine(&f.root, "relative/stdout"),
            Err(FilesError::BadRequest(_))
        ));
        assert!(matches!(
            confine(&f.root, ""),
            Err(FilesError::BadRequest(_))
        ));
        assert!(matches!(
            confine(&f.root, f.sandbox.join("missing").to_str().unwrap()),
            Err(FilesError::NotFound(_))
        ));
    }

    #[test]
    fn read_returns_data_and_offsets() {
        let f = fixture();
        let stdout = f.sandbox.join("stdout");
        let path = stdout.to_str().unwrap();
        assert_eq!(
            read(&f.root, path, Some(-1), None).unwrap(),
            json!({"data": "", "offset": 12})
        );
        assert_eq!(
            read(&f.root, path, None, None).unwrap(),
            json!({"data": "", "offset": 12})
        );
        assert_eq!(
            read(&f.root, path, Some(0), None).unwrap(),
            json!({"data": "hello world\n", "offset": 0})
        );
        assert_eq!(
            read(&f.root, path, Some(6), Some(5)).unwrap(),
            json!({"data": "world", "offset": 6})
        );
        assert_eq!(
            read(&f.root, path, Some(100), Some(5)).unwrap(),
            json!({"data": "", "offset": 100})
        );
        assert!(matches!(
            read(&f.root, path, Some(-5), None),
            Err(FilesError::BadRequest(_))
        ));
        assert!(matches!(
            read(&f.root, f.sandbox.to_str().unwrap(), Some(0), None),
            Err(FilesError::BadRequest(_))
        ));
        assert!(read(
            &f.root,
            f.sandbox.join("escape").to_str().unwrap(),
            Some(0),
            None
        )
        .is_err());
    }

    #[test]
    fn browse_lists_a_directory() {
        let f = fixture();
        let listing = browse(&f.root, f.sandbox.to_str().unwrap()).unwrap();
        let entries = listing.as_array().unwrap();
        let names: Vec<&str> = entries
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = ["escape", "stderr", "stdout"]
            .iter()
            .map(|n| f.sandbox.join(n).display().to_string())
            .collect();
        assert_eq!(names, expected);
        let stdout = &entries[2];
        assert_eq!(stdout["size"], 12);
        assert!(stdout["mode"].as_str().unwrap().starts_with("-rw"));
        assert_eq!(
            entries[0]["mode"].as_str().unwrap().chars().next(),
            Some('l')
        );
        for key in ["nlink", "uid", "gid", "mtime"] {
            assert!(stdout.get(key).is_some(), "{key}");
        }
        let single = browse(&f.root, f.sandbox.join("stdout").to_str().unwrap()).unwrap();
        assert_eq!(single.as_array().unwrap().len(), 1);
        assert_eq!(mode_string(0o40755), "drwxr-xr-x");
    }
}
