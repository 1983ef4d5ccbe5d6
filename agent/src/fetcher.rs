//! The Mesos fetcher: a task's `CommandInfo.uris` brought into its sandbox before it runs.
//!
//! For each URI: `http://`, `https://` and `file://` URIs and absolute paths are supported
//! (others fail with a message naming the scheme); the file lands in the sandbox under
//! `output_file` or the URI's last path segment; `executable` makes it executable;
//! `extract` unpacks archives (`.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`/`.tbz2`, `.tar.xz`/`.txz`
//! with the system `tar`, `.zip` in process, plain `.gz` with `gzip`) into the sandbox, as
//! Mesos does, keeping the downloaded file. `cache` is accepted and ignored: every fetch
//! downloads again. Every step is logged to the sandbox's stderr by the caller.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// One URI to fetch (the domain form of `CommandInfo.URI`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchUri {
    pub value: String,
    pub executable: bool,
    pub extract: bool,
    pub output_file: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "unsupported URI scheme in '{0}' (http, https, file and absolute paths are supported)"
    )]
    Scheme(String),
    #[error("cannot download '{uri}': {reason}")]
    Download { uri: String, reason: String },
    #[error("cannot copy '{uri}': {reason}")]
    Copy { uri: String, reason: String },
    #[error("'{0}' names no file (give output_file)")]
    NoName(String),
    #[error("cannot extract '{file}': {reason}")]
    Extract { file: String, reason: String },
    #[error("cannot make '{file}' executable: {reason}")]
    Chmod { file: String, reason: String },
}

/// Downloads one HTTP body at most this long.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

impl From<&mesos_proto::v1::command_info::Uri> for FetchUri {
    fn from(u: &mesos_proto::v1::command_info::Uri) -> FetchUri {
        FetchUri {
            value: u.value.clone(),
            executable: u.executable.unwrap_or(false),
            extract: u.extract.unwrap_or(true),
            output_file: u.output_file.clone().filter(|f| !f.is_empty()),
        }
    }
}

/// Fetches every URI into `sandbox`, in order; stops at the first failure.
pub async fn fetch_all(uris: &[FetchUri], sandbox: &Path) -> Result<Vec<PathBuf>, FetchError> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(DOWNLOAD_TIMEOUT)
        .build()
        .map_err(|e| FetchError::Download {
            uri: String::new(),
            reason: e.to_string(),
        })?;
    let mut fetched = vec![];
    for uri in uris {
        fetched.push(fetch(&http, uri, sandbox).await?);
    }
    Ok(fetched)
}

async fn fetch(
    http: &reqwest::Client,
    uri: &FetchUri,
    sandbox: &Path,
) -> Result<PathBuf, FetchError> {
    let value = uri.value.trim();
    let name = match &uri.output_file {
        Some(f) => f.clone(),
        None => value
            .split(['?', '#'])
            .next()
            .and_then(|p| p.rsplit('/').next())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| FetchError::NoName(value.to_string()))?
            .to_string(),
    };
    let target = sandbox.join(&name);
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| FetchError::Copy {
                uri: value.to_string(),
                reason: e.to_string(),
            })?;
    }
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        download(http, value, &target).await?;
    } else if let Some(path) = value
        .strip_prefix("file://")
        .or_else(|| value.strip_prefix('/').map(|_| value))
    {
        tokio::fs::copy(path, &target)
            .await
            .map_err(|e| FetchError::Copy {
                uri: value.to_string(),
                reason: e.to_string(),
            })?;
    } else {
        return Err(FetchError::Scheme(value.to_string()));
    }
    if uri.executable {
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
            .await
            .map_err(|e| FetchError::Chmod {
                file: name.clone(),
                reason: e.to_string(),
            })?;
    } else if uri.extract {
        extract(&target, sandbox).await?;
    }
    Ok(target)
}

async fn download(http: &reqwest::Client, uri: &str, target: &Path) -> Result<(), FetchError> {
    let err = |reason: String| FetchError::Download {
        uri: uri.to_string(),
        reason,
    };
    let mut response = http.get(uri).send().await.map_err(|e| err(e.to_string()))?;
    if !response.status().is_success() {
        return Err(err(format!("HTTP status {}", response.status())));
    }
    let mut file = tokio::fs::File::create(target)
        .await
        .map_err(|e| err(e.to_string()))?;
    while let Some(chunk) = response.chunk().await.map_err(|e| err(e.to_string()))? {
        file.write_all(&chunk)
            .await
            .map_err(|e| err(e.to_string()))?;
    }
    file.flush().await.map_err(|e| err(e.to_string()))
}

/// What kind of archive a file name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Archive {
    Tar,
    Zip,
    Gzip,
}

fn archive_kind(name: &str) -> Option<Archive> {
    let n = name.to_ascii_lowercase();
    let tar = [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
    ];
    if tar.iter().any(|ext| n.ends_with(ext)) {
        Some(Archive::Tar)
    } else if n.ends_with(".zip") {
        Some(Archive::Zip)
    } else if n.ends_with(".gz") {
        Some(Archive::Gzip)
    } else {
        None
    }
}

async fn extract(file: &Path, into: &Path) -> Result<(), FetchError> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let err = |reason: String| FetchError::Extract {
        file: name.to_string(),
        reason,
    };
    match archive_kind(name) {
        None => Ok(()),
        Some(Archive::Tar) => {
            let out = tokio::process::Command::new("tar")
                .arg("-C")
                .arg(into)
                .arg("-xf")
                .arg(file)
                .output()
                .await
                .map_err(|e| err(format!("cannot run tar: {e}")))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()))
            }
        }
        Some(Archive::Gzip) => {
            let target = into.join(name.trim_end_matches(".gz").trim_end_matches(".GZ"));
            let out = tokio::process::Command::new("gzip")
                .arg("-dc")
                .arg(file)
                .output()
                .await
                .map_err(|e| err(format!("cannot run gzip: {e}")))?;
            if !out.status.success() {
                return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
            }
            tokio::fs::write(&target, out.stdout)
                .await
                .map_err(|e| err(e.to_string()))
        }
        Some(Archive::Zip) => {
            let file = file.to_path_buf();
            let into = into.to_path_buf();
            tokio::task::spawn_blocking(move || -> Result<(), String> {
                let f = std::fs::File::open(&file).map_err(|e| e.to_string())?;
                let mut zip = zip::ZipArchive::new(f).map_err(|e| e.to_string())?;
                // `extract` refuses entries that would land outside the directory.
                zip.extract(&into).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| err(e.to_string()))?
            .map_err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(value: &str) -> FetchUri {
        FetchUri {
            value: value.to_string(),
            executable: false,
            extract: true,
            output_file: None,
        }
    }

    async fn serve(files: Vec<(&'static str, Vec<u8>)>) -> String {
        use axum::routing::get;
        let mut router = axum::Router::new();
        for (path, body) in files {
            router = router.route(path, get(move || async move { body.clone() }));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    }

    fn tarball(dir: &Path) -> PathBuf {
        let src = dir.join("src");
        std::fs::create_dir_all(src.join("app")).unwrap();
        std::fs::write(src.join("app/hello.txt"), "hi from a tarball").unwrap();
        let out = dir.join("app.tar.gz");
        let ok = std::process::Command::new("tar")
            .arg("-C")
            .arg(&src)
            .arg("-czf")
            .arg(&out)
            .arg("app")
            .status()
            .unwrap();
        assert!(ok.success());
        out
    }

    #[tokio::test]
    async fn http_file_extract_executable_and_output_file() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = std::fs::read(tarball(tmp.path())).unwrap();
        let base = serve(vec![
            ("/app.tar.gz", archive),
            ("/run.sh", b"#!/bin/sh\necho run\n".to_vec()),
        ])
        .await;
        let local = tmp.path().join("local.txt");
        std::fs::write(&local, "a local file").unwrap();
        let sandbox = tmp.path().join("sandbox");
        std::fs::create_dir_all(&sandbox).unwrap();
        let uris = vec![
            uri(&format!("{base}/app.tar.gz")),
            FetchUri {
                executable: true,
                ..uri(&format!("{base}/run.sh"))
            },
            FetchUri {
                output_file: Some("renamed.txt".into()),
                ..uri(&format!("file://{}", local.display()))
            },
        ];
        fetch_all(&uris, &sandbox).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(sandbox.join("app/hello.txt")).unwrap(),
            "hi from a tarball"
        );
        assert!(sandbox.join("app.tar.gz").exists(), "the archive is kept");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sandbox.join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111);
        assert_eq!(
            std::fs::read_to_string(sandbox.join("renamed.txt")).unwrap(),
            "a local file"
        );
    }

    #[tokio::test]
    async fn zip_and_gzip_are_unpacked() {
        let tmp = tempfile::tempdir().unwrap();
        let sandbox = tmp.path().join("sandbox");
        std::fs::create_dir_all(&sandbox).unwrap();
        let zip_path = tmp.path().join("bundle.zip");
        {
            let f = std::fs::File::create(&zip_path).unwrap();
            let mut z = zip::ZipWriter::new(f);
            z.start_file("inner/z.txt", zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut z, b"zipped").unwrap();
            z.finish().unwrap();
        }
        let gz = tmp.path().join("note.txt.gz");
        std::fs::write(tmp.path().join("note.txt"), "gzipped").unwrap();
        assert!(std::process::Command::new("gzip")
            .arg("-k")
            .arg(tmp.path().join("note.txt"))
            .status()
            .unwrap()
            .success());
        fetch_all(
            &[uri(zip_path.to_str().unwrap()), uri(gz.to_str().unwrap())],
            &sandbox,
        )
        .await
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(sandbox.join("inner/z.txt")).unwrap(),
            "zipped"
        );
        assert_eq!(
            std::fs::read_to_string(sandbox.join("note.txt")).unwrap(),
            "gzipped"
        );
    }

    #[tokio::test]
    async fn failures_name_what_failed() {
        let tmp = tempfile::tempdir().unwrap();
        let base = serve(vec![]).await;
        let e = fetch_all(&[uri(&format!("{base}/missing.tgz"))], tmp.path())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("404"), "{e}");
        let e = fetch_all(&[uri("hdfs://nn/x")], tmp.path())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("unsupported URI scheme"), "{e}");
        let e = fetch_all(&[uri("/no/such/file")], tmp.path())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("/no/such/file"), "{e}");
        std::fs::write(tmp.path().join("broken.tgz"), "not an archive").unwrap();
        let e = fetch_all(
            &[FetchUri {
                output_file: Some("copy.tgz".into()),
                ..uri(&format!("file://{}/broken.tgz", tmp.path().display()))
            }],
            tmp.path(),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("cannot extract 'copy.tgz'"), "{e}");
    }
}
